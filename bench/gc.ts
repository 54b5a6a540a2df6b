// `npm run bench:gc`: what the runtime settings secretwire ships with (NODE_OPTIONS and MALLOC_ARENA_MAX in
// deploy/webhook/deployment.yaml) buy and cost, the measurement behind them. For each setting, in interleaved rounds,
// a fresh `secretwire serve` (dist/, watch cache warm against a local API server) and a fresh baseline
// (bench/baseline.mjs) with it; after a warm-up autocannon sends each the Deployment and the Pod review at its
// maximum rate, as `npm run bench` does. Reported per setting and server: CPU per admission (user + system, all
// threads, /proc) and the highest RSS sampled every 250 ms under load. The medians of the rounds are printed; the
// rounds go to the JSON (BENCH_JSON, default $TMPDIR/bench-gc.json).
import { writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import autocannon from 'autocannon'
import { CoreV1Api } from '@kubernetes/client-node'
import { baselineServe, call, cpuSeconds, machine, median, memory, provenance, secretwireServe, setUp, shippedRuntimeEnv, type Server } from './common.ts'
import { deployment, pod, review } from './reviews.ts'

const seconds = Number(process.env.BENCH_SECONDS ?? 6)
const rounds = Number(process.env.BENCH_ROUNDS ?? 2)
const connections = Number(process.env.BENCH_CONNECTIONS ?? 16)
const log = (line: string) => process.stderr.write(`[bench:gc] ${line}\n`)

const shipped = shippedRuntimeEnv()
const heapLimit = '--max-old-space-size=160'
/** Each setting as the process's environment; undefined leaves a name out. V8's young generation grows to 2 × 16 MiB by default. */
const settings: Record<string, Record<string, string | undefined>> = {
  'V8 and glibc defaults': { NODE_OPTIONS: heapLimit, MALLOC_ARENA_MAX: undefined },
  'young generation 2 × 1 MiB': { NODE_OPTIONS: `${heapLimit} --max-semi-space-size=1`, MALLOC_ARENA_MAX: undefined },
  'young generation 2 × 2 MiB': { NODE_OPTIONS: `${heapLimit} --max-semi-space-size=2`, MALLOC_ARENA_MAX: undefined },
  'young generation 2 × 4 MiB': { NODE_OPTIONS: `${heapLimit} --max-semi-space-size=4`, MALLOC_ARENA_MAX: undefined },
  'young generation 2 × 8 MiB': { NODE_OPTIONS: `${heapLimit} --max-semi-space-size=8`, MALLOC_ARENA_MAX: undefined },
  'young generation 2 × 4 MiB, one V8 worker thread': { NODE_OPTIONS: `${heapLimit} --max-semi-space-size=4 --v8-pool-size=1`, MALLOC_ARENA_MAX: undefined },
  [`shipped: ${shipped.NODE_OPTIONS}${shipped.MALLOC_ARENA_MAX ? `, MALLOC_ARENA_MAX=${shipped.MALLOC_ARENA_MAX}` : ''}`]: { MALLOC_ARENA_MAX: undefined, ...shipped },
}

const bench = await setUp('gc')
const core = bench.cp.kubeConfig().makeApiClient(CoreV1Api)
for (const name of ['eso-secret-storage', 'bench', 'secretwire']) await core.createNamespace({ body: { metadata: { name } } })
const bodies = { deployment: review(deployment('bench', 'grafana-db')), pod: review(pod('bench', 'grafana-db')) }

interface Sample { cpuMicros: number, rssMiB: number }
async function load(server: Server, body: unknown, duration: number): Promise<Sample> {
  const pid = server.child.pid!
  const before = cpuSeconds(pid)
  let rss = 0
  const sampler = setInterval(() => { rss = Math.max(rss, memory(pid, 'VmRSS')) }, 250)
  const r = await autocannon({ url: `https://127.0.0.1:${server.port}/mutate`, method: 'POST', connections, duration, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  clearInterval(sampler)
  if (r.errors > 0 || r.non2xx > 0) throw new Error(`${server.name}: ${r.errors} errors, ${r.non2xx} non-2xx answers`)
  return { cpuMicros: (cpuSeconds(pid) - before) * 1e6 / Math.max(1, r.requests.total), rssMiB: rss }
}

const results: { round: number, setting: string, server: string, review: string, sample: Sample }[] = []
for (let round = 1; round <= rounds; round++) {
  for (const [setting, env] of Object.entries(settings)) {
    log(`round ${round}/${rounds}: ${setting}`)
    const servers = [await secretwireServe(bench, [], env), await baselineServe(bench, [], env)]
    // The first admission of each review makes the ESO objects, and must wire (a denial is a 200 too, and cheaper:
    // measured, it would flatter the setting); then the JIT and the heap settle.
    for (const [name, body] of Object.entries(bodies)) {
      const answer = JSON.parse((await call(servers[0]!.port, 'POST', '/mutate', body)).text) as { response: { allowed: boolean, patch?: string } }
      if (!answer.response.allowed || answer.response.patch === undefined) throw new Error(`secretwire did not wire the ${name} under ${setting}: ${JSON.stringify(answer)}`)
    }
    for (const server of servers) {
      for (const body of Object.values(bodies)) await load(server, body, 3)
      for (const [name, body] of Object.entries(bodies)) results.push({ round, setting, server: server.name, review: name, sample: await load(server, body, seconds) })
    }
    for (const server of servers) {
      server.child.kill('SIGTERM')
      await new Promise((r) => server.child.once('exit', r))
    }
  }
}

const of = (setting: string, server: string, review: string, pick: (s: Sample) => number) =>
  median(results.filter((r) => r.setting === setting && r.server === server && r.review === review).map((r) => pick(r.sample)))
const row = (setting: string, server: string) => {
  const cpu = ['deployment', 'pod'].map((r) => of(setting, server, r, (s) => s.cpuMicros).toFixed(0)).join(' / ')
  const rss = Math.max(...['deployment', 'pod'].map((r) => of(setting, server, r, (s) => s.rssMiB)))
  return `${cpu.padStart(11)} µs ${rss.toFixed(1).padStart(7)} MiB`
}
process.stdout.write(`
CPU per admission (Deployment / Pod, all threads) and RSS under load, medians of ${rounds} rounds of ${seconds} s
${'setting'.padEnd(72)} ${'secretwire'.padStart(26)} ${'baseline'.padStart(26)}
${Object.keys(settings).map((s) => `${s.padEnd(72)} ${row(s, 'secretwire')} ${row(s, 'baseline')}`).join('\n')}
`)
const out = process.env.BENCH_JSON ?? join(tmpdir(), 'bench-gc.json')
writeFileSync(out, JSON.stringify({ ...provenance('bench:gc'), machine: machine(), seconds, rounds, connections, settings, results }, null, 2))
log(`raw numbers: ${out}`)
await bench.cleanup()
process.exit(0)
