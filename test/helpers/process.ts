// secretwire as users run it: `secretwire serve` in its own process, talked to over HTTPS.
import { spawn, type ChildProcess } from 'node:child_process'
import { X509Certificate } from 'node:crypto'
import { request } from 'node:https'
import { join } from 'node:path'
import { connect } from 'node:tls'
import { createInterface } from 'node:readline'
import type { Test } from 'tap'
import { freePort } from '../../tools/local/net.ts'

const repoRoot = join(import.meta.dirname, '..', '..')

export interface Served {
  readonly child: ChildProcess
  readonly port: number
  /** Every JSON log line so far. */
  readonly logs: Record<string, unknown>[]
  /** Every raw stdout/stderr line so far (to check nothing leaks). */
  readonly output: string[]
  readonly exited: Promise<number | null>
  /** The first log line matching, waiting up to 5 s for it to arrive. */
  log(match: (line: Record<string, unknown>) => boolean): Promise<Record<string, unknown> | undefined>
  call(method: string, path: string, body?: unknown): Promise<{ status: number, text: string, json(): any }>
  /** SHA-256 fingerprint of the certificate a new TLS connection is served. */
  fingerprint(): Promise<string>
}

export async function serve(t: Test, env: Record<string, string>, ca: string, fixedPort?: number): Promise<Served> {
  const port = fixedPort ?? await freePort()
  const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'src', 'cli.ts'), 'serve'], {
    cwd: repoRoot,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, NODE_OPTIONS: '', PORT: String(port), ...env },
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

  const call: Served['call'] = (method, path, body) => new Promise((res, rej) => {
    const req = request({ host: '127.0.0.1', port, method, path, ca, servername: 'localhost', headers: body === undefined ? {} : { 'content-type': 'application/json' } }, (resp) => {
      let text = ''
      resp.setEncoding('utf8').on('data', (c: string) => { text += c }).on('end', () => res({ status: resp.statusCode!, text, json: () => JSON.parse(text) }))
    })
    req.on('error', rej)
    req.end(body === undefined ? undefined : JSON.stringify(body))
  })
  const fingerprint = () => new Promise<string>((res, rej) => {
    const socket = connect({ host: '127.0.0.1', port, servername: 'localhost', rejectUnauthorized: false }, () => {
      res(new X509Certificate(socket.getPeerX509Certificate()!.raw).fingerprint256)
      socket.end()
    })
    socket.on('error', rej)
  })

  const log: Served['log'] = async (match) => {
    const until = Date.now() + 5000
    for (;;) {
      const found = logs.find(match)
      if (found !== undefined || Date.now() > until) return found
      await new Promise((r) => setTimeout(r, 20))
    }
  }

  const deadline = Date.now() + 30_000
  for (;;) {
    const ready = await call('GET', '/readyz').catch(() => undefined)
    if (ready?.status === 200) break
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`secretwire did not become ready:\n${output.join('\n')}`)
    await new Promise((r) => setTimeout(r, 100))
  }
  return { child, port, logs, output, exited, log, call, fingerprint }
}
