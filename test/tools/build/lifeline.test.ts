// Room: tools/build/lifeline.ts
// A background build outlives nothing: once the run that started it is gone, killed outright (SIGKILL, so no
// handler of the run's could stop it), the build stops its whole process group, compilers included.
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { repoRoot } from '../../../tools/paths.ts'

/** Running: there, and not a zombie waiting to be reaped. */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z'
  } catch {
    return false
  }
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

t.test('a background process stops its group once the run that started it is killed outright', async (t) => {
  const run = spawn('sleep', ['300'], { stdio: 'ignore' })
  const build = spawn(join(repoRoot, 'node_modules', '.bin', 'tsx'), [join(repoRoot, 'test', 'tools', 'build', 'lifeline-child.ts')], {
    detached: true, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, SECRETWIRE_PARENT_PID: String(run.pid) },
  })
  t.teardown(() => {
    try { process.kill(-build.pid!, 'SIGKILL') } catch { /* gone, as it should be */ }
    run.kill('SIGKILL')
  })
  const worker = await new Promise<number>((resolve) => build.stdout!.setEncoding('utf8').once('data', (d: string) => resolve(Number(d.trim()))))
  const buildExit = new Promise((resolve) => build.on('exit', resolve))

  await sleep(1000)
  t.ok(running(build.pid!) && running(worker), 'while the run lives, the build and its worker run on')

  run.kill('SIGKILL')
  const deadline = Date.now() + 10_000
  while ((running(build.pid!) || running(worker)) && Date.now() < deadline) await sleep(100)
  t.notOk(running(worker), 'the worker in its group is gone')
  t.notOk(running(build.pid!), 'the build is gone')
  await buildExit
})
