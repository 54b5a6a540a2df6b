// `npm run bench:heap`: what secretwire's resident memory is made of, beside the bare fastify baseline's.
//
// Both run as `npm run bench` runs them (dist/, the shipped settings, the watch cache warm against a local API
// server). Their memory is read from /proc (smaps_rollup: file-backed pages, mostly the node binary's code, apart
// from anonymous ones: the V8 heap and native allocations) at idle after a warm-up and under load (autocannon, the
// Deployment and the Pod review, sampled every 500 ms). Then secretwire writes a heap snapshot (SIGUSR2, Node.js's
// --heapsnapshot-signal) and its nodes are summed by what they are: V8's own categories (compiled code, strings,
// arrays, closures) and, for objects, their constructor. Prints the tables and writes the JSON beside the snapshot.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import autocannon from 'autocannon'
import { CoreV1Api } from '@kubernetes/client-node'
import { baselineServe, machine, provenance, secretwireServe, setUp } from './common.ts'
import { deployment, pod, review } from './reviews.ts'

const seconds = Number(process.env.BENCH_SECONDS ?? 15)
const connections = Number(process.env.BENCH_CONNECTIONS ?? 16)
const log = (line: string) => process.stderr.write(`[bench:heap] ${line}\n`)

const bench = await setUp('heap')
const { cp, dir, cleanup } = bench
const core = cp.kubeConfig().makeApiClient(CoreV1Api)
for (const name of ['eso-secret-storage', 'bench', 'secretwire']) await core.createNamespace({ body: { metadata: { name } } })
const bodies = { deployment: review(deployment('bench', 'grafana-db')), pod: review(pod('bench', 'grafana-db')) }
const snapshots = join(dir, 'snapshots')
mkdirSync(snapshots)
const secretwire = await secretwireServe(bench, ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${snapshots}`])
const baseline = await baselineServe(bench)
const servers = { secretwire, baseline }

/** Resident memory in MiB, split into file-backed pages (code of the binary and libraries) and anonymous ones. */
function resident(pid: number): { rss: number, file: number, anon: number } {
  const text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8')
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? Number.NaN) / 1024
  return { rss: kb('Rss'), file: kb('Rss') - kb('Anonymous'), anon: kb('Anonymous') }
}

async function load(port: number, body: unknown, duration: number): Promise<void> {
  const r = await autocannon({ url: `https://127.0.0.1:${port}/mutate`, method: 'POST', connections, duration, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  if (r.errors > 0 || r.non2xx > 0) throw new Error(`${r.errors} errors, ${r.non2xx} non-2xx answers`)
}

// Warm-up: the first admission of each review makes the ESO objects; then the JIT and the heap settle.
for (const { port } of Object.values(servers)) for (const body of Object.values(bodies)) await load(port, body, 5)
await new Promise((r) => setTimeout(r, 2000))
const idle = Object.fromEntries(Object.entries(servers).map(([name, s]) => [name, resident(s.child.pid!)]))
const loaded: Record<string, { rss: number, file: number, anon: number }> = {}
for (const [name, s] of Object.entries(servers)) {
  const sampler = setInterval(() => {
    const now = resident(s.child.pid!)
    if (now.rss > (loaded[name]?.rss ?? 0)) loaded[name] = now
  }, 500)
  for (const body of Object.values(bodies)) await load(s.port, body, seconds)
  clearInterval(sampler)
}

log('heap snapshot of secretwire (SIGUSR2)')
secretwire.child.kill('SIGUSR2')
let file: string | undefined
for (let i = 0; file === undefined; i++) {
  if (i > 600) throw new Error(`no heap snapshot in ${snapshots} after 60 s`)
  await new Promise((r) => setTimeout(r, 100))
  // Node.js writes the file under its final name and closes it when done; the JSON parses only then.
  const found = readdirSync(snapshots).find((f) => f.endsWith('.heapsnapshot'))
  if (found !== undefined) {
    try { JSON.parse(readFileSync(join(snapshots, found), 'utf8')); file = found } catch { /* still being written */ }
  }
}

interface Snapshot { snapshot: { meta: { node_fields: string[], node_types: [string[], ...unknown[]] } }, nodes: number[], strings: string[] }
const snap = JSON.parse(readFileSync(join(snapshots, file), 'utf8')) as Snapshot
const fields = snap.snapshot.meta.node_fields
const types = snap.snapshot.meta.node_types[0]
const [typeAt, nameAt, sizeAt] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f))
const byWhat = new Map<string, number>()
let total = 0
for (let i = 0; i < snap.nodes.length; i += fields.length) {
  const type = types[snap.nodes[i + typeAt!]!]!
  const size = snap.nodes[i + sizeAt!]!
  total += size
  // Objects by constructor; everything else by V8's category (code, string, array of internals, closure...).
  const what = type === 'object' ? snap.strings[snap.nodes[i + nameAt!]!]! : `(${type})`
  byWhat.set(what, (byWhat.get(what) ?? 0) + size)
}
const mib = (n: number) => (n / 1024 / 1024).toFixed(1)
const top = [...byWhat].sort((a, b) => b[1] - a[1]).slice(0, 20)
const memRow = (name: string, m: { rss: number, file: number, anon: number }) => `${name.padEnd(22)} ${m.rss.toFixed(1).padStart(8)} ${m.file.toFixed(1).padStart(12)} ${m.anon.toFixed(1).padStart(10)}`
process.stdout.write(`
resident memory, MiB          RSS  file-backed  anonymous
${Object.entries(idle).map(([n, m]) => memRow(`${n} idle`, m)).join('\n')}
${Object.entries(loaded).map(([n, m]) => memRow(`${n} under load`, m)).join('\n')}

secretwire's V8 heap after the load (snapshot: live objects only): ${mib(total)} MiB
${'what'.padEnd(40)} ${'MiB'.padStart(7)} ${'share'.padStart(6)}
${top.map(([k, v]) => `${k.slice(0, 40).padEnd(40)} ${mib(v).padStart(7)} ${(v / total * 100).toFixed(1).padStart(5)}%`).join('\n')}
`)
const json = join(dir, 'heap.json')
writeFileSync(json, JSON.stringify({ ...provenance('bench:heap'), machine: machine(), seconds, connections, idle, loaded, heapBytes: total, byWhat: Object.fromEntries(top) }, null, 2))
log(`snapshot ${join(snapshots, file)}, summary ${json}`)
await cleanup()
process.exit(0)
