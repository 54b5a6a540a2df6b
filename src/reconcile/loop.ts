// The reconciler: what secretwire does between admissions, in the same process. Every replica watches the
// consumers (metadata only, by label: consumers.ts) so any can take over; the one holding the Lease
// secretwire-reconciler (leader.ts) acts: every SECRETWIRE_RECONCILE_INTERVAL_SECONDS, and a second after
// consumers change, it runs the plan
// (plan.ts) and carries it out with the admission's own ensure, deletes what the grace period allows, and tells
// people through Events on the workloads and metrics.
import { hostname } from 'node:os'
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node'
import type { Logger } from 'pino'
import type { Informers } from '../kube/cache.ts'
import type { Config } from '../config/settings.ts'
import { consumerLabel, namedSecretsAnnotation, resourceName, sharedSecretLabel } from '../core/contract.ts'
import { deadline } from '../util/deadline.ts'
import { ensureObjects } from '../kube/ensure.ts'
import type { EventRecorder } from '../observe/events.ts'
import type { KubeObjectStore, ObjectStore } from '../kube/client.ts'
import type { Metrics } from '../observe/metrics.ts'
import { resourcePath, workloadKinds } from '../core/workload.ts'
import { ConsumerIndex, type Consumer } from '../core/consumers.ts'
import { electLeader } from '../kube/lease.ts'
import { eventTargets } from './owners.ts'
import { watchMetadata, type MetaWatch } from '../kube/metawatch.ts'
import { externalSecretKey, reconcilePlan, syncStateOf, type ManagedExternalSecret, type SyncState, type WithConditions } from '../core/reconcileplan.ts'

export const leaseName = 'secretwire-reconciler'
const settleMs = 1_000

export interface ReconcilerDeps {
  readonly kc: KubeConfig
  readonly config: Config
  readonly informers: Informers
  /** For ensure: the watch cache in front of the API, as admissions use it. */
  readonly store: ObjectStore
  /** For deletes. */
  readonly kube: KubeObjectStore
  readonly events: EventRecorder
  readonly metrics: Metrics
  readonly log: Logger
}

export interface Reconciler {
  readonly leading: boolean
  /** Runs one reconcile now, if leading (tests; the loop runs on its own). */
  reconcile(): Promise<void>
  stop(): Promise<void>
}

export function startReconciler(deps: ReconcilerDeps, namespace: string): Reconciler {
  const { config, log } = deps
  const index = new ConsumerIndex()
  let timer: NodeJS.Timeout | undefined
  let running: Promise<void> | undefined
  let stopped = false
  let unconsumedSince: ReadonlyMap<string, number> = new Map()
  /** The last state told per namespace/NAME, so an Event is recorded when it changes, not every round. */
  const told = new Map<string, string>()

  const schedule = (ms: number) => {
    clearTimeout(timer)
    if (!stopped) timer = setTimeout(() => void reconcile(), ms)
  }
  const watches: MetaWatch[] = workloadKinds.map((k) => watchMetadata(deps.kc, {
    path: resourcePath(k),
    labelSelector: `${consumerLabel.key}=${consumerLabel.value}`,
    onChange: (meta, deleted) => {
      log.trace({ kind: k.kind, object: `${meta.namespace}/${meta.name}`, deleted }, 'consumer seen')
      index.apply(k.kind, meta, deleted)
      if (leadership.leading) schedule(settleMs)
    },
    onList: (uids) => index.relisted(k.kind, uids),
  }, log))
  const identity = process.env.POD_NAME ?? `${hostname()}-${process.pid}`
  const leadership = electLeader(deps.kc, { namespace, name: leaseName, identity }, log, {
    started: () => { deps.metrics.recordLeading(true); unconsumedSince = new Map(); schedule(0) },
    stopped: () => { deps.metrics.recordLeading(false); clearTimeout(timer) },
  })

  // One call at a time: later calls share the one running. `running` is cleared in a `.finally` handler, which
  // runs only after the assignment below. (Cleared at the end of an async body instead, a call with nothing to do,
  // and so no await, cleared it before it was set; the settled promise then stood for good and nothing was
  // scheduled again: test/reconcile/loop.test.ts.)
  function reconcile(): Promise<void> {
    running ??= once().finally(() => {
      running = undefined
      if (leadership.leading) schedule(config.reconcileIntervalMs)
    })
    return running
  }

  async function once(): Promise<void> {
    try {
      if (leadership.leading && deps.informers.synced && watches.every((w) => w.synced)) {
        await round()
        deps.metrics.recordRound()
      }
    } catch (err) {
      log.error({ err }, 'reconcile failed; retrying')
    }
  }

  async function round(): Promise<void> {
    const consumers = index.byNamespaceAndName()
    const named = index.namedSecrets()
    const externalSecrets = deps.informers.list('ExternalSecret').filter((o) => o.metadata?.namespace !== config.storageNamespace).map(managed)
      .filter((es): es is ManagedExternalSecret => es !== undefined)
    const existing = new Set<string>()
    for (const kind of ['Password', 'PushSecret', 'ExternalSecret'] as const) {
      for (const o of deps.informers.list(kind)) existing.add(`${kind} ${o.metadata?.namespace}/${o.metadata?.name}`)
    }
    const decided = reconcilePlan({ consumers, named, externalSecrets, existing, unconsumedSince, now: Date.now(), graceMs: config.gracePeriodMs, settings: config })
    unconsumedSince = decided.unconsumedSince
    log.debug({ consumers: consumers.size, externalSecrets: externalSecrets.length, ensure: decided.ensure.length, collect: decided.collect.length, waiting: decided.waiting.length }, 'reconcile')

    for (const { key, objects } of decided.ensure) {
      try {
        const outcome = await ensureObjects(objects, deps.store, { dryRun: false, deadline: deadline(config.apiTimeoutMs) })
        for (const o of outcome.created) {
          deps.metrics.recordReconciled('recreated')
          log.info({ object: `${o.kind} ${o.metadata.namespace}/${o.metadata.name}`, consumers: key }, 'reconciler recreated a missing object')
        }
      } catch (err) {
        log.warn({ consumers: key, err: (err as Error).message }, 'reconciler could not ensure the objects of live consumers')
      }
    }
    for (const es of decided.collect) {
      const ref = { kind: 'ExternalSecret' as const, metadata: { namespace: es.namespace, name: nameOf(es) } }
      if (await deps.kube.delete(ref, es.uid, deadline(config.apiTimeoutMs)).catch((err: Error) => {
        log.warn({ object: `${es.namespace}/${nameOf(es)}`, err: err.message }, 'reconciler could not delete')
        return false
      })) {
        deps.metrics.recordReconciled('collected')
        told.delete(externalSecretKey(es))
        log.info({ object: `ExternalSecret ${es.namespace}/${nameOf(es)}`, graceSeconds: config.gracePeriodMs / 1000 },
          'reconciler deleted an ExternalSecret no workload uses any more')
      }
    }
    for (const { key, consumers: refused } of decided.refused) {
      await tell(key, refused, 'Warning', 'SharedSecretNotAllowed', `the secretwire policy does not allow shared secret ${key.split('/')[1]} in this namespace: no Secret is made for it here, and new Pods naming it are refused (or, admitted while secretwire was down, wait for it for good)`)
    }

    const states: Record<SyncState, number> = { synced: 0, pending: 0, failed: 0 }
    for (const es of externalSecrets) {
      states[es.state]++
      const key = externalSecretKey(es)
      const users = (es.entry === undefined ? consumers.get(key) : named.get(key)?.consumers) ?? []
      const name = nameOf(es)
      if (es.state === 'synced') await tell(key, users, 'Normal', 'SharedSecretSynced', `ESO has synced Secret ${name}: Pods naming shared secret ${es.sharedSecret} start with it`, es)
      else if (es.state === 'pending') await tell(key, users, 'Normal', 'SharedSecretWaiting', `waiting for ESO to sync Secret ${name}${es.detail ? `: ${es.detail}` : ''}`, es)
      else await tell(key, users, 'Warning', 'SharedSecretFailed', `ESO failed to sync Secret ${name}: ${es.detail ?? 'no reason given'}; Pods naming shared secret ${es.sharedSecret} cannot start`, es)
    }
    deps.metrics.recordSharedSecrets(states)
  }

  /**
   * An Event on each consumer workload (not on each Pod: their workload stands for them; owners.ts) and on the
   * ExternalSecret, once per new state.
   */
  async function tell(key: string, consumers: readonly Consumer[], type: 'Normal' | 'Warning', reason: string, note: string, es?: ManagedExternalSecret): Promise<void> {
    const state = `${reason} ${note}`
    if (told.get(key) === state) return
    told.set(key, state)
    for (const target of await eventTargets(deps.kc, consumers)) await deps.events.record(target, type, reason, 'Reconcile', note)
    if (es !== undefined) {
      await deps.events.record({ apiVersion: 'external-secrets.io/v1', kind: 'ExternalSecret', namespace: es.namespace, name: nameOf(es), uid: es.uid },
        type, reason, 'Reconcile', note)
    }
  }

  return {
    get leading() { return leadership.leading },
    reconcile,
    async stop() {
      stopped = true
      clearTimeout(timer)
      for (const w of watches) w.stop()
      await running
      await leadership.stop()
    },
  }
}

/** A consumer ExternalSecret as the plan needs it: its NAME (and for a named Secret its entry) and ESO's sync state. */
function managed(o: KubernetesObject): ManagedExternalSecret | undefined {
  const sharedSecret = o.metadata?.labels?.[sharedSecretLabel]
  if (sharedSecret === undefined || o.metadata?.namespace === undefined || o.metadata.uid === undefined) return undefined
  const entry = o.metadata.annotations?.[namedSecretsAnnotation]
  return { namespace: o.metadata.namespace, sharedSecret, ...(entry !== undefined && { entry }), uid: o.metadata.uid, ...syncStateOf(o as WithConditions) }
}

/** The ExternalSecret's name, which is its Secret's: secretwire-NAME, or the named Secret (after the entry's =). */
function nameOf(es: ManagedExternalSecret): string {
  return es.entry === undefined ? resourceName(es.sharedSecret) : es.entry.slice(es.entry.indexOf('=') + 1)
}
