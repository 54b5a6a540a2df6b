// What every bench script shares: the production build, a control plane and a work directory with a serving
// certificate, processes stopped on exit, HTTPS calls to a local server, and readings of a process from /proc.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, openSync, readFileSync, writeFileSync } from 'node:fs'
import { request } from 'node:https'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseAllDocuments } from 'yaml'
import { selfSigned } from '../src/server/tls.ts'
import { startControlPlane, type ControlPlane } from '../tools/cluster/controlplane.ts'
import { freePort } from '../tools/cluster/net.ts'
import { prepare, type Run } from '../tools/build/needs.ts'
import { pod, review } from './reviews.ts'
import { repoRoot } from '../tools/paths.ts'

export interface Bench {
  readonly cp: ControlPlane
  /** Work directory: tls.crt and tls.key (for 127.0.0.1), and the logs of the processes started. */
  readonly dir: string
  /** Processes to kill at cleanup. */
  readonly children: ChildProcess[]
  cleanup(): Promise<void>
}

/**
 * Builds dist/ (the production build is what is measured) and what the run needs besides (tools/build/needs.ts), and
 * starts a local control plane.
 */
export async function setUp(name: string, run: Run = 'controlplane'): Promise<Bench> {
  const built = spawnSync('npm', ['run', 'build', '--silent'], { cwd: repoRoot, encoding: 'utf8' })
  if (built.status !== 0) throw new Error(`build failed: ${built.stderr}`)
  await prepare([run])
  const cp = await startControlPlane()
  const dir = mkdtempSync(join(tmpdir(), `secretwire-${name}-`))
  const tls = await selfSigned(['127.0.0.1'])
  writeFileSync(join(dir, 'tls.crt'), tls.cert)
  writeFileSync(join(dir, 'tls.key'), tls.key)
  const children: ChildProcess[] = []
  const cleanup = async () => {
    for (const c of children) c.kill('SIGKILL')
    await cp.stop()
  }
  process.once('SIGINT', () => void cleanup().then(() => process.exit(130)))
  // A bench that fails midway exits with its error: its servers go with it (the control plane's launcher stops
  // when this process's end of its stdin closes).
  process.once('exit', () => { for (const c of children) c.kill('SIGKILL') })
  return { cp, dir, children, cleanup }
}

export function machine(): { cores: number, model: string | undefined, node: string } {
  return { cores: cpus().length, model: cpus()[0]?.model, node: process.version }
}

/** One HTTPS request to a server on 127.0.0.1 (its certificate is not checked: it is the bench's own). */
export function call(port: number, method: string, path: string, body?: unknown): Promise<{ status: number, text: string }> {
  return new Promise((res, rej) => {
    const req = request({ host: '127.0.0.1', port, method, path, rejectUnauthorized: false, headers: body ? { 'content-type': 'application/json' } : {} }, (r) => {
      let text = ''
      r.setEncoding('utf8').on('data', (c: string) => { text += c }).on('end', () => res({ status: r.statusCode!, text }))
    })
    req.on('error', rej)
    req.end(body === undefined ? undefined : JSON.stringify(body))
  })
}

/** Resident memory in MiB: VmRSS now, VmHWM the peak. */
export function memory(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  return Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) / 1024
}

/** CPU seconds (user + system, all threads) the process has used: steadier than req/s on a VM whose speed drifts. */
export function cpuSeconds(pid: number): number {
  return statCpu(`/proc/${pid}/stat`)
}

/**
 * CPU seconds of the main thread alone (for Node.js: JavaScript, TLS, parsing; the rest is V8's helper threads,
 * which collect garbage and compile, and libuv's pool).
 */
export function mainThreadCpuSeconds(pid: number): number {
  return statCpu(`/proc/${pid}/task/${pid}/stat`)
}

function statCpu(path: string): number {
  const fields = readFileSync(path, 'utf8').split(') ')[1]!.split(' ')
  return (Number(fields[11]) + Number(fields[12])) / 100
}

/**
 * The runtime settings secretwire's container is shipped with (deploy/webhook/deployment.yaml): NODE_OPTIONS, and
 * MALLOC_ARENA_MAX when set. Both Node.js servers of a bench run with them: measured as it runs.
 */
export function shippedRuntimeEnv(): Record<string, string> {
  const docs = parseAllDocuments(readFileSync(join(repoRoot, 'deploy', 'webhook', 'deployment.yaml'), 'utf8')).map((d) => d.toJS() as { kind?: string })
  const deployment = docs.find((d) => d.kind === 'Deployment') as { spec: { template: { spec: { containers: { env?: { name: string, value?: string }[] }[] } } } } | undefined
  const env = deployment?.spec.template.spec.containers[0]?.env ?? []
  const out: Record<string, string> = {}
  for (const name of ['NODE_OPTIONS', 'MALLOC_ARENA_MAX']) {
    const value = env.find((e) => e.name === name)?.value
    if (value !== undefined) out[name] = value
  }
  if (out.NODE_OPTIONS === undefined) throw new Error('deploy/webhook/deployment.yaml: no NODE_OPTIONS on secretwire\'s container')
  return out
}

/** The median; of an even count, the mean of the middle two (the middle index alone would be the higher one). */
export function median(list: readonly number[]): number {
  const sorted = [...list].sort((a, b) => a - b), mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/** What a result came from, for its JSON: the command as typed (BENCH_ settings included), the commit, the date. */
export function provenance(script: string): { command: string, commit: string, date: string } {
  const git = (...args: string[]) => spawnSync('git', args, { cwd: repoRoot, encoding: 'utf8' }).stdout.trim()
  const dirty = git('status', '--porcelain', '--untracked-files=no') !== ''
  return {
    command: `${Object.entries(process.env).filter(([k]) => k.startsWith('BENCH_')).map(([k, v]) => `${k}=${v} `).join('')}npm run ${script}`,
    commit: `${git('rev-parse', '--short', 'HEAD')}${dirty ? ' (with uncommitted changes)' : ''}`,
    date: new Date().toISOString(),
  }
}

/** A server a bench runs: its process, its port, and how long it took from spawn to its first good answer. */
export interface Server { readonly name: string, readonly port: number, readonly child: ChildProcess, readonly spawnedAt: number, readonly readyMs: number }

/**
 * Starts a server on a free port (PORT), its output to NAME.log in the work directory (as a container runtime takes
 * it: no reader competes for the CPU), and waits for a 200: from GET readyPath, or else from a POST of a Pod review.
 */
export async function startServer(bench: Bench, name: string, command: string, args: readonly string[], env: Record<string, string | undefined>, readyPath?: string): Promise<Server> {
  const port = await freePort()
  const log = join(bench.dir, `${name}.log`)
  const out = openSync(log, 'a')
  const spawnedAt = Date.now()
  const spawned = performance.now()
  const child = spawn(command, args, { cwd: repoRoot, env: { ...process.env, ...env, PORT: String(port) }, stdio: ['ignore', out, out] })
  bench.children.push(child)
  for (let i = 0; ; i++) {
    const ok = await call(port, readyPath ? 'GET' : 'POST', readyPath ?? '/mutate', readyPath ? undefined : review(pod('bench', 'x'))).then((r) => r.status === 200, () => false)
    if (ok) return { name, port, child, spawnedAt, readyMs: performance.now() - spawned }
    if (i > 3000 || child.exitCode !== null) throw new Error(`${name} did not start: see ${log}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

/**
 * `secretwire serve` as a bench runs it: the shipped settings, against the bench's control plane and certificate.
 * `env` overrides them; a name set to undefined is left out of the process's environment.
 */
export function secretwireServe(bench: Bench, nodeArgs: readonly string[] = [], env: Record<string, string | undefined> = {}): Promise<Server> {
  return startServer(bench, 'secretwire', process.execPath, [...nodeArgs, 'dist/cli/main.js', 'serve'], {
    KUBECONFIG: bench.cp.info.kubeconfig, TLS_CERT_FILE: join(bench.dir, 'tls.crt'), TLS_KEY_FILE: join(bench.dir, 'tls.key'),
    LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'info', ...shippedRuntimeEnv(), ...env,
  }, '/readyz')
}

/** The bare fastify baseline (bench/baseline.mjs) with the same certificate and runtime settings (`env` as above). */
export function baselineServe(bench: Bench, nodeArgs: readonly string[] = [], env: Record<string, string | undefined> = {}): Promise<Server> {
  return startServer(bench, 'baseline', process.execPath, [...nodeArgs, 'bench/baseline.mjs'], {
    TLS_CERT: readFileSync(join(bench.dir, 'tls.crt'), 'utf8'), TLS_KEY: readFileSync(join(bench.dir, 'tls.key'), 'utf8'), ...shippedRuntimeEnv(), ...env,
  })
}
