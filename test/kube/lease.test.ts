// Room: src/kube/lease.ts, src/kube/metawatch.ts
// Leader election through the real API server: of several candidates exactly one leads; a leader that stops
// hands over at once; one that vanishes without a word is replaced once its Lease has expired.
import { CoordinationV1Api, V1MicroTime } from '@kubernetes/client-node'
import pino from 'pino'
import t from 'tap'
import { electLeader } from '../../src/kube/lease.ts'
import { freshNamespace, kubeConfig, ownControlPlane } from '../helpers/cluster.ts'
import { pauseApiServer } from '../helpers/process.ts'

const log = pino({ level: 'silent' })
// Short, so the test is quick; with room for an API server that other test files keep busy.
const timing = { leaseDurationMs: 4000, renewDeadlineMs: 3000, retryPeriodMs: 200 }

async function until(what: string, probe: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

t.test('three candidates: exactly one leads, and a stopped leader hands over', async (t) => {
  const kc = await kubeConfig()
  const namespace = await freshNamespace(t, kc)
  const events: string[] = []
  const candidates = ['a', 'b', 'c'].map((identity) => electLeader(kc, { namespace, name: 'lease', identity, ...timing }, log, {
    started: () => events.push(`${identity} started`), stopped: () => events.push(`${identity} stopped`),
  }))
  t.teardown(() => Promise.all(candidates.map((c) => c.stop())))
  await until('one leads', () => candidates.some((c) => c.leading))
  // Watched for a while: never two at once.
  for (let i = 0; i < 30; i++) {
    t.ok(candidates.filter((c) => c.leading).length <= 1, 'at most one leader') || i
    await new Promise((r) => setTimeout(r, 50))
  }
  const leader = candidates.find((c) => c.leading)!
  const lease = await kc.makeApiClient(CoordinationV1Api).readNamespacedLease({ namespace, name: 'lease' })
  t.equal(lease.spec?.holderIdentity, ['a', 'b', 'c'][candidates.indexOf(leader)], 'the Lease names the leader')
  await leader.stop()
  t.equal(leader.leading, false)
  await until('another takes over', () => candidates.some((c) => c !== leader && c.leading), 5000)
  t.equal(candidates.filter((c) => c.leading).length, 1, 'exactly one again')
})

// A stop() while a round is in flight (here: the very first, which creates the Lease) once left the candidate
// leading after stop() returned, and the Lease held by a replica that was gone, until it expired.
t.test('a candidate stopped while its first round is in flight neither leads nor keeps the Lease', async (t) => {
  const kc = await kubeConfig()
  const namespace = await freshNamespace(t, kc)
  const stoppedEarly = electLeader(kc, { namespace, name: 'lease', identity: 'early', ...timing }, log, { started: () => undefined, stopped: () => undefined })
  await stoppedEarly.stop()
  t.equal(stoppedEarly.leading, false, 'not leading once stop() has returned')
  // And nothing of that round acts later: after several retry periods, still not leading, and the Lease is not
  // held by it (released, or never taken: stop() cuts the round short).
  await new Promise((r) => setTimeout(r, 5 * timing.retryPeriodMs))
  t.equal(stoppedEarly.leading, false, 'still not leading')
  const lease = await kc.makeApiClient(CoordinationV1Api).readNamespacedLease({ namespace, name: 'lease' })
    .catch((err: { code?: number }) => { if (err.code === 404) return undefined; throw err })
  t.not(lease?.spec?.holderIdentity, 'early', `the Lease is not left held by it (${lease === undefined ? 'never created' : 'released'})`)
})

t.test('a leader that vanishes without releasing is replaced once its Lease expires', async (t) => {
  const kc = await kubeConfig()
  const namespace = await freshNamespace(t, kc)
  // The silent one: takes the Lease, then this test stops renewing it without releasing (a crashed replica).
  const api = kc.makeApiClient(CoordinationV1Api)
  await api.createNamespacedLease({
    namespace,
    body: { metadata: { name: 'lease' }, spec: { holderIdentity: 'crashed', leaseDurationSeconds: 2, renewTime: new V1MicroTime(new Date()), acquireTime: new V1MicroTime(new Date()) } },
  })
  const started = Date.now()
  const standby = electLeader(kc, { namespace, name: 'lease', identity: 'standby', ...timing, leaseDurationMs: 2000 }, log, { started: () => undefined, stopped: () => undefined })
  t.teardown(() => standby.stop())
  await new Promise((r) => setTimeout(r, 1000))
  t.equal(standby.leading, false, 'not while the Lease may still be held')
  await until('the standby takes over', () => standby.leading, 5000)
  t.ok(Date.now() - started >= 2000, 'only after the Lease duration, as observed by the standby')
  t.equal((await api.readNamespacedLease({ namespace, name: 'lease' })).spec?.holderIdentity, 'standby')
})

// Shutdown must not wait on an API server that does not answer: `secretwire serve` stops the reconciler on SIGTERM,
// and a stop() waiting on a paused server once held the process until the kubelet killed it. Without the deadline
// this test never ends (tap's timeout fails it); the time it took is reported, not asserted.
t.test('a leader stops while the API server does not answer', async (t) => {
  const cp = await ownControlPlane()
  const kc = cp.kubeConfig()
  const namespace = await freshNamespace(t, kc)
  const leader = electLeader(kc, { namespace, name: 'lease', identity: 'paused', ...timing }, log, { started: () => undefined, stopped: () => undefined })
  t.teardown(() => leader.stop())
  await until('it leads', () => leader.leading)
  await pauseApiServer(t, cp)
  // A round in flight against the paused server: stop() must cut it short and give up the release in time.
  await new Promise((r) => setTimeout(r, 2 * timing.retryPeriodMs))
  const started = Date.now()
  await leader.stop()
  t.equal(leader.leading, false, 'not leading once stop() has returned')
  t.comment(`stop() returned after ${Date.now() - started} ms (renew deadline ${timing.renewDeadlineMs} ms)`)
})
