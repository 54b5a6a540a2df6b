// `npm run bench:perf`: where secretwire's CPU goes beside the baseline's, as the CPU spends it: Linux perf samples
// a server only while it runs (cpu-clock), kernel and native code included, where bench:profile's `node --cpu-prof`
// samples the main thread by the clock, running or not, and sees native code only as the JavaScript call that
// entered it (its "(writev)" row: the TLS write, the kernel's loopback send and the waking of the client, together).
//
// `secretwire serve` (dist/, shipped settings, info logging, watch cache warm) and the baseline run with
// `--perf-basic-prof` (so perf names the JIT's code). For each review (the Deployment, the Pod) and each load
// (autocannon at max rate; the paced client at 1,000/s), `perf record -e cpu-clock -g` follows one server for
// BENCH_SECONDS, and `perf report` gives, per admission: everything, split by where the code lives (kernel, the node
// binary, JIT code, libc), and a few call trees taken whole (the answer's write and, inside it, the kernel's send and
// the waking of the reader; JSON.parse; the young-generation GC; secretwire's own admission). Needs `perf` (Debian's
// linux-perf) and permission to follow a process (root, or kernel.perf_event_paranoid <= 1).
import { spawn, spawnSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import autocannon from 'autocannon'
import { CoreV1Api } from '@kubernetes/client-node'
import { baselineServe, call, machine, median, provenance, secretwireServe, setUp, type Server } from './common.ts'
import { paced } from './paced.ts'
import { deployment, pod, review } from './reviews.ts'

const seconds = Number(process.env.BENCH_SECONDS ?? 10)
const rounds = Number(process.env.BENCH_ROUNDS ?? 3)
const connections = Number(process.env.BENCH_CONNECTIONS ?? 16)
const log = (line: string) => process.stderr.write(`[bench:perf] ${line}\n`)

if (spawnSync('perf', ['--version']).status !== 0) throw new Error('bench:perf needs Linux perf on PATH (Debian: apt-get install linux-perf)')

const bench = await setUp('perf')
const { cp, dir, cleanup } = bench
const core = cp.kubeConfig().makeApiClient(CoreV1Api)
for (const name of ['eso-secret-storage', 'bench', 'secretwire']) await core.createNamespace({ body: { metadata: { name } } })
const bodies = { deployment: review(deployment('bench', 'grafana-db')), pod: review(pod('bench', 'grafana-db')) }

/** Call trees taken whole (perf's "children" column), by a pattern of the symbol at their root. */
const trees: Record<string, RegExp> = {
  'the answer\'s write (StreamBase::Writev)': /^node::StreamBase::Writev$/,
  '  of which the kernel\'s TCP send': /^tcp_sendmsg$/,
  '    of which waking the reader (sock_def_readable)': /^sock_def_readable$/,
  'JSON.parse': /^v8::internal::Builtin_JsonParse$/,
  'JSON.stringify': /^v8::internal::Builtin_JsonStringify$/,
  'young-generation GC (Heap::Scavenge)': /^v8::internal::Heap::Scavenge$/,
  'secretwire\'s admission (admit, inclusive)': /^JS:\*admit file:.*\/dist\//,
}
/** Where code lives, from perf's dso column. */
const places = (dso: string) => dso === '[kernel.kallsyms]' ? 'kernel' : dso === 'node' ? 'node binary (V8, OpenSSL, libuv, llhttp)'
  : dso.startsWith('[JIT]') ? 'JIT code (JavaScript)' : /^libc[.-]/.test(dso) ? 'libc (malloc, memcpy)' : 'other'

interface Measured { readonly requests: number, readonly micros: Record<string, number> }

function report(file: string, args: string[]): string {
  const res = spawnSync('perf', ['report', '-i', file, '--stdio', '-g', 'none', ...args], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 })
  if (res.status !== 0) throw new Error(`perf report ${file}: ${res.stderr}`)
  return res.stdout
}

/** µs per request of each row, from a recording of `requests` requests. */
function read(file: string, requests: number): Record<string, number> {
  const byDso = report(file, ['--no-children', '--sort', 'dso'])
  const eventNs = Number(/# Event count \(approx\.\): (\d+)/.exec(byDso)?.[1])
  if (!(eventNs > 0)) throw new Error(`perf report ${file}: no event count`)
  const per = (percent: number) => percent / 100 * eventNs / 1000 / requests
  const micros: Record<string, number> = { everything: per(100) }
  for (const m of byDso.matchAll(/^\s+([\d.]+)%\s+(.+?)\s*$/gm)) {
    const place = places(m[2]!)
    micros[place] = (micros[place] ?? 0) + per(Number(m[1]))
  }
  const bySymbol = report(file, ['--children', '--sort', 'sym'])
  for (const [row, pattern] of Object.entries(trees)) {
    let best = 0
    for (const m of bySymbol.matchAll(/^\s+([\d.]+)%\s+[\d.]+%\s+\[.\]\s+(.+?)\s*$/gm)) if (pattern.test(m[2]!)) best = Math.max(best, Number(m[1]))
    micros[row] = per(best)
  }
  return micros
}

async function recorded(server: Server, label: string, load: () => Promise<number>): Promise<Measured> {
  const file = join(dir, `${label}.perf.data`)
  const perf = spawn('perf', ['record', '-q', '-e', 'cpu-clock', '-F', '2999', '-g', '-p', String(server.child.pid), '-o', file], { stdio: 'ignore' })
  await new Promise((r) => setTimeout(r, 500))
  const requests = await load()
  perf.kill('SIGINT')
  await new Promise((r) => perf.once('exit', r))
  log(`${label}: ${requests} admissions, ${file}`)
  return { requests, micros: read(file, requests) }
}

const servers = [
  await secretwireServe(bench, ['--perf-basic-prof'], { LOG_LEVEL: 'info', SECRETWIRE_SHUTDOWN_DELAY_MS: '0' }),
  await baselineServe(bench, ['--perf-basic-prof']),
]
// Warm: the objects exist (secretwire's first admission makes them), the JIT has compiled the path.
for (const server of servers) {
  for (const body of Object.values(bodies)) {
    await call(server.port, 'POST', '/mutate', body)
    await autocannon({ url: `https://127.0.0.1:${server.port}/mutate`, method: 'POST', connections, duration: 3, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  }
}
// Rounds with the servers interleaved, as in npm run bench: this machine's speed drifts, and one recording of each
// can differ by a third for the same work (JSON.parse of the same body). Each row is the median of its rounds.
const recordings: Record<string, Measured[]> = {}
for (let round = 1; round <= rounds; round++) for (const [payload, body] of Object.entries(bodies)) {
  const text = JSON.stringify(body)
  for (const server of servers) {
    ;(recordings[`${server.name}/${payload}/max`] ??= []).push(await recorded(server, `${server.name}-${payload}-max-${round}`, async () => {
      const r = await autocannon({ url: `https://127.0.0.1:${server.port}/mutate`, method: 'POST', connections, duration: seconds, headers: { 'content-type': 'application/json' }, body: text })
      if (r.errors > 0 || r.non2xx > 0) throw new Error(`${server.name} / ${payload}: ${r.errors} errors, ${r.non2xx} non-2xx answers`)
      return r.requests.total
    }))
    ;(recordings[`${server.name}/${payload}/1000`] ??= []).push(await recorded(server, `${server.name}-${payload}-1000-${round}`, async () => {
      const r = await paced({ port: server.port, body: text, rate: 1000, seconds, connections })
      if (r.errors > 0) throw new Error(`${server.name} / ${payload}: ${r.errors} errors at 1,000/s`)
      return Math.round(r.rps * seconds)
    }))
  }
}
const results: Record<string, Measured> = Object.fromEntries(Object.entries(recordings).map(([key, list]) => [key, {
  requests: median(list.map((m) => m.requests)),
  micros: Object.fromEntries([...new Set(list.flatMap((m) => Object.keys(m.micros)))].map((row) => [row, median(list.map((m) => m.micros[row] ?? 0))])),
}]))

const rows = ['everything', ...new Set(Object.values(results).flatMap((r) => Object.keys(r.micros)).filter((k) => k !== 'everything' && !(k in trees))), ...Object.keys(trees)]
const lines: string[] = []
for (const payload of Object.keys(bodies)) {
  for (const load of ['max', '1000']) {
    const sw = results[`secretwire/${payload}/${load}`]!, base = results[`baseline/${payload}/${load}`]!
    lines.push('', `${payload}, ${load === 'max' ? `max rate (${connections} connections)` : 'paced at 1,000/s'}: µs of CPU per admission (medians; secretwire ${sw.requests} admissions a round, baseline ${base.requests})`)
    lines.push(`${'where'.padEnd(52)} ${'secretwire'.padStart(10)} ${'baseline'.padStart(10)} ${'extra'.padStart(8)}`)
    for (const row of rows) {
      const [a, b] = [sw.micros[row] ?? 0, base.micros[row] ?? 0]
      lines.push(`${row.padEnd(52)} ${a.toFixed(1).padStart(10)} ${b.toFixed(1).padStart(10)} ${(a - b).toFixed(1).padStart(8)}`)
    }
  }
}
process.stdout.write(`secretwire bench:perf — ${machine().cores} cores (${machine().model}), Node.js ${process.version}, median of ${rounds} interleaved rounds of ${seconds} s per recording, perf record -e cpu-clock -F 2999 -g
(perf's own sampling slows each server, by up to a third here; compare the two columns, not these figures with bench's)${lines.join('\n')}\n`)
const json = process.env.BENCH_JSON ?? join(dir, 'perf.json')
writeFileSync(json, JSON.stringify({ ...provenance('bench:perf'), machine: machine(), seconds, rounds, connections, results, recordings }, null, 2))
log(`raw numbers: ${json}`)
await cleanup()
process.exit(0)
