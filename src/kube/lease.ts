// Leader election with a coordination.k8s.io Lease, so that of all secretwire replicas exactly one reconciles
// (every replica serves admissions). It follows client-go's tools/leaderelection: a candidate takes the Lease
// when it is free or when its holder has not renewed it for leaseDuration as observed on this replica's own clock
// (no trust in other machines' clocks), every write carries the resourceVersion read (two candidates cannot both
// win), and a leader that cannot renew within renewDeadline stops acting before anyone else may start.
// (@kubernetes/client-node has no leader election; the npm packages that add one are single-maintainer
// projects with few users, so the algorithm is written here, small and tested against the real API server.)
import { ApiException, CoordinationV1Api, V1MicroTime, type KubeConfig, type V1Lease } from '@kubernetes/client-node'
import type { Logger } from 'pino'
import { abortable } from './client.ts'
import { apiClient } from './connections.ts'

export interface LeaderOptions {
  readonly namespace: string
  readonly name: string
  /** Who this replica is (its Pod name in a cluster). */
  readonly identity: string
  readonly leaseDurationMs?: number
  readonly renewDeadlineMs?: number
  readonly retryPeriodMs?: number
}

export interface Leadership {
  /** True while this replica may act. */
  readonly leading: boolean
  /** Stops competing; a leader gives the Lease up so another replica takes over at once. */
  stop(): Promise<void>
}

export function electLeader(kc: KubeConfig, opts: LeaderOptions, log: Logger,
  callbacks: { started(): void, stopped(): void }): Leadership {
  const api = apiClient(kc, CoordinationV1Api)
  const leaseDurationMs = opts.leaseDurationMs ?? 15_000
  const renewDeadlineMs = opts.renewDeadlineMs ?? 10_000
  const retryPeriodMs = opts.retryPeriodMs ?? 2_000
  let leading = false
  let stopped = false
  let lastRenewed = 0
  // What the Lease looked like when this replica last saw it change, and when (on this replica's clock).
  let observed: { holder: string, renewTime: string } | undefined
  let observedAt = 0
  let timer: NodeJS.Timeout | undefined
  // The round in flight, so stop() can wait for it: a renewal that lands after the release would take the Lease
  // back, and one that resolves after stop() would set leading again.
  let current: Promise<void> = Promise.resolve()
  // Every call has a deadline (an API server that does not answer must not hold a round, or stop(), forever), and
  // stop() cuts the round in flight short: a stopping replica has nothing left to win.
  const stopping = new AbortController()
  const bounded = () => abortable(AbortSignal.any([stopping.signal, AbortSignal.timeout(renewDeadlineMs)]))

  const setLeading = (value: boolean) => {
    if (value === leading) return
    leading = value
    log.info({ identity: opts.identity, lease: `${opts.namespace}/${opts.name}` }, value ? 'leading: this replica reconciles' : 'no longer leading')
    if (value) callbacks.started()
    else callbacks.stopped()
  }

  const now = () => new V1MicroTime(new Date())
  const spec = (lease: V1Lease | undefined, transitions: number) => ({
    holderIdentity: opts.identity,
    leaseDurationSeconds: Math.ceil(leaseDurationMs / 1000),
    acquireTime: lease?.spec?.holderIdentity === opts.identity ? lease.spec.acquireTime : now(),
    renewTime: now(),
    leaseTransitions: transitions,
  })

  async function tryAcquireOrRenew(): Promise<boolean> {
    let lease: V1Lease | undefined
    try {
      lease = await api.readNamespacedLease({ namespace: opts.namespace, name: opts.name }, bounded())
    } catch (err) {
      if (!(err instanceof ApiException && err.code === 404)) throw err
    }
    if (lease === undefined) {
      await api.createNamespacedLease({ namespace: opts.namespace, body: { metadata: { name: opts.name }, spec: spec(undefined, 0) } }, bounded())
      return true
    }
    const holder = lease.spec?.holderIdentity ?? ''
    const record = { holder, renewTime: String(lease.spec?.renewTime?.toISOString?.() ?? lease.spec?.renewTime ?? '') }
    if (observed === undefined || observed.holder !== record.holder || observed.renewTime !== record.renewTime) {
      observed = record
      observedAt = Date.now()
    }
    const held = holder !== '' && holder !== opts.identity && observedAt + leaseDurationMs > Date.now()
    if (held) return false
    const transitions = (lease.spec?.leaseTransitions ?? 0) + (holder === opts.identity ? 0 : 1)
    // The resourceVersion read makes this a compare-and-swap: a concurrent writer gets 409.
    await api.replaceNamespacedLease({ namespace: opts.namespace, name: opts.name, body: { metadata: lease.metadata, spec: spec(lease, transitions) } }, bounded())
    return true
  }

  async function round(): Promise<void> {
    try {
      const won = await tryAcquireOrRenew()
      if (stopped) return
      if (won) {
        lastRenewed = Date.now()
        setLeading(true)
      } else {
        setLeading(false)
      }
    } catch (err) {
      if (stopped) return // cut short by stop(), which takes it from here
      if (!(err instanceof ApiException && err.code === 409)) {
        log.warn({ err: (err as Error).message }, 'leader election: the Lease could not be read or written')
      }
      // A leader that cannot renew stops acting before its Lease can expire for the others.
      if (leading && Date.now() - lastRenewed > renewDeadlineMs) setLeading(false)
    }
    if (!stopped) timer = setTimeout(() => { current = round() }, retryPeriodMs)
  }
  current = round()

  return {
    get leading() { return leading },
    async stop() {
      stopped = true
      clearTimeout(timer)
      stopping.abort()
      await current
      setLeading(false)
      // Even a replica that was not leading may have taken the Lease in the round that was in flight (a write the
      // server applied before the abort). Released: holderIdentity empty, so a standby takes over at once.
      const release = abortable(AbortSignal.timeout(renewDeadlineMs))
      try {
        const lease = await api.readNamespacedLease({ namespace: opts.namespace, name: opts.name }, release)
        if (lease.spec?.holderIdentity === opts.identity) {
          await api.replaceNamespacedLease({ namespace: opts.namespace, name: opts.name, body: { metadata: lease.metadata, spec: { ...lease.spec, holderIdentity: '' } } }, release)
        }
      } catch (err) {
        if (err instanceof ApiException && err.code === 404) return
        log.warn({ err: (err as Error).message }, 'leader election: could not release the Lease')
      }
    },
  }
}
