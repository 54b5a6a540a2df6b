// What every bench script shares: the production build, a control plane and a work directory with a serving
// certificate, processes stopped on exit, HTTPS calls to a local server, and readings of a process from /proc.
import { spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { request } from 'node:https'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { selfSigned } from '../src/server/tls.ts'
import { startControlPlane, type ControlPlane } from '../tools/cluster/controlplane.ts'
import { prepare } from '../tools/build/needs.ts'
import { repoRoot } from '../tools/paths.ts'

export interface Bench {
  readonly cp: ControlPlane
  /** Work directory: tls.crt and tls.key (for 127.0.0.1), and the logs of the processes started. */
  readonly dir: string
  /** Processes to kill at cleanup. */
  readonly children: ChildProcess[]
  cleanup(): Promise<void>
}

/** Builds dist/ (the production build is what is measured) and starts a local control plane. */
export async function setUp(name: string): Promise<Bench> {
  const built = spawnSync('npm', ['run', 'build', '--silent'], { cwd: repoRoot, encoding: 'utf8' })
  if (built.status !== 0) throw new Error(`build failed: ${built.stderr}`)
  await prepare(['controlplane'])
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
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
  return (Number(fields[11]) + Number(fields[12])) / 100
}
