// `npm run bench`: secretwire's admission cost against the physical limit of its stack, on this machine, and against
// a Go peer.
//
// Three servers run as their own processes over real HTTPS: `secretwire serve` (the production build in dist/,
// talking to a real local API server, watch cache warm), a bare fastify endpoint that only echoes an "allowed"
// AdmissionReview (bench/baseline.mjs), and the Go peer: a controller-runtime webhook doing secretwire's injection
// (tools/go/gopeer, checked here to give the same object). autocannon drives each at a fixed concurrency, then a paced
// client (bench/paced.ts) sends both constant rates of 100 and 1,000 admissions/s, with a Deployment of a few KB (four
// containers) and a Pod. Then: API requests per warm admission (from secretwire's own metrics), the cold path
// (50 concurrent first admissions of a new NAME, counting creates). Memory over time: bench/soak.ts.
import { spawnSync } from 'node:child_process'
import { isDeepStrictEqual } from 'node:util'
import { statSync, writeFileSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import autocannon from 'autocannon'
import { CoreV1Api } from '@kubernetes/client-node'
import jsonpatch from 'fast-json-patch'
import { buildGoPeer } from '../tools/build/builds.ts'
import { apiClient } from '../src/kube/connections.ts'
import { repoRoot } from '../tools/paths.ts'
import { baselineServe, call, cpuSeconds, machine, mainThreadCpuSeconds, memory, provenance, secretwireServe, setUp, startServer, type Server } from './common.ts'
import { paced, type PacedResult } from './paced.ts'
import { deployment, pod, review } from './reviews.ts'

const connections = Number(process.env.BENCH_CONNECTIONS ?? 16)
const seconds = Number(process.env.BENCH_SECONDS ?? 8)
const log = (line: string) => process.stderr.write(`[bench] ${line}\n`)

log(`building dist/ and starting a local control plane (${cpus().length} cores, ${cpus()[0]?.model ?? 'unknown CPU'})`)
const bench = await setUp('bench', 'bench')
const { cp, dir, cleanup } = bench
const core = cp.kubeConfig().makeApiClient(CoreV1Api)
// secretwire: the reconciler's Lease (it runs beside the admissions, as in a cluster).
for (const name of ['eso-secret-storage', 'bench', 'cold', 'secretwire']) await core.createNamespace({ body: { metadata: { name } } })

const status = memory

async function metric(port: number, name: string): Promise<Map<string, number>> {
  const text = (await call(port, 'GET', '/metrics')).text
  const out = new Map<string, number>()
  for (const line of text.split('\n')) if (line.startsWith(name)) out.set(line.slice(0, line.lastIndexOf(' ')), Number(line.slice(line.lastIndexOf(' ') + 1)))
  return out
}
const sum = (m: Map<string, number>, filter = '') => [...m].filter(([k]) => k.includes(filter)).reduce((n, [, v]) => n + v, 0)

const loadedRss: Record<string, number> = {}
interface Run { rps: number, p50: number, p99: number, errors: number, non2xx: number, cpuMicros: number, mainThreadMicros: number }
async function load(server: Server, body: unknown, opts: { amount?: number, duration?: number } = {}): Promise<Run> {
  const pid = server.child.pid!
  const cpuBefore = cpuSeconds(pid), mainBefore = mainThreadCpuSeconds(pid)
  // Resident memory under load: sampled every 500 ms, the highest sample kept.
  const sampler = setInterval(() => { loadedRss[server.name] = Math.max(loadedRss[server.name] ?? 0, status(pid, 'VmRSS')) }, 500)
  const result = await autocannon({
    url: `https://127.0.0.1:${server.port}/mutate`, method: 'POST', connections,
    headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
    ...(opts.amount ? { amount: opts.amount } : { duration: opts.duration ?? seconds }),
  })
  clearInterval(sampler)
  return {
    rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, errors: result.errors, non2xx: result.non2xx,
    cpuMicros: (cpuSeconds(pid) - cpuBefore) * 1e6 / Math.max(1, result.requests.total),
    mainThreadMicros: (mainThreadCpuSeconds(pid) - mainBefore) * 1e6 / Math.max(1, result.requests.total),
  }
}

const secretwire = await secretwireServe(bench)
const baseline = await baselineServe(bench)
const goPeer = await startServer(bench, 'go-peer', await buildGoPeer(), ['-cert-dir', dir], {})
const servers = [secretwire, baseline, goPeer] as const
const swPort = secretwire.port

const bodies = { deployment: review(deployment('bench', 'grafana-db')), pod: review(pod('bench', 'grafana-db')) }
log(`payloads: Deployment review ${JSON.stringify(bodies.deployment).length} bytes, Pod review ${JSON.stringify(bodies.pod).length} bytes`)
// Both wire the payloads, and to the same object: what each adds is compared with the fields Go's typed round trip
// adds as null or empty (creationTimestamp: null, status: {}) left out.
const dropEmpty = (v: unknown): unknown => {
  if (Array.isArray(v)) return v.map(dropEmpty)
  if (typeof v !== 'object' || v === null) return v
  const out = Object.fromEntries(Object.entries(v).map(([k, x]) => [k, dropEmpty(x)]).filter(([, x]) => x !== null && !(typeof x === 'object' && Object.keys(x as object).length === 0)))
  return out
}
for (const [payload, body] of Object.entries(bodies)) {
  const wired = await Promise.all([secretwire, goPeer].map(async (server) => {
    const answer = JSON.parse((await call(server.port, 'POST', '/mutate', body)).text) as { response: { allowed: boolean, patch?: string } }
    if (!answer.response.allowed || answer.response.patch === undefined) throw new Error(`${server.name} did not wire the ${payload}: ${JSON.stringify(answer)}`)
    const ops = JSON.parse(Buffer.from(answer.response.patch, 'base64').toString()) as jsonpatch.Operation[]
    return dropEmpty(jsonpatch.applyPatch(structuredClone(body.request.object), ops).newDocument)
  }))
  if (!isDeepStrictEqual(wired[0], wired[1])) throw new Error(`the Go peer wires the ${payload} otherwise than secretwire:\n${JSON.stringify(wired[0])}\n${JSON.stringify(wired[1])}`)
}
const idleRss = Object.fromEntries(servers.map((s) => [s.name, status(s.child.pid!, 'VmRSS')]))
log('warm-up: 10 s each (objects exist, watch cache filled, JIT warm)')
for (const server of servers) for (const body of Object.values(bodies)) await load(server, body, { duration: 5 })

// What each server spends doing nothing (secretwire: its Lease, the reconciler, the metrics' event-loop monitor),
// taken from the paced runs' CPU below so that they count the admissions alone.
log('idle: 10 s')
const idleFrom = servers.map((s) => [cpuSeconds(s.child.pid!), mainThreadCpuSeconds(s.child.pid!)] as const)
await new Promise((r) => setTimeout(r, 10_000))
const idleCpu = Object.fromEntries(servers.map((s, i) => [s.name, (cpuSeconds(s.child.pid!) - idleFrom[i]![0]) / 10])) as Record<string, number>
const idleMain = Object.fromEntries(servers.map((s, i) => [s.name, (mainThreadCpuSeconds(s.child.pid!) - idleFrom[i]![1]) / 10])) as Record<string, number>

// Rounds with the servers interleaved, so drift in this shared machine hits both alike; the median round counts.
const rounds = Number(process.env.BENCH_ROUNDS ?? 5)
const apiBefore = sum(await metric(swPort, 'secretwire_kube_api_requests_total'))
const admissionsBefore = sum(await metric(swPort, 'secretwire_admissions_total'))
const runs: Record<string, Run[]> = {}
for (let round = 1; round <= rounds; round++) {
  for (const [payload, body] of Object.entries(bodies)) {
    for (const server of servers) {
      log(`round ${round}/${rounds}: ${server.name} / ${payload}: max rate, ${connections} connections, ${seconds} s`)
      ;(runs[`${server.name}/${payload}/max`] ??= []).push(await load(server, body))
    }
  }
}
const medianOf = (list: number[]) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)]!
const median = (list: Run[]) => [...list].sort((a, b) => a.rps - b.rps)[Math.floor(list.length / 2)]!
// Latency at the rates a real cluster sees: constant 100 and 1,000 admissions/s (BENCH_PACED_RATES), sent to
// secretwire and, at the same rate, to the baseline, in interleaved rounds. The baseline at a rate is the floor this
// machine and this client reach without any webhook work: a p99 above it is secretwire's, at it is the machine's.
const pacedRates = (process.env.BENCH_PACED_RATES ?? '100,1000').split(',').map(Number)
const pacedRounds = Number(process.env.BENCH_PACED_ROUNDS ?? 3)
/** A paced round, with the server's CPU per request less its idle CPU over the round. */
type PacedRun = PacedResult & { readonly cpuMicros: number, readonly mainThreadMicros: number }
const results: Record<string, { max: Run, paced: Record<number, PacedRun[]> }> = {}
for (const [payload, body] of Object.entries(bodies)) {
  for (const rate of pacedRates) {
    for (let round = 1; round <= pacedRounds; round++) {
      for (const server of servers) {
        const { name, port } = server
        // A server that just finished a run may still be collecting garbage; let it settle so it does not share
        // the cores with the next measurement.
        await new Promise((r) => setTimeout(r, 1000))
        log(`round ${round}/${pacedRounds}: ${name} / ${payload}: paced at ${rate} req/s`)
        const entry = results[`${name}/${payload}`] ??= { max: median(runs[`${name}/${payload}/max`]!), paced: {} }
        const pid = server.child.pid!
        const [cpuFrom, mainFrom, from] = [cpuSeconds(pid), mainThreadCpuSeconds(pid), performance.now()]
        const result = await paced({ port, body: JSON.stringify(body), rate, seconds, connections })
        const [elapsed, requests] = [(performance.now() - from) / 1000, Math.max(1, result.rps * seconds)]
        ;(entry.paced[rate] ??= []).push({
          ...result,
          cpuMicros: (cpuSeconds(pid) - cpuFrom - idleCpu[name]! * elapsed) * 1e6 / requests,
          mainThreadMicros: (mainThreadCpuSeconds(pid) - mainFrom - idleMain[name]! * elapsed) * 1e6 / requests,
        })
      }
    }
  }
}
const apiAfter = sum(await metric(swPort, 'secretwire_kube_api_requests_total'))
const admissionsAfter = sum(await metric(swPort, 'secretwire_admissions_total'))

const fmt = (n: number, width: number, digits = 2) => n.toFixed(digits).padStart(width)
const rows: string[] = []
for (const payload of Object.keys(bodies)) {
  const sw = results[`secretwire/${payload}`]!, base = results[`baseline/${payload}`]!
  for (const { name } of servers) {
    const r = results[`${name}/${payload}`]!
    const cpu = medianOf(runs[`${name}/${payload}/max`]!.map((run) => run.cpuMicros))
    const main = medianOf(runs[`${name}/${payload}/max`]!.map((run) => run.mainThreadMicros))
    rows.push(`${payload.padEnd(10)} ${name.padEnd(10)} ${'max'.padStart(7)} ${fmt(r.max.rps, 7, 0)} ${fmt(r.max.p50, 8)} ${fmt(r.max.p99, 9)} ${''.padStart(12)} ${''.padStart(9)} ${`${cpu.toFixed(0)} (${main.toFixed(0)})`.padStart(15)} ${(r.max.errors + r.max.non2xx).toString().padStart(6)}`)
    for (const rate of pacedRates) {
      const list = r.paced[rate]!
      const p99s = list.map((h) => h.p99)
      rows.push(`${payload.padEnd(10)} ${name.padEnd(10)} ${fmt(rate, 7, 0)} ${fmt(medianOf(list.map((h) => h.rps)), 7, 0)} ${fmt(medianOf(list.map((h) => h.p50)), 8)} ${fmt(medianOf(p99s), 9)} ${`${Math.min(...p99s).toFixed(1)}–${Math.max(...p99s).toFixed(1)}`.padStart(12)} ${fmt(medianOf(list.map((h) => h.p99FromSend)), 9)} ${`${medianOf(list.map((h) => h.cpuMicros)).toFixed(0)} (${medianOf(list.map((h) => h.mainThreadMicros)).toFixed(0)})`.padStart(15)} ${list.reduce((n, h) => n + h.errors, 0).toString().padStart(6)}`)
    }
  }
  const cpuRatio = medianOf(runs[`baseline/${payload}/max`]!.map((b, i) => b.cpuMicros / runs[`secretwire/${payload}/max`]![i]!.cpuMicros))
  rows.push(`${payload.padEnd(10)} ratio baseline/secretwire CPU per request: ${(cpuRatio * 100).toFixed(1)}% (median of rounds)`)
  // Each round runs the two servers back to back, so a round's ratio sees the same machine; the median of those
  // paired ratios is what drift disturbs least. The ratio of the two medians is printed beside it.
  const paired = runs[`secretwire/${payload}/max`]!.map((r, i) => r.rps / runs[`baseline/${payload}/max`]![i]!.rps)
  rows.push(`${payload.padEnd(10)} ratio secretwire/baseline throughput: ${(medianOf(paired) * 100).toFixed(1)}% (median of paired rounds: ${paired.map((r) => `${(r * 100).toFixed(0)}%`).join(', ')}; ratio of medians ${(sw.max.rps / base.max.rps * 100).toFixed(1)}%)`)
  // /proc counts CPU in 10 ms ticks: below 5,000 requests a round, a tick is more than 2 µs per request.
  for (const rate of pacedRates.filter((r) => r * seconds >= 5000)) {
    const pacedRatio = medianOf(sw.paced[rate]!.map((r, i) => r.cpuMicros / base.paced[rate]![i]!.cpuMicros))
    rows.push(`${payload.padEnd(10)} ratio secretwire/baseline CPU per request paced at ${rate}/s: ${pacedRatio.toFixed(2)}x (median of paired rounds, idle CPU taken out)`)
  }
  const goRatio = medianOf(runs[`secretwire/${payload}/max`]!.map((r, i) => r.cpuMicros / runs[`go-peer/${payload}/max`]![i]!.cpuMicros))
  rows.push(`${payload.padEnd(10)} ratio secretwire/go-peer CPU per request: ${goRatio.toFixed(2)}x (median of paired rounds)`)
}
const peak = Object.fromEntries(servers.map((s) => [s.name, status(s.child.pid!, 'VmHWM')])) as Record<string, number>
const memoryLine = servers.map((s) => `${s.name} ${idleRss[s.name]!.toFixed(0)} / ${loadedRss[s.name]!.toFixed(0)} / ${peak[s.name]!.toFixed(0)} MiB`).join(', ')
const readyLine = servers.map((s) => `${s.name} ${s.readyMs.toFixed(0)} ms`).join(', ')

// secretwire's API clients keep their connections (src/kube/connections.ts); client-node's own make one per call.
log('Kubernetes API reads: 100 with kept connections, 100 with a connection per call')
async function reads(api: CoreV1Api): Promise<{ ms: number, cpuMs: number }> {
  await api.readNamespace({ name: 'bench' })
  const [cpuFrom, from] = [process.cpuUsage(), performance.now()]
  for (let i = 0; i < 100; i++) await api.readNamespace({ name: 'bench' })
  const used = process.cpuUsage(cpuFrom)
  return { ms: (performance.now() - from) / 100, cpuMs: (used.user + used.system) / 1000 / 100 }
}
const apiReads = { kept: await reads(apiClient(cp.kubeConfig(), CoreV1Api)), perCall: await reads(cp.kubeConfig().makeApiClient(CoreV1Api)) }

log('cold path: 50 concurrent first admissions of a new NAME')
const createsBefore = await metric(swPort, 'secretwire_kube_api_requests_total{verb="create"')
const coldName = `cold-${Date.now().toString(36)}`
const coldFrom = performance.now()
const cold = await Promise.all(Array.from({ length: 50 }, async (_, i) => {
  const answer = await call(swPort, 'POST', '/mutate', review(pod('cold', coldName, `cold-${i}`), `cold-${i}`))
  return { ...answer, ms: performance.now() - coldFrom }
}))
const coldMs = cold.map((r) => r.ms).sort((a, b) => a - b)
const coldOk = cold.filter((r) => (JSON.parse(r.text) as { response: { allowed: boolean } }).response.allowed).length
const createsAfter = await metric(swPort, 'secretwire_kube_api_requests_total{verb="create"')
const coldCreates = [...createsAfter].map(([k, v]) => [k.replace('secretwire_kube_api_requests_total', ''), v - (createsBefore.get(k) ?? 0)] as const).filter(([, v]) => v > 0)

/** bench/reconcile.ts in its own process (it needs --expose-gc, and a heap of its own to measure). */
function reconcilerCost(namespaces: number): string {
  const res = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', join(repoRoot, 'bench', 'reconcile.ts'), String(namespaces)], { cwd: repoRoot, encoding: 'utf8' })
  if (res.status !== 0) throw new Error(`bench/reconcile.ts: ${res.stderr}`)
  return res.stdout
}

// The raw numbers, so two runs can be compared field by field.
const jsonOut = process.env.BENCH_JSON ?? join(tmpdir(), 'bench.json')
writeFileSync(jsonOut, JSON.stringify({
  ...provenance('bench'), machine: machine(), connections, seconds, rounds, pacedRates, pacedRounds,
  runs, results, idleCpuSecondsPerSecond: idleCpu, apiReads, peakRssMiB: peak, idleRssMiB: idleRss, loadedRssMiB: loadedRss, readyMs: Object.fromEntries(servers.map((s) => [s.name, s.readyMs])), warm: { apiRequests: apiAfter - apiBefore, admissions: admissionsAfter - admissionsBefore },
  cold: { allowed: coldOk, firstMs: coldMs[0], lastMs: coldMs.at(-1), creates: Object.fromEntries(coldCreates) },
}, null, 2))

console.log(`
secretwire bench — ${cpus().length} cores (${cpus()[0]?.model}), Node.js ${process.version}, ${connections} connections, ${seconds} s per run, median of ${rounds} rounds
latency in ms, client side, same machine. "max": autocannon, ${connections} connections, closed loop. Paced rates: one request every
1/rate s (bench/paced.ts, ${pacedRounds} interleaved rounds of ${seconds} s per rate; p50/p99 are the medians of the rounds, timed from
when each request was due; "p99 range" = lowest–highest round; "from send" = p99 from when the request was written).
CPU = server process, all threads; in brackets its main thread alone (for Node.js the rest is V8's garbage
collection and compiler threads; Go schedules its goroutines on any thread, so its main thread means little). At a
paced rate, less what the server spends idle (below) over the round. At max rate the client never sleeps long, so a
faster server also wakes it less often: waking it is kernel time charged to the server's write (bench:profile's
"(writev)"), which is why max-rate CPU per request is lower, and differs more between servers, than paced.

payload    server        rate   req/s   p50 ms    p99 ms    p99 range from send CPU us/req (main) errors
${rows.join('\n')}

RSS idle after warm-up / highest under load (sampled every 500 ms) / peak (VmHWM): ${memoryLine}
idle CPU (10 s after warm-up, all threads): ${servers.map((sv) => `${sv.name} ${(idleCpu[sv.name]! * 1000).toFixed(1)} ms/s`).join(', ')}
time from spawn to first good answer: ${readyLine} (secretwire's /readyz waits for its watch cache to list)
warm path: ${apiAfter - apiBefore} Kubernetes API requests over ${admissionsAfter - admissionsBefore} admissions (${((apiAfter - apiBefore) / (admissionsAfter - admissionsBefore)).toFixed(4)} per admission)
API reads (GET namespace, one at a time, this process as the client): kept connections ${apiReads.kept.ms.toFixed(2)} ms each, ${apiReads.kept.cpuMs.toFixed(2)} ms client CPU; a connection per call (client-node's makeApiClient) ${apiReads.perCall.ms.toFixed(2)} ms, ${apiReads.perCall.cpuMs.toFixed(2)} ms
cold path: 50 concurrent first admissions of ${coldName}: ${coldOk} allowed, the first answered in ${coldMs[0]!.toFixed(0)} ms and the last in ${coldMs.at(-1)!.toFixed(0)} ms; creates that reached the API server: ${coldCreates.map(([k, v]) => `${k} ${v}`).join(', ')}
logs: ${(statSync(join(dir, 'secretwire.log')).size / 1024).toFixed(0)} KiB of JSON lines written by secretwire (LOG_LEVEL=${process.env.BENCH_LOG_LEVEL ?? 'info'})
memory over a long run: npm run bench:soak (heap after a forced GC; a window of peak RSS cannot tell a leak from a heap growing into its room)
${reconcilerCost(1000)}${reconcilerCost(10_000)}raw numbers: ${jsonOut}`)
await cleanup()
process.exit(0)
