// Room: src/reconcile/loop.ts
// The reconciler's schedule, on a control plane of this file's own (its rounds act on every consumer in the
// cluster, so never on the run's shared one). A replica can win the Lease before its watches have listed: one
// read of the Lease against a list of every consumer Pod in the cluster. Its first calls then find nothing to act
// on; it must keep calling and start its rounds once the watches are synced. (It did not: a call that skipped
// ended before it was recorded as running, so every later call returned that settled call and nothing was
// scheduled again. Kept API connections, by winning the Lease sooner, made test/e2e/reconcile.test.ts fail on it.)
//
// The informers' `synced` is held false for a while here, standing in for a slow first list: the real API server
// cannot be made to list slowly on cue. Everything else is real: the Lease, the watches, the informers.
import { Writable } from 'node:stream'
import pino from 'pino'
import t from 'tap'
import { loadConfig } from '../../src/config/settings.ts'
import { CachedStore, startInformers, type Informers } from '../../src/kube/cache.ts'
import { KubeObjectStore } from '../../src/kube/client.ts'
import { createMetrics } from '../../src/observe/metrics.ts'
import { eventRecorder } from '../../src/observe/events.ts'
import { startReconciler } from '../../src/reconcile/loop.ts'
import { freshNamespace, ownControlPlane } from '../helpers/cluster.ts'

t.test('a leader whose watches are not yet synced starts reconciling once they are', async (t) => {
  const kc = (await ownControlPlane()).kubeConfig()
  const leases = await freshNamespace(t, kc, 'leases')
  const config = loadConfig({ SECRETWIRE_RECONCILE_INTERVAL_SECONDS: '1', SECRETWIRE_LEASE_NAMESPACE: leases })
  const lines: { msg?: string }[] = []
  const log = pino({ level: 'debug' }, new Writable({ write(chunk: Buffer, _enc, done) { lines.push(JSON.parse(chunk.toString()) as { msg?: string }); done() } }))
  const rounds = () => lines.filter((l) => l.msg === 'reconcile').length

  const real = await startInformers(kc, config.storageNamespace, log)
  t.teardown(() => real.stop())
  let listed = false
  const informers: Informers = new Proxy(real, { get: (target, key, receiver) => key === 'synced' ? listed && target.synced : Reflect.get(target, key, receiver) as unknown })
  const kube = new KubeObjectStore(kc)
  const metrics = createMetrics()
  const lastRound = async () => (await metrics.registry.getSingleMetric('secretwire_reconciler_last_round_timestamp_seconds')!.get()).values[0]?.value ?? 0
  const reconciler = startReconciler({
    kc, config, informers, kube, store: new CachedStore(informers, kube), metrics, log, events: eventRecorder(kc, 'test', log),
  }, leases)
  t.teardown(() => reconciler.stop())

  const until = async (what: string, probe: () => boolean, timeoutMs = 20_000) => {
    const deadline = Date.now() + timeoutMs
    while (!probe()) {
      if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`)
      await new Promise((r) => setTimeout(r, 50))
    }
  }
  await until('it leads', () => reconciler.leading)
  // Three reconcile intervals with the informers not synced.
  await new Promise((r) => setTimeout(r, 3000))
  t.equal(rounds(), 0, 'no round while the informers have not listed')
  t.equal(await lastRound(), 0, 'secretwire_reconciler_last_round_timestamp_seconds: none yet')
  const opened = Date.now() / 1000
  listed = true
  await until('a round once they have', () => rounds() > 0)
  t.pass('a round once they have')
  const after = rounds()
  await until('another round an interval later', () => rounds() > after)
  t.pass('and rounds every interval after that')
  const last = await lastRound()
  t.ok(last >= opened && last <= Date.now() / 1000, `secretwire_reconciler_last_round_timestamp_seconds: ${last}, since the watches listed`)
})
