// How a long step (a Go build, a module download, an image) tells a newcomer what is going on: one line when it
// starts (what, and where its log is), a line every 15 s while it runs (how far along), one when it ends
// (how long it took). Its command's output goes to the log file, not the terminal; when the step fails, the last
// lines of that log are printed with the command that retries it.
import { spawn } from 'node:child_process'
import { createWriteStream, mkdirSync, readFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { createInterface } from 'node:readline'

export type Say = (line: string) => void

export const say: Say = (line) => process.stderr.write(`[secretwire] ${line}\n`)

/** Seconds or minutes, as people read a duration. */
export function duration(ms: number): string {
  const s = Math.round(ms / 1000)
  return s < 120 ? `${s} s` : `${Math.floor(s / 60)} min ${s % 60} s`
}

export interface Step {
  /** Replaces what the next progress line says (printed at most every `everyMs`). */
  progress(text: string): void
  /** Ends the step: "NAME: done in ...". */
  done(detail?: string): void
}

/** A step whose progress is printed every `everyMs` while it lasts (15 s: a newcomer never waits long in silence). */
export function startStep(name: string, what: string, log?: string, out: Say = say, everyMs = 15_000): Step {
  const started = Date.now()
  let text = 'starting'
  out(`${name}: ${what}${log === undefined ? '' : `; log: ${log}`}`)
  const timer = setInterval(() => out(`${name}: ${text} (${duration(Date.now() - started)} so far)`), everyMs)
  timer.unref()
  return {
    progress(t) { text = t },
    done(detail) {
      clearInterval(timer)
      out(`${name}: done in ${duration(Date.now() - started)}${detail === undefined ? '' : ` (${detail})`}`)
    },
  }
}

export interface LoggedCommand {
  readonly command: string
  readonly args: readonly string[]
  readonly cwd: string
  readonly env?: NodeJS.ProcessEnv
  /** Appended to (created with its folder when missing). */
  readonly log: string
  /** Each line the command prints, on stdout or stderr. */
  readonly onLine?: (line: string) => void
  /** What a person runs to try again, printed when it fails. */
  readonly retry: string
}

/**
 * Runs a command with its output going to a log file; rejects with an error that carries the end of that log and
 * the retry command, so whoever prints the error shows the newcomer what failed and what to do.
 */
export async function runLogged(c: LoggedCommand): Promise<void> {
  mkdirSync(dirname(c.log), { recursive: true })
  const log = createWriteStream(c.log, { flags: 'a' })
  log.write(`\n$ (cd ${c.cwd} && ${[c.command, ...c.args].join(' ')})   # ${new Date().toISOString()}\n`)
  const child = spawn(c.command, c.args, { cwd: c.cwd, env: c.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] })
  for (const stream of [child.stdout, child.stderr]) {
    stream.pipe(log, { end: false })
    if (c.onLine !== undefined) createInterface({ input: stream }).on('line', c.onLine)
  }
  const status = await new Promise<string | undefined>((resolve) => {
    child.on('error', (err) => resolve(`cannot run ${c.command} (${err.message})`))
    child.on('close', (code, signal) => resolve(code === 0 ? undefined : signal ?? `exit status ${code}`))
  })
  await new Promise<void>((resolve) => log.end(resolve))
  if (status !== undefined) throw new Error(`${c.command} ${c.args[0] ?? ''} failed (${status}). The end of ${c.log}:\n${tail(c.log)}\nTo retry: ${c.retry}`)
}

/** The last `lines` lines of a file, indented. */
export function tail(path: string, lines = 20): string {
  try {
    return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).map((l) => `    ${l}`).join('\n')
  } catch {
    return '    (no log)'
  }
}
