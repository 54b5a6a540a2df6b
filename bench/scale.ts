// `npm run bench:scale`: secretwire in a big cluster. Two populations, made straight through the API (not through
// admissions) in one local control plane: 10 namespaces with 10 shared secrets and 10 consumer ExternalSecrets,
// then 10,000 namespaces with 1,000 shared secrets and 10,000 consumer ExternalSecrets (BENCH_SCALE_NAMESPACES,
// BENCH_SCALE_SECRETS). After each, a fresh `secretwire serve` (the production build) starts, and this measures:
// time from process start to ready (/readyz 200), the bytes and TLS connections it exchanged with the API server
// until then (through a counting loopback proxy, so the figure is what the network carries), its RSS when ready
// and after warm admissions, and the warm admission cost (closed loop, autocannon). The difference between the
// two populations, divided by the objects added, is what one object costs secretwire.
import { spawn } from 'node:child_process'
import { openSync, writeFileSync } from 'node:fs'
import { connect, createServer, type Server } from 'node:net'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import autocannon from 'autocannon'
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node'
import pLimit from 'p-limit'
import { defaultPassword } from '../src/core/contract.ts'
import { consumerExternalSecret, storageObjects, type ManagedObject } from '../src/core/esoobjects.ts'
import { KubeObjectStore } from '../src/kube/client.ts'
import { deadline } from '../src/util/deadline.ts'
import { freePort } from '../tools/cluster/net.ts'
import { repoRoot } from '../tools/paths.ts'
import { call, cpuSeconds, machine, memory, setUp } from './common.ts'
import { pod, review } from './reviews.ts'

const log = (line: string) => process.stderr.write(`[bench:scale] ${line}\n`)
const large = { namespaces: Number(process.env.BENCH_SCALE_NAMESPACES ?? 10_000), secrets: Number(process.env.BENCH_SCALE_SECRETS ?? 1_000) }
const small = { namespaces: 10, secrets: 10 }

const { cp, dir, children, cleanup } = await setUp('bench-scale')
const kc = cp.kubeConfig()
const core = kc.makeApiClient(CoreV1Api)
const store = new KubeObjectStore(kc)

const storage = 'eso-secret-storage'
const s = { storageNamespace: storage, clusterSecretStore: 'eso-cluster-secret-store', strategy: 'generate' as const }
for (const name of [storage, 'secretwire']) await core.createNamespace({ body: { metadata: { name } } })

/** Grows the cluster to `target` (namespaces 0..n-1, secrets 0..m-1, one consumer ExternalSecret per namespace). */
let made = { namespaces: 0, secrets: 0 }
async function populate(target: { namespaces: number, secrets: number }): Promise<number> {
  const limit = pLimit(32)
  const started = performance.now()
  const objects: ManagedObject[] = []
  for (let i = made.secrets; i < target.secrets; i++) objects.push(...storageObjects(`scale-${i}`, defaultPassword, s))
  const namespaces: string[] = []
  for (let i = made.namespaces; i < target.namespaces; i++) {
    namespaces.push(`scale-ns-${i}`)
    objects.push(consumerExternalSecret(`scale-${i % target.secrets}`, `scale-ns-${i}`, s))
  }
  await Promise.all(namespaces.map((name) => limit(() => core.createNamespace({ body: { metadata: { name } } }))))
  let done = 0
  await Promise.all(objects.map((o) => limit(async () => {
    await store.create(o, deadline(60_000))
    if (++done % 2000 === 0) log(`${done}/${objects.length} objects`)
  })))
  made = target
  log(`populated ${namespaces.length} namespaces and ${objects.length} objects in ${((performance.now() - started) / 1000).toFixed(0)} s`)
  return objects.length
}

/** A loopback TCP proxy to the API server that counts what passes, both ways (TLS is passed through untouched). */
async function countingProxy(): Promise<{ port: number, counts: { up: number, down: number, connections: number }, server: Server }> {
  const target = new URL(cp.info.server)
  const counts = { up: 0, down: 0, connections: 0 }
  const server = createServer((client) => {
    counts.connections++
    const upstream = connect(Number(target.port), target.hostname)
    client.on('data', (d) => { counts.up += d.length })
    upstream.on('data', (d) => { counts.down += d.length })
    client.pipe(upstream).pipe(client)
    const end = () => { client.destroy(); upstream.destroy() }
    client.on('error', end).on('close', end)
    upstream.on('error', end).on('close', end)
  })
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res))
  return { port: (server.address() as { port: number }).port, counts, server }
}

interface Measured { namespaces: number, secrets: number, objects: number, readyMs: number, startupBytesUp: number, startupBytesDown: number, startupConnections: number, rssReadyMiB: number, rssWarmMiB: number, hwmMiB: number, warmRps: number, warmP99: number, warmCpuMicros: number, warmApiRequests: number }

async function measure(objects: number): Promise<Measured> {
  const proxy = await countingProxy()
  // secretwire's kubeconfig: the control plane's, sent through the proxy (same certificates: the proxy is TCP).
  const proxied = new KubeConfig()
  proxied.loadFromFile(cp.info.kubeconfig)
  const cluster = proxied.getCurrentCluster()!
  proxied.clusters = proxied.clusters.map((c) => c.name === cluster.name ? { ...c, server: `https://127.0.0.1:${proxy.port}` } : c)
  const kubeconfig = join(dir, `kubeconfig-${made.namespaces}`)
  writeFileSync(kubeconfig, proxied.exportConfig())
  const port = await freePort()
  const out = openSync(join(dir, `secretwire-${made.namespaces}.log`), 'a')
  const started = performance.now()
  const child = spawn(process.execPath, ['dist/cli/main.js', 'serve'], {
    cwd: repoRoot, stdio: ['ignore', out, out],
    env: { PATH: process.env.PATH, HOME: process.env.HOME, KUBECONFIG: kubeconfig, PORT: String(port), TLS_CERT_FILE: join(dir, 'tls.crt'), TLS_KEY_FILE: join(dir, 'tls.key'), SECRETWIRE_STORAGE_NAMESPACE: storage },
  })
  children.push(child)
  for (;;) {
    if ((await call(port, 'GET', '/readyz').catch(() => undefined))?.status === 200) break
    if (child.exitCode !== null) throw new Error(`secretwire exited (${child.exitCode}); log in ${dir}`)
    if (performance.now() - started > 300_000) throw new Error(`secretwire not ready within 300 s; log in ${dir}`)
    await new Promise((r) => setTimeout(r, 20))
  }
  const readyMs = performance.now() - started
  const startup = { ...proxy.counts }
  const rssReadyMiB = memory(child.pid!, 'VmRSS')
  const body = review(pod('scale-ns-0', 'scale-0'))
  const metric = async () => (await call(port, 'GET', '/metrics')).text.split('\n').filter((l) => l.startsWith('secretwire_kube_api_requests_total')).reduce((n, l) => n + Number(l.slice(l.lastIndexOf(' ') + 1)), 0)
  await autocannon({ url: `https://127.0.0.1:${port}/mutate`, method: 'POST', connections: 16, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), duration: 3 })
  const api0 = await metric()
  const cpu0 = cpuSeconds(child.pid!)
  const warm = await autocannon({ url: `https://127.0.0.1:${port}/mutate`, method: 'POST', connections: 16, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), duration: 8 })
  const result: Measured = {
    namespaces: made.namespaces, secrets: made.secrets, objects, readyMs,
    startupBytesUp: startup.up, startupBytesDown: startup.down, startupConnections: startup.connections,
    rssReadyMiB, rssWarmMiB: memory(child.pid!, 'VmRSS'), hwmMiB: memory(child.pid!, 'VmHWM'),
    warmRps: warm.requests.average, warmP99: warm.latency.p99, warmCpuMicros: (cpuSeconds(child.pid!) - cpu0) * 1e6 / Math.max(1, warm.requests.total),
    warmApiRequests: await metric() - api0,
  }
  child.kill('SIGKILL')
  proxy.server.close()
  log(JSON.stringify(result))
  return result
}

let total = await populate(small)
const a = await measure(total)
total += await populate(large)
const b = await measure(total)
await cleanup()

const out = process.env.BENCH_JSON ?? join(tmpdir(), 'bench-scale.json')
writeFileSync(out, JSON.stringify({ machine: machine(), small: a, large: b }, null, 2))
const row = (m: Measured) => `${String(m.namespaces).padStart(10)} ${String(m.secrets).padStart(7)} ${String(m.objects).padStart(8)} ${(m.readyMs / 1000).toFixed(2).padStart(8)} ${(m.startupBytesDown / 1024 / 1024).toFixed(2).padStart(9)} ${(m.startupBytesUp / 1024).toFixed(0).padStart(8)} ${String(m.startupConnections).padStart(5)} ${m.rssReadyMiB.toFixed(1).padStart(9)} ${m.rssWarmMiB.toFixed(1).padStart(9)} ${m.warmRps.toFixed(0).padStart(7)} ${m.warmP99.toFixed(1).padStart(7)} ${m.warmCpuMicros.toFixed(0).padStart(7)} ${String(m.warmApiRequests).padStart(5)}`
console.log(`
secretwire at scale — ${cpus().length} cores (${cpus()[0]?.model}), Node.js ${process.version}; a fresh \`secretwire serve\` per population
objects = managed objects in the cluster (storage namespace + consumer ExternalSecrets); ready = process start to /readyz 200;
MiB down / KiB up / conns = what passed between secretwire and the API server until ready; warm = 8 s closed loop, 16 connections

namespaces secrets  objects  ready s  MiB down   KiB up conns RSS ready  RSS warm   req/s p99 ms  µs/req  API
${row(a)}
${row(b)}

RSS from ${a.namespaces} to ${b.namespaces} namespaces: +${(b.rssWarmMiB - a.rssWarmMiB).toFixed(1)} MiB warm (+${(b.rssReadyMiB - a.rssReadyMiB).toFixed(1)} at ready), ${((b.rssWarmMiB - a.rssWarmMiB) * 1024 / (b.objects - a.objects)).toFixed(2)} KiB per object added
raw numbers: ${out}`)
process.exit(0)
