// `npm run bench:soak`: memory over a long run, to tell a leak from a heap still growing into its bounds.
//
// A webhook runs for months; a window of peak RSS (bench/run.ts) cannot tell a leak from V8 growing its heap into
// the room it has. This runs secretwire's own app in this process (the watch cache, the store and admit exactly
// as `secretwire serve` wires them, against a real local API server), sends it SOAK_ADMISSIONS admissions (default
// 1,000,000) through fastify's inject (no sockets: the app's memory, not the network's), and at ten checkpoints
// forces a full garbage collection and records the heap still in use, RSS, and the entries held by the watch cache
// and by the memos. A leak grows the heap after GC with every checkpoint; a bounded cache stops growing once full.
//
// The mix, per 1,000 admissions: 600 Pods and 300 Deployments naming one of 20 known NAMEs across 10 namespaces,
// 80 Deployments naming it under one of 200 env var names (more distinct annotations for the memos), 19 denials
// (an invalid NAME), and 1 Pod naming a NAME never seen before (the cold path: it creates objects, so the watch
// cache legitimately grows, by three objects per new NAME). Run with --expose-gc (the npm script does).
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { writeFileSync } from 'node:fs'
import { CoreV1Api } from '@kubernetes/client-node'
import pino from 'pino'
import { admit } from '../src/server/admit.ts'
import { buildApp } from '../src/server/app.ts'
import { CachedStore, startInformers } from '../src/kube/cache.ts'
import { loadConfig } from '../src/config/settings.ts'
import { KubeObjectStore } from '../src/kube/client.ts'
import { memoEntries } from '../src/util/memo.ts'
import { createMetrics } from '../src/observe/metrics.ts'
import { startControlPlane } from '../tools/cluster/controlplane.ts'
import { prepare } from '../tools/build/needs.ts'
import { deployment, pod, review } from './reviews.ts'
import { provenance } from './common.ts'

const gc = (globalThis as { gc?: () => void }).gc
if (gc === undefined) throw new Error('run with node --expose-gc (npm run bench:soak does)')
const total = Number(process.env.SOAK_ADMISSIONS ?? 1_000_000)
const concurrency = Number(process.env.SOAK_CONCURRENCY ?? 16)
// SOAK_NEW_NAMES=0 takes the cold path out of the mix (its slot becomes a denial): then nothing may grow at all.
const newNames = process.env.SOAK_NEW_NAMES !== '0'
const log = (line: string) => process.stderr.write(`[bench:soak] ${line}\n`)

await prepare(['controlplane'])
const cp = await startControlPlane()
const kc = cp.kubeConfig()
const core = kc.makeApiClient(CoreV1Api)
const namespaces = Array.from({ length: 10 }, (_, i) => `soak-${i}`)
for (const name of ['eso-secret-storage', ...namespaces]) await core.createNamespace({ body: { metadata: { name } } })

const settings = loadConfig({ SECRETWIRE_STORAGE_NAMESPACE: 'eso-secret-storage' })
const logger = pino({ level: 'silent' })
const informers = await startInformers(kc, settings.storageNamespace, logger)
const metrics = createMetrics()
metrics.observeCache(() => informers.size())
const store = new CachedStore(informers, metrics.instrument(new KubeObjectStore(kc)))
const app = buildApp({ logger, metrics, admit: (request) => admit(request, { settings, store }) })
await app.ready()

let fresh = 0
let denied = 0
let failed = 0
function body(i: number): unknown {
  const slot = i % 1000
  const namespace = namespaces[i % namespaces.length]!
  const known = `shared-${i % 20}`
  if (slot < 600) return review(pod(namespace, known, `p-${i}`), `u-${i}`)
  if (slot < 900) return review(deployment(namespace, known), `u-${i}`)
  if (slot < 980) {
    const d = deployment(namespace, known)
    d.spec.template.metadata.annotations['secretwire.io/shared-secret'] = `${known}=VAR_${i % 200}`
    return review(d, `u-${i}`)
  }
  if (slot < 999 || !newNames) return review(pod(namespace, 'Not_A_Name', `d-${i}`), `u-${i}`)
  return review(pod(namespace, `new-${fresh++}`, `n-${i}`), `u-${i}`)
}

interface Checkpoint { admissions: number, seconds: number, heapUsedMiB: number, heapTotalMiB: number, rssMiB: number, externalMiB: number, cached: Record<string, number>, memoEntries: number }
const checkpoints: Checkpoint[] = []
const started = performance.now()
function checkpoint(admissions: number): void {
  gc!()
  gc!()
  const m = process.memoryUsage()
  const mib = (n: number) => n / 1024 / 1024
  const point = {
    admissions, seconds: (performance.now() - started) / 1000, heapUsedMiB: mib(m.heapUsed), heapTotalMiB: mib(m.heapTotal), rssMiB: mib(m.rss), externalMiB: mib(m.external),
    cached: informers.size(), memoEntries: memoEntries(),
  }
  checkpoints.push(point)
  log(`${admissions.toLocaleString('en')} admissions: heap after GC ${point.heapUsedMiB.toFixed(1)} MiB, RSS ${point.rssMiB.toFixed(1)} MiB, cached ${JSON.stringify(point.cached)}, memo entries ${point.memoEntries}`)
}

checkpoint(0)
const step = total / 10
let next = 0
for (let done = 0; done < total; done += step) {
  // `concurrency` workers share the counter, so admissions stay in flight together as under real load.
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < done + step) {
      const i = next++
      const res = await app.inject({ method: 'POST', url: '/mutate', payload: body(i) as object })
      if (res.statusCode !== 200) { failed++; continue }
      if ((res.json() as { response: { allowed: boolean } }).response.allowed === false) denied++
    }
  }))
  checkpoint(done + step)
}
await app.close()
await informers.stop()
await cp.stop()

const first = checkpoints[1]!, last = checkpoints.at(-1)!
const out = process.env.BENCH_JSON ?? join(tmpdir(), 'bench-soak.json')
writeFileSync(out, JSON.stringify({ ...provenance('bench:soak'), runtime: { NODE_OPTIONS: process.env.NODE_OPTIONS, MALLOC_ARENA_MAX: process.env.MALLOC_ARENA_MAX }, machine: { cores: cpus().length, model: cpus()[0]?.model, node: process.version }, total, concurrency, denied, failed, newNames: fresh, checkpoints }, null, 2))
console.log(`
secretwire soak — ${total.toLocaleString('en')} admissions in-process (fastify inject, ${concurrency} in flight), ${cpus().length} cores, Node.js ${process.version}
heap after a forced full GC, at each tenth; cached = managed objects held by the watch cache; memo = entries in the bounded memos

admissions   seconds  heap MiB  RSS MiB  cached objects  memo entries
${checkpoints.map((c) => `${c.admissions.toLocaleString('en').padStart(10)} ${c.seconds.toFixed(0).padStart(9)} ${c.heapUsedMiB.toFixed(1).padStart(9)} ${c.rssMiB.toFixed(1).padStart(8)} ${String(Object.values(c.cached).reduce((a, b) => a + b, 0)).padStart(15)} ${String(c.memoEntries).padStart(13)}`).join('\n')}

denied ${denied.toLocaleString('en')} (expected ${(total * (newNames ? 19 : 20) / 1000).toLocaleString('en')}), failed ${failed}, new NAMEs ${fresh.toLocaleString('en')}
heap after GC from the first tenth to the last: ${(last.heapUsedMiB - first.heapUsedMiB).toFixed(1)} MiB over ${(last.admissions - first.admissions).toLocaleString('en')} admissions,
of which the watch cache grew by ${Object.values(last.cached).reduce((a, b) => a + b, 0) - Object.values(first.cached).reduce((a, b) => a + b, 0)} objects (the new NAMEs' objects)
raw numbers: ${out}`)
process.exit(0)
