// `npm run bench:profile`: where secretwire's CPU goes on the warm path. `secretwire serve` (dist/, the shipped
// settings: info logging, metrics on, a real local API server with the watch cache warm) runs under
// `node --cpu-prof`; autocannon sends it Deployment and Pod reviews as `npm run bench` does; then it is stopped with
// SIGTERM (it exits, and Node.js writes the profile) and the profile's self time is summed by where the code
// lives: Node.js internals by module, each package of node_modules, each file of secretwire's, the garbage
// collector. Prints a table (docs/performance.md keeps one) and writes the profile and the JSON beside it.
import { spawn } from 'node:child_process'
import { openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import autocannon from 'autocannon'
import { CoreV1Api } from '@kubernetes/client-node'
import { freePort } from '../tools/cluster/net.ts'
import { repoRoot } from '../tools/paths.ts'
import { call, machine, setUp } from './common.ts'
import { deployment, pod, review } from './reviews.ts'

const seconds = Number(process.env.BENCH_SECONDS ?? 15)
const connections = Number(process.env.BENCH_CONNECTIONS ?? 16)
const log = (line: string) => process.stderr.write(`[bench:profile] ${line}\n`)

const { cp, dir, children, cleanup } = await setUp('profile')
const core = cp.kubeConfig().makeApiClient(CoreV1Api)
for (const name of ['eso-secret-storage', 'bench', 'secretwire']) await core.createNamespace({ body: { metadata: { name } } })

const port = await freePort()
const profiles = join(dir, 'profiles')
const out = openSync(join(dir, 'secretwire.log'), 'a')
const spawned = Date.now()
const secretwire = spawn(process.execPath, ['--cpu-prof', `--cpu-prof-dir=${profiles}`, 'dist/cli/main.js', 'serve'], {
  cwd: repoRoot, stdio: ['ignore', out, 'inherit'],
  env: { ...process.env, PORT: String(port), KUBECONFIG: cp.info.kubeconfig, TLS_CERT_FILE: join(dir, 'tls.crt'), TLS_KEY_FILE: join(dir, 'tls.key'), LOG_LEVEL: 'info', SECRETWIRE_SHUTDOWN_DELAY_MS: '0' },
})
children.push(secretwire)
for (let i = 0; !(await call(port, 'GET', '/readyz').then((r) => r.status === 200, () => false)); i++) {
  if (i > 300 || secretwire.exitCode !== null) throw new Error('secretwire did not start')
  await new Promise((r) => setTimeout(r, 100))
}
const bodies = { deployment: review(deployment('bench', 'grafana-db')), pod: review(pod('bench', 'grafana-db')) }
// The first admission of each makes the ESO objects (the cold path, not profiled apart); then all is warm.
for (const body of Object.values(bodies)) await call(port, 'POST', '/mutate', body)
let requests = 0
// Only the samples taken while the load ran count (not start-up, the cold path or shutdown): the profile's clock
// starts with the process, so these are offsets from the spawn, in µs.
const loadFrom = (Date.now() - spawned) * 1000
for (const [name, body] of Object.entries(bodies)) {
  const r = await autocannon({ url: `https://127.0.0.1:${port}/mutate`, method: 'POST', connections, duration: seconds, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  if (r.errors > 0 || r.non2xx > 0) throw new Error(`${name}: ${r.errors} errors, ${r.non2xx} non-2xx answers`)
  requests += r.requests.total
  log(`${name}: ${r.requests.total} admissions in ${seconds} s`)
}
const loadTo = (Date.now() - spawned) * 1000
secretwire.kill('SIGTERM')
await new Promise((r) => secretwire.once('exit', r))
const file = readdirSync(profiles).find((f) => f.endsWith('.cpuprofile'))
if (file === undefined) throw new Error(`no profile in ${profiles}: did secretwire exit cleanly?`)

interface Node { id: number, callFrame: { functionName: string, url: string }, children?: number[] }
const profile = JSON.parse(readFileSync(join(profiles, file), 'utf8')) as { nodes: Node[], samples: number[], timeDeltas: number[], startTime: number, endTime: number }

/** Where a frame's code lives, as a person would look for it. */
function place(frame: Node['callFrame']): string {
  const { url, functionName } = frame
  if (url === '') return functionName === '' ? '(anonymous native)' : `(${functionName.replace(/^\(|\)$/g, '')})`
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)
  if (nm) return nm[1]!
  if (url.startsWith('node:')) return url
  const own = /\/dist\/(.+)\.js$/.exec(url)
  if (own) return `secretwire ${own[1]}`
  return url
}
const byId = new Map(profile.nodes.map((n) => [n.id, n]))
const self = new Map<string, number>()
let at = 0
for (const [i, id] of profile.samples.entries()) {
  at += profile.timeDeltas[i] ?? 0
  if (at < loadFrom || at > loadTo) continue
  const where = place(byId.get(id)!.callFrame)
  self.set(where, (self.get(where) ?? 0) + (profile.timeDeltas[i] ?? 0))
}
const busy = [...self].filter(([k]) => k !== '(idle)').reduce((n, [, v]) => n + v, 0)
const rows = [...self].filter(([k]) => k !== '(idle)').sort((a, b) => b[1] - a[1])
const table = [
  `${'where'.padEnd(44)} ${'share'.padStart(6)} ${'µs/admission'.padStart(13)}`,
  ...rows.slice(0, 25).map(([k, v]) => `${k.slice(0, 44).padEnd(44)} ${(v / busy * 100).toFixed(1).padStart(5)}% ${(v / requests).toFixed(1).padStart(13)}`),
  `${'all but idle'.padEnd(44)} ${'100.0%'.padStart(6)} ${(busy / requests).toFixed(1).padStart(13)}`,
]
process.stdout.write(`${table.join('\n')}\n`)
const json = join(dir, 'profile.json')
writeFileSync(json, JSON.stringify({ machine: machine(), seconds, connections, requests, busyMicros: busy, self: Object.fromEntries(rows) }, null, 2))
log(`${requests} admissions profiled; profile ${join(profiles, file)}, summary ${json}`)
await cleanup()
