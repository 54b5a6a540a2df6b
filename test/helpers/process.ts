// secretwire as users run it: `secretwire serve` in its own process, talked to over HTTPS.
import { spawn, type ChildProcess } from 'node:child_process'
import { X509Certificate } from 'node:crypto'
import { request } from 'node:https'
import { join } from 'node:path'
import { connect } from 'node:tls'
import { createInterface } from 'node:readline'
import type { Test } from 'tap'
import type { ControlPlane } from '../../tools/cluster/controlplane.ts'
import { builtCli } from './built.ts'

const repoRoot = join(import.meta.dirname, '..', '..')

export interface Served {
  readonly child: ChildProcess
  /** The port secretwire reports it bound, from its startup log line. */
  readonly port: number
  /** Every JSON log line so far. */
  readonly logs: Record<string, unknown>[]
  /** Every raw stdout/stderr line so far (to check nothing leaks). */
  readonly output: string[]
  readonly exited: Promise<number | null>
  /** The first log line matching, waiting up to 5 s for it to arrive. */
  log(match: (line: Record<string, unknown>) => boolean): Promise<Record<string, unknown> | undefined>
  /** `sent` is called once the request is written out (it is then the server's, whatever happens next). */
  call(method: string, path: string, body?: unknown, sent?: () => void): Promise<{ status: number, text: string, json(): any }>
  /** The certificate a new TLS connection is served (not verified: to inspect it). */
  peerCertificate(): Promise<X509Certificate>
  /** SHA-256 fingerprint of the certificate a new TLS connection is served. */
  fingerprint(): Promise<string>
  /** /metrics, parsed. */
  metrics(): Promise<Metrics>
}

/**
 * `secretwire serve`, ready (/readyz 200). `ca` verifies the serving certificate; undefined: the certificate
 * served on the first connection is trusted from then on (for the self-signed certificate secretwire makes).
 */
export async function serve(t: Test, env: Record<string, string>, ca: string | undefined, fixedPort?: number): Promise<Served> {
  const served = await listening(t, env, ca, fixedPort)
  await until(async () => (await served.call('GET', '/readyz').catch(() => undefined))?.status === 200,
    'secretwire did not become ready (/readyz 200)', 30_000, served)
  return served
}

/** Polls `ok` until it holds; past `ms`, throws `what` (with secretwire's output when given). */
export async function until(ok: () => boolean | Promise<boolean>, what: string, ms = 10_000, served?: Served): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await ok())) {
    if (served !== undefined && served.child.exitCode !== null) throw new Error(`${what}: secretwire exited (${served.child.exitCode}):\n${served.output.join('\n')}`)
    if (Date.now() > deadline) throw new Error(`${what} within ${ms} ms${served === undefined ? '' : `:\n${served.output.join('\n')}`}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

/**
 * `secretwire serve` once it listens (its "serving admissions" line), ready or not. Stopped (SIGKILL) by the test's
 * teardown.
 *
 * The port: PORT=0 unless the caller fixes one (a restart on the same port), so the child binds a port the OS
 * picks and reports it in its startup line: nothing can take the port between a pick and the bind.
 */
export async function listening(t: Test, env: Record<string, string>, ca: string | undefined, fixedPort?: number): Promise<Served> {
  return spawnServe(t, env, ca, fixedPort ?? 0)
}

async function spawnServe(t: Test, env: Record<string, string>, ca: string | undefined, asked: number): Promise<Served> {
  const child = spawn(process.execPath, [builtCli(), 'serve'], {
    cwd: repoRoot,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, NODE_OPTIONS: '', PORT: String(asked), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const logs: Record<string, unknown>[] = []
  const output: string[] = []
  for (const stream of [child.stdout!, child.stderr!]) {
    createInterface({ input: stream }).on('line', (line) => {
      output.push(line)
      try {
        logs.push(JSON.parse(line) as Record<string, unknown>)
      } catch { /* not a log line */ }
    })
  }
  const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)))
  t.teardown(() => { child.kill('SIGKILL') })

  // The startup line, or the exit (its last lines may still be in the pipe when 'exit' fires: read after 'close').
  const closed = new Promise<void>((res) => child.on('close', () => res()))
  const startup = await new Promise<Record<string, unknown> | 'exited'>((res) => {
    const poll = setInterval(() => {
      const line = logs.find((l) => l.msg === 'serving admissions')
      if (line !== undefined) done(line)
    }, 20)
    const give = setTimeout(() => done('exited'), 60_000)
    const done = (v: Record<string, unknown> | 'exited') => { clearInterval(poll); clearTimeout(give); res(v) }
    void closed.then(() => done(logs.find((l) => l.msg === 'serving admissions') ?? 'exited'))
  })
  if (startup === 'exited' || child.exitCode !== null) {
    child.kill('SIGKILL')
    await exited
    throw new Error(`secretwire serve did not start listening (exit ${child.exitCode}):\n${output.join('\n')}`)
  }
  const port = startup.port as number

  let trusted = ca
  const peerCertificate = () => new Promise<X509Certificate>((res, rej) => {
    const socket = connect({ host: '127.0.0.1', port, servername: 'localhost', rejectUnauthorized: false }, () => {
      res(new X509Certificate(socket.getPeerX509Certificate()!.raw))
      socket.end()
    })
    socket.on('error', rej)
  })
  if (trusted === undefined) trusted = (await peerCertificate()).toString()

  const call: Served['call'] = (method, path, body, sent) => new Promise((res, rej) => {
    const req = request({ host: '127.0.0.1', port, method, path, ca: trusted, servername: 'localhost', headers: body === undefined ? {} : { 'content-type': 'application/json' } }, (resp) => {
      let text = ''
      resp.setEncoding('utf8').on('data', (c: string) => { text += c }).on('end', () => res({ status: resp.statusCode!, text, json: () => JSON.parse(text) }))
    })
    req.on('error', rej)
    if (sent !== undefined) req.on('finish', sent)
    req.end(body === undefined ? undefined : JSON.stringify(body))
  })

  const log: Served['log'] = async (match) => {
    const until = Date.now() + 5000
    for (;;) {
      const found = logs.find(match)
      if (found !== undefined || Date.now() > until) return found
      await new Promise((r) => setTimeout(r, 20))
    }
  }

  return {
    child, port, logs, output, exited, log, call, peerCertificate,
    fingerprint: async () => (await peerCertificate()).fingerprint256,
    metrics: async () => parseMetrics((await call('GET', '/metrics')).text),
  }
}

/** Prometheus text exposition, parsed: a sample is found by its name and its exact label set. */
export interface Metrics {
  /** The value of the one sample with this name and exactly these labels; undefined when there is none. */
  value(name: string, labels?: Record<string, string>): number | undefined
  readonly samples: readonly { name: string, labels: Record<string, string>, value: number }[]
}

export function parseMetrics(text: string): Metrics {
  const samples: { name: string, labels: Record<string, string>, value: number }[] = []
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?$/.exec(line)
    if (m === null) throw new Error(`not a Prometheus sample line: ${line}`)
    const labels: Record<string, string> = {}
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[l[1]!] = l[2]!.replace(/\\n/g, '\n').replace(/\\(.)/g, '$1')
    }
    samples.push({ name: m[1]!, labels, value: m[3] === '+Inf' ? Infinity : m[3] === '-Inf' ? -Infinity : Number(m[3]) })
  }
  const same = (a: Record<string, string>, b: Record<string, string>) =>
    Object.keys(a).length === Object.keys(b).length && Object.entries(b).every(([k, v]) => a[k] === v)
  return {
    samples,
    value(name, labels = {}) {
      const found = samples.filter((s) => s.name === name && same(s.labels, labels))
      if (found.length > 1) throw new Error(`${found.length} samples of ${name} ${JSON.stringify(labels)}`)
      return found[0]?.value
    },
  }
}

/**
 * Faults on a test file's own API server (ownControlPlane()), each undone by the test's teardown as well: a test
 * that fails midway must not leave the tests after it a stopped or paused API server.
 */
export async function stopApiServer(t: Test, cp: ControlPlane): Promise<void> {
  t.teardown(() => cp.command('start-apiserver').catch((err: Error) => {
    if (!/already running/.test(err.message)) throw err // the test started it again itself
  }))
  await cp.command('stop-apiserver')
}

export async function pauseApiServer(t: Test, cp: ControlPlane): Promise<void> {
  t.teardown(() => cp.command('resume-apiserver').catch((err: Error) => {
    if (!/not running/.test(err.message)) throw err // stopped since: stopApiServer's teardown starts it
  }))
  await cp.command('pause-apiserver')
}
