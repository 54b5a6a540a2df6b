// `npm test` after the type check and the build: the suites in order, each its own process, stopping at the first
// that fails. What only the last suite needs is built beside the first ones: Kubernetes 1.35 (a quarter of a cold
// run's compiling) is built, niced, while the suites of 1.37 run, whose processes mostly wait on their servers.
// Measured cold on 2 cores (2026-12-04, `.ci/run`): with 1.35 among them the builds before the first test took
// ~29 min and the run 53 min; with 1.35 beside the suites, 13 min before the first test, 1.35 ready 10 min later
// (the 1.35 suite waited 0 s), and the run 34 min.
//
// The background build is a child process (needs.ts, as `npm run setup` runs it) in its own process group.
// It is stopped with this process on SIGINT/SIGTERM or at exit; if this process is killed outright it notices
// (needs.ts, SECRETWIRE_PARENT_PID) and stops itself, so a killed run leaves no compiler behind.
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, openSync } from 'node:fs'
import { join } from 'node:path'
import type { KubernetesMinor } from '../build/builds.ts'
import { prepare } from '../build/needs.ts'
import { cacheRoot } from '../build/gobuild.ts'
import { duration, say, tail } from '../build/progress.ts'
import { repoRoot } from '../paths.ts'

/** The minor of `npm run test:oldest-kubernetes` (package.json), the only suite that uses it. */
const oldest: KubernetesMinor = '1.35'

interface Suite {
  readonly name: string
  readonly command: readonly string[]
  /** Waits for the background build first. */
  readonly needsBackground?: true
}

// The 1.35 suite goes last: the background build has the other suites' time to finish.
const suites: readonly Suite[] = [
  { name: 'the suite on Kubernetes 1.37', command: ['tsx', 'tools/cluster/with-controlplane.ts', '--', 'tap'] },
  { name: 'the node tests', command: ['npm', 'run', 'test:node'] },
  { name: 'the demo', command: ['npm', 'run', 'test:demo'] },
  { name: `the suite on Kubernetes ${oldest}`, command: ['npm', 'run', 'test:oldest-kubernetes'], needsBackground: true },
]

let current: ChildProcess | undefined
let background: ChildProcess | undefined
const stopAll = (signal: NodeJS.Signals) => {
  if (background?.exitCode === null) try { process.kill(-background.pid!, 'SIGKILL') } catch { /* gone */ }
  current?.kill(signal)
}
process.on('exit', () => stopAll('SIGTERM'))
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => { stopAll(signal); process.exit(130) })

const started = Date.now()
try {
  // What the first suites need, in the foreground, at full speed.
  await prepare(['tests', 'node'])
} catch (err) {
  say((err as Error).message)
  process.exit(1)
}

const log = join(cacheRoot(), 'logs', `prepare-kubernetes-${oldest}.log`)
mkdirSync(join(cacheRoot(), 'logs'), { recursive: true })
const out = openSync(log, 'w')
background = spawn('nice', ['-n', '19', process.execPath, '--import', 'tsx', 'tools/build/needs.ts', 'tests'], {
  cwd: repoRoot, detached: true, stdio: ['ignore', out, out],
  env: { ...process.env, SECRETWIRE_KUBERNETES: oldest, SECRETWIRE_PARENT_PID: String(process.pid) },
})
const backgroundDone = new Promise<number>((resolve) => background!.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0))))
say(`Kubernetes ${oldest} (for the last suite) is prepared in the background, at low priority; log: ${log}`)

for (const suite of suites) {
  if (suite.needsBackground) {
    const waiting = Date.now()
    const timer = setInterval(() => say(`waiting for Kubernetes ${oldest}'s build (${duration(Date.now() - waiting)} so far): ${tail(log, 1).trim()}`), 15_000)
    const status = await backgroundDone
    clearInterval(timer)
    if (status !== 0) {
      say(`preparing Kubernetes ${oldest} failed (exit status ${status}). The end of ${log}:\n${tail(log)}\nTo retry: SECRETWIRE_KUBERNETES=${oldest} npm run setup -- tests`)
      process.exit(1)
    }
    say(`Kubernetes ${oldest} is ready (waited ${duration(Date.now() - waiting)})`)
  }
  say(`${suite.name}: ${suite.command.join(' ')}`)
  current = spawn(suite.command[0]!, suite.command.slice(1), { cwd: repoRoot, stdio: 'inherit' })
  const status = await new Promise<number>((resolve) => current!.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0))))
  current = undefined
  if (status !== 0) {
    say(`${suite.name} failed (exit status ${status}) after ${duration(Date.now() - started)} in all`)
    process.exit(status)
  }
}
say(`all suites passed in ${duration(Date.now() - started)}`)
