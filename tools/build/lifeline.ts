// A background process's lifeline to the run that started it. tools/test/run.ts starts the Kubernetes 1.35 build
// in its own process group (so the terminal's Ctrl-C does not reach it half-way, and one kill stops the compilers
// with it) and stops that group when it exits. If the run is killed outright (SIGKILL: no handler runs), nothing
// would stop the build; so the build watches the run's pid and, once it is gone, kills its own group.
import { readFileSync } from 'node:fs'
import { say } from './progress.ts'

/** With SECRETWIRE_PARENT_PID set, checks every `everyMs` that the process is there; else kills this process group. */
export function stopWithParent(env: NodeJS.ProcessEnv = process.env, everyMs = 1000): void {
  const parent = Number(env.SECRETWIRE_PARENT_PID)
  if (!Number.isInteger(parent) || parent <= 1) return
  setInterval(() => {
    if (alive(parent)) return
    say(`the run that started this (pid ${parent}) is gone: stopping`)
    process.kill(-processGroup(), 'SIGKILL')
  }, everyMs).unref()
}

/** Whether a process is there (EPERM: there, but not ours). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** This process's group, from /proc/self/stat (Node has no getpgid). */
function processGroup(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8')
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2])
}
