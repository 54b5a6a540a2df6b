// The README's first command, as a newcomer runs it: `npm run demo` comes up with secretwire running as Pods from
// deploy/, prints the same password hash from two running containers, the refusals and `secretwire status`, keeps
// running, and on Ctrl-C (SIGINT to its process group, as a terminal sends it) stops, leaving nothing behind
// (tools/local/with-node.ts checks that no process of the run's PID namespace, no mount and no kubepods cgroup
// remains, and fails otherwise).
// `npm ci`, the first half of the README's line, is what CI runs before any test (test/docs.test.ts checks .ci/run);
// running it here would replace node_modules under this very test.
// Outside `npm test`'s control plane: the demo brings its own cluster and node (one node run at a time), so
// package.json runs this file after the node tests (`npm run test:demo`).
import { spawn } from 'node:child_process'
import t from 'tap'
import { repoRoot } from '../../tools/local/paths.ts'
import { docCommands } from '../helpers/docs.ts'

t.setTimeout(20 * 60_000)

t.test('npm run demo: running containers with one password, status ok; Ctrl-C leaves nothing behind', async (t) => {
  const [line] = docCommands('two-commands')
  const [install, demo] = line!.replace(/\s+#.*$/, '').split('&&').map((c) => c.trim())
  t.equal(install, 'npm ci', 'the line starts with npm ci (run by CI before the tests)')
  t.equal(demo, 'npm run demo')

  const started = Date.now()
  const child = spawn('bash', ['-c', demo!], { cwd: repoRoot, detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (c: string) => { stdout += c })
  child.stderr.setEncoding('utf8').on('data', (c: string) => { stderr += c })
  const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>((res) => child.on('exit', (code, signal) => res({ code, signal })))
  // However this test ends, the demo's whole process group goes too.
  t.teardown(() => { try { process.kill(-child.pid!, 'SIGKILL') } catch { /* already gone */ } })

  let ended = false
  void exited.then(() => { ended = true })
  while (!/\] running\n/.test(stdout) && !ended) await new Promise((r) => setTimeout(r, 250))
  const running = /\] running\n/.test(stdout)
  const tail = () => `\n--- stdout ---\n${stdout.slice(-3000)}\n--- stderr ---\n${stderr.slice(-3000)}`
  t.ok(running, `the demo says "running" (after ${((Date.now() - started) / 1000).toFixed(1)} s)${running ? '' : tail()}`)
  t.comment(`demo up in ${((Date.now() - started) / 1000).toFixed(1)} s (the Go builds cached; the images rebuilt when their inputs changed)`)

  t.match(stdout, /secretwire: both replicas Ready/, 'secretwire runs as two Pods from deploy/')
  t.match(stdout, /the same password in both: yes\n/, 'both running containers hold the same password (by its SHA-256)')
  t.match(stdout, /A bad annotation is refused at admission:\n {2}.*secretwire\.io\/shared-secret.*Bad_Name/, 'a bad annotation is refused, naming annotation and value')
  t.match(stdout, /A namespace the policy leaves out gets nothing:\n {2}.*(denied|forbidden)/i, 'a namespace outside the policy is refused')
  t.match(stdout, /secretwire status \(exit status 0\):\nSHARED SECRET/, '`secretwire status` runs, and nothing is failing')

  process.kill(-child.pid!, 'SIGINT')
  // npm passes the interrupt on and then ends by it, as a shell shows after Ctrl-C; an error would be an exit status.
  const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 120_000).unref())
  const result = await Promise.race([exited, timeout])
  if (result === 'timeout') { t.fail(`still running 120 s after Ctrl-C${tail()}`); return }
  const { code, signal } = result
  t.ok(signal === 'SIGINT' || code === 0, `Ctrl-C stops it (exit ${code}, signal ${signal})${signal === 'SIGINT' || code === 0 ? '' : tail()}`)
  t.match(stderr, /nothing left behind: no process, mount or cgroup of the run/, 'and it leaves nothing behind')
  t.comment(`stopped ${((Date.now() - started) / 1000).toFixed(1)} s after start`)
})
