// `npm run bench:profile`: where secretwire's CPU goes on the warm path, beside the bare fastify baseline's.
// `secretwire serve` (dist/, the shipped settings: info logging, metrics on, a real local API server with the watch
// cache warm) and then the baseline (bench/baseline.mjs) run under `node --cpu-prof`; autocannon sends each the
// Deployment and the Pod review as `npm run bench` does; each is stopped with SIGTERM (it exits, and Node.js writes
// the profile) and the profile's self time, of the samples taken during the load only, is summed by where the code
// lives (through the bundle's source maps): Node.js internals by module, each package of node_modules, each file of
// secretwire's, the garbage collector. Prints a table of µs per admission for both and their difference (docs/performance.md keeps one) and
// writes the profiles and the JSON beside them. The profiles see the main thread only (`npm run bench` counts all).
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { SourceMap, type SourceMapPayload } from 'node:module'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'
import { CoreV1Api } from '@kubernetes/client-node'
import { baselineServe, call, machine, provenance, secretwireServe, setUp, type Server } from './common.ts'
import { deployment, pod, review } from './reviews.ts'

const seconds = Number(process.env.BENCH_SECONDS ?? 15)
const connections = Number(process.env.BENCH_CONNECTIONS ?? 16)
const log = (line: string) => process.stderr.write(`[bench:profile] ${line}\n`)

const bench = await setUp('profile')
const { cp, dir, cleanup } = bench
const core = cp.kubeConfig().makeApiClient(CoreV1Api)
for (const name of ['eso-secret-storage', 'bench', 'secretwire']) await core.createNamespace({ body: { metadata: { name } } })
const bodies = { deployment: review(deployment('bench', 'grafana-db')), pod: review(pod('bench', 'grafana-db')) }

interface Profiled { readonly requests: number, readonly self: Map<string, number> }

/** Runs one server under the profiler (`start` given the node flags), loads it, stops it and sums its profile's self time by place, in µs. */
async function profiled(name: string, start: (nodeArgs: readonly string[]) => Promise<Server>): Promise<Profiled> {
  const profiles = join(dir, `profiles-${name}`)
  const { port, child, spawnedAt } = await start(['--cpu-prof', `--cpu-prof-dir=${profiles}`])
  // The first admission of each makes the ESO objects (the cold path, not profiled apart); then all is warm.
  for (const body of Object.values(bodies)) await call(port, 'POST', '/mutate', body)
  let requests = 0
  // Only the samples taken while the load ran count (not start-up, the cold path or shutdown): the profile's clock
  // starts with the process, so these are offsets from the spawn, in µs.
  const loadFrom = (Date.now() - spawnedAt) * 1000
  for (const [payload, body] of Object.entries(bodies)) {
    const r = await autocannon({ url: `https://127.0.0.1:${port}/mutate`, method: 'POST', connections, duration: seconds, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
    if (r.errors > 0 || r.non2xx > 0) throw new Error(`${name} / ${payload}: ${r.errors} errors, ${r.non2xx} non-2xx answers`)
    requests += r.requests.total
    log(`${name} / ${payload}: ${r.requests.total} admissions in ${seconds} s`)
  }
  const loadTo = (Date.now() - spawnedAt) * 1000
  child.kill('SIGTERM')
  await new Promise((r) => child.once('exit', r))
  const file = readdirSync(profiles).find((f) => f.endsWith('.cpuprofile'))
  if (file === undefined) throw new Error(`no profile in ${profiles}: did ${name} exit cleanly?`)
  log(`${name}: profile ${join(profiles, file)}`)

  interface Node { id: number, callFrame: { functionName: string, url: string, lineNumber: number, columnNumber: number }, children?: number[] }
  const profile = JSON.parse(readFileSync(join(profiles, file), 'utf8')) as { nodes: Node[], samples: number[], timeDeltas: number[] }
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const self = new Map<string, number>()
  let at = 0
  for (const [i, id] of profile.samples.entries()) {
    at += profile.timeDeltas[i] ?? 0
    if (at < loadFrom || at > loadTo) continue
    const where = place(byId.get(id)!.callFrame)
    self.set(where, (self.get(where) ?? 0) + (profile.timeDeltas[i] ?? 0))
  }
  self.delete('(idle)')
  return { requests, self }
}

/** The source maps of the bundle's files (esbuild writes one beside each), read once. */
const sourceMaps = new Map<string, SourceMap | undefined>()
function original(url: string, line: number, column: number): string {
  if (!url.includes('/dist/') || !url.endsWith('.js')) return url
  if (!sourceMaps.has(url)) {
    const file = `${fileURLToPath(url)}.map`
    sourceMaps.set(url, existsSync(file) ? new SourceMap(JSON.parse(readFileSync(file, 'utf8')) as SourceMapPayload) : undefined)
  }
  const entry = sourceMaps.get(url)?.findEntry(line, column) as { originalSource?: string } | undefined
  return entry?.originalSource ?? url
}

/** Where a frame's code lives, as a person would look for it: the bundle's code by the file it came from. */
function place(frame: { functionName: string, url: string, lineNumber: number, columnNumber: number }): string {
  const { functionName } = frame
  if (frame.url === '') return functionName === '' ? '(anonymous native)' : `(${functionName.replace(/^\(|\)$/g, '')})`
  const url = original(frame.url, frame.lineNumber, frame.columnNumber)
  if (url.startsWith('node:')) return url
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)
  if (nm) return nm[1]!
  const own = /\/(?:src|dist)\/(.+)\.[jt]s$/.exec(url)
  if (own) return `secretwire ${own[1]}`
  return url
}

// SIGTERM right away: the profile is written when the process exits.
const secretwire = await profiled('secretwire', (nodeArgs) => secretwireServe(bench, nodeArgs, { LOG_LEVEL: 'info', SECRETWIRE_SHUTDOWN_DELAY_MS: '0' }))
const baseline = await profiled('baseline', (nodeArgs) => baselineServe(bench, nodeArgs))

const per = (p: Profiled, where: string) => (p.self.get(where) ?? 0) / p.requests
const total = (p: Profiled) => [...p.self.values()].reduce((n, v) => n + v, 0) / p.requests
const places = [...new Set([...secretwire.self.keys(), ...baseline.self.keys()])]
  .sort((a, b) => Math.abs(per(secretwire, b) - per(baseline, b)) - Math.abs(per(secretwire, a) - per(baseline, a)))
const row = (label: string, sw: number, base: number) =>
  `${label.slice(0, 44).padEnd(44)} ${sw.toFixed(1).padStart(10)} ${base.toFixed(1).padStart(10)} ${(sw - base).toFixed(1).padStart(8)}`
const table = [
  `${'where (µs per admission, main thread)'.padEnd(44)} ${'secretwire'.padStart(10)} ${'baseline'.padStart(10)} ${'extra'.padStart(8)}`,
  ...places.slice(0, 25).map((k) => row(k, per(secretwire, k), per(baseline, k))),
  row('all but idle', total(secretwire), total(baseline)),
]
process.stdout.write(`${table.join('\n')}\n`)
const json = join(dir, 'profile.json')
writeFileSync(json, JSON.stringify({
  ...provenance('bench:profile'), machine: machine(), seconds, connections,
  secretwire: { requests: secretwire.requests, self: Object.fromEntries(secretwire.self) },
  baseline: { requests: baseline.requests, self: Object.fromEntries(baseline.self) },
}, null, 2))
log(`summary ${json}`)
await cleanup()
