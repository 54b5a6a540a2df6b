// Room: tools/demo/, tools/node/with-node.ts
// The README's first command, as a newcomer runs it: `npm run demo` comes up with secretwire running as Pods from
// deploy/, shows psql logging in to a real PostgreSQL with each shared password, the refusals and `secretwire status`, keeps
// running, and on Ctrl-C (SIGINT to its process group, as a terminal sends it) stops, leaving nothing behind
// (tools/node/with-node.ts checks that no process of the run's PID namespace, no mount and no kubepods cgroup
// remains, and fails otherwise).
// `npm ci`, the first half of the README's line, is what CI runs before any test (test/docs/docs.test.ts checks .ci/run);
// running it here would replace node_modules under this very test.
// Before that, a demo killed outright (SIGKILL to the launcher alone, no chance to clean up) must leave nothing that
// blocks the next: its processes go with it, and the next run (the one above) clears its lock and kernel settings.
// Outside `npm test`'s control plane: the demo brings its own cluster and node (one node run at a time), so
// package.json runs this file after the node tests (`npm run test:demo`).
import { spawn } from 'node:child_process'
import { readdirSync, readFileSync, readlinkSync } from 'node:fs'
import t from 'tap'
import { repoRoot } from '../../tools/paths.ts'
import { docCommands } from '../helpers/docs.ts'
import { manyNames } from '../../tools/node/postgres.ts'

t.setTimeout(20 * 60_000)

/** Processes whose environment has `name=value`. */
function withEnv(name: string, value: string): number[] {
  return readdirSync('/proc').filter((p) => /^\d+$/.test(p)).map(Number).filter((pid) => {
    try { return readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(`${name}=${value}`) } catch { return false }
  })
}

/** A process by pid and start time (a pid the kernel reuses is another process), or undefined when it is gone. */
function identity(pid: number): string | undefined {
  try { const st = readFileSync(`/proc/${pid}/stat`, 'utf8'); return `${pid}@${st.slice(st.lastIndexOf(')') + 2).split(' ')[19]}` } catch { return undefined }
}

/** The processes below `root` (containers too: they sit in PID namespaces nested in the run's). */
function descendants(root: number): string[] {
  const parent = new Map<number, number>()
  for (const p of readdirSync('/proc').filter((p) => /^\d+$/.test(p)).map(Number)) {
    try { const st = readFileSync(`/proc/${p}/stat`, 'utf8'); parent.set(p, Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[1])) } catch { /* gone */ }
  }
  const below = (p: number): boolean => { for (let q = parent.get(p); q !== undefined && q > 1; q = parent.get(q)) if (q === root) return true; return false }
  return [root, ...[...parent.keys()].filter(below)].map(identity).filter((id) => id !== undefined)
}

let killedRun = false

t.test('a demo killed outright (SIGKILL, no clean-up) takes its processes with it', async (t) => {
  const child = spawn('npm', ['run', 'demo'], { cwd: repoRoot, detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  let stdout = ''
  child.stderr.setEncoding('utf8').on('data', (c: string) => { stderr += c })
  child.stdout.setEncoding('utf8').on('data', (c: string) => { stdout += c })
  t.teardown(() => { try { process.kill(-child.pid!, 'SIGKILL') } catch { /* already gone */ } })
  // Once the demo runs: the kubelet has changed the kernel settings, the demo's containers run, the lock is held.
  const deadline = Date.now() + 600_000
  while (!/\] running\n/.test(stdout) && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 250))
  // The launcher: the parent of the unshare whose child runs the cluster (SECRETWIRE_NODE_INSIDE=1).
  // A process may end between the listing and these reads (the demo's containers start short-lived ones): -1, ''.
  const ppid = (pid: number) => { try { const st = readFileSync(`/proc/${pid}/stat`, 'utf8'); return Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[1]) } catch { return -1 } }
  const comm = (pid: number) => { try { return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() } catch { return '' } }
  const inner = withEnv('SECRETWIRE_NODE_INSIDE', '1')
  const unshare = [...new Set(inner.map(ppid))].filter((pid) => comm(pid) === 'unshare')
  const outer = unshare.map(ppid)
  if (!t.ok(inner.length > 0 && outer.length === 1, `the node is up (the run's processes found: ${inner.length}; its launcher ${outer.join(',')})${stderr.slice(-2000)}`)) return
  // unshare itself carries the variable too but stays in the machine's PID namespace; its child is the run's first.
  const first = inner.find((pid) => unshare.includes(ppid(pid)))!
  const ns = readlinkSync(`/proc/${first}/ns/pid`)
  t.not(ns, readlinkSync('/proc/self/ns/pid'), `the run has a PID namespace of its own (${ns})`)
  const run = descendants(first)
  const alive = () => run.filter((id) => identity(Number(id.split('@')[0])) === id)
  const containers = run.filter((id) => { try { return readlinkSync(`/proc/${id.split('@')[0]}/ns/pid`) !== ns } catch { return false } }).length
  t.ok(containers > 0, `the run's containers are among them (${containers} processes in nested PID namespaces)`)
  process.kill(outer[0]!, 'SIGKILL')
  killedRun = true
  const gone = Date.now() + 30_000
  while (alive().length > 0 && Date.now() < gone) await new Promise((r) => setTimeout(r, 250))
  const left = alive()
  const status = (pid: number) => { try { return readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').filter((l) => /^(Name|State|PPid)/.test(l)).join(' ') } catch { return 'gone' } }
  t.same(left, [], `all ${run.length} processes of the run (kubelet, containerd, containers, the API server...) are gone within 30 s` +
    (left.length === 0 ? '' : ` (left: ${left.slice(0, 5).map((id) => status(Number(id.split('@')[0]))).join('; ')})`))
})

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
  if (killedRun) {
    t.match(stderr, /a previous node run ended without restoring the kernel settings: restoring them now/, 'it put back the kernel settings the killed run had left changed')
  }

  t.match(stdout, /secretwire: both replicas Ready/, 'secretwire runs as two Pods from deploy/')
  t.match(stdout, /psql "\$GF_DATABASE_URL": logged in as grafana\n/,
    'psql in Grafana\'s place logs in to the real PostgreSQL, which read the same password from its file, with the example\'s URL')
  for (const name of manyNames) {
    t.match(stdout, new RegExp(`\\n {2}${name} url: logged in as ${name}\\n {2}${name} raw: logged in as ${name}\\n`), `${name}: psql logged in with the URL form and the raw form`)
  }
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
