// `tsx tools/node/with-node.ts [-- command args...]`: the local cluster with a node that runs Pods, and the real
// ESO, then the command (tests, the demo) against it; without a command it stays up until Ctrl-C.
//
// Everything runs inside namespaces this script creates (`unshare --fork --pid --mount-proc --net --mount`):
//   - network: its own loopback, and the node's address on a veth pair inside it. The API server, the kubelet,
//     Pods (on the CNI bridge), ESO, secretwire and the tests all talk inside it; no packet reaches the
//     machine's own interfaces, and nothing outside can reach in.
//   - mount: tmpfs over /run, /var/lib and /var/log, the paths containerd and the kubelet insist on.
//   - PID: when the run ends, however it ends, the kernel kills every process left in it (container shims too).
// What it cannot keep inside, it puts back afterwards: the kubelet's cgroups (cgroup v1 hierarchies are the
// machine's: removed) and the three kernel settings the kubelet changes (restored). One node run at a time
// (the kubepods cgroup names are machine-wide): a lock in the cache directory says which process holds it.
// Needs root, and Debian's containerd, runc, containernetworking-plugins, busybox-static and gcc with libc6-dev.
import { spawn, spawnSync } from 'node:child_process'
import { createServer } from 'node:http'
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { NodeImages } from '../build/images.ts'
import { startControlPlane, type ControlPlaneCommand } from '../cluster/controlplane.ts'
import { kubectlPath } from '../build/builds.ts'
import { ESO_CONTROLLER_SELECTOR, ESO_NAMESPACE, installEso } from './eso.ts'
import { followPodLogs, type LogFollower } from './podlogs.ts'
import { offlineEnv, prepare } from '../build/needs.ts'
import { cacheRoot } from '../build/gobuild.ts'
import { installStore, untilStoreReady } from '../cluster/store.ts'
import type { Kubectl } from './install.ts'

/** The node's address: a private range, on an interface that exists only inside the run's network namespace. */
export const NODE_IP = '172.31.255.1'
/** Where tests send the launcher's commands (inside the run's mount namespace: its own /run). */
const CONTROL_SOCKET = '/run/secretwire-control.sock'
const sysctls = ['kernel.panic', 'kernel.panic_on_oops', 'vm.overcommit_memory']
const separator = process.argv.indexOf('--')
const command = separator === -1 ? [] : process.argv.slice(separator + 1)
const say = (line: string) => process.stderr.write(`[secretwire] ${line}\n`)

async function outside(): Promise<never> {
  if (process.getuid?.() !== 0) fail('a node needs root (namespaces, mounts, cgroups)')
  const missing = [['unshare', 'util-linux'], ['ip', 'iproute2'], ['containerd', 'containerd'], ['runc', 'runc'], ['ctr', 'containerd'], ['gcc', 'gcc']]
    .filter(([tool]) => spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0).map(([tool, pkg]) => `${tool} (${pkg})`)
  if (!existsSync('/usr/lib/cni/bridge')) missing.push('/usr/lib/cni/bridge (containernetworking-plugins)')
  if (missing.length > 0) fail(`missing: ${missing.join(', ')}`)
  // Everything that needs the network (the Go module proxy, the npm registry) happens here, outside; inside, the
  // run is offline (needs.ts).
  let images: NodeImages
  try {
    images = (await prepare(['node'])).images!
  } catch (err) {
    fail((err as Error).message)
  }
  const unlock = lock()
  const before = kernelSettingsBefore()
  const cgroupsCleanAtStart = removeKubepodsCgroups()
  const mountsBefore = mounts()

  // If this process is killed outright (SIGKILL: no chance to clean up), unshare is killed with it (setpriv's
  // parent-death signal), and unshare's child with unshare (--kill-child): the PID namespace, and every process of
  // the run, goes with them. What the run left outside, the next run clears (lock, kernel settings, cgroups).
  const child = spawn('setpriv', ['--pdeathsig', 'KILL', '--', 'unshare', '--kill-child', '--fork', '--pid', '--mount-proc', '--net', '--mount', '--propagation', 'private', '--',
    process.execPath, ...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, ...offlineEnv('node'), SECRETWIRE_NODE_INSIDE: '1', SECRETWIRE_NODE_IMAGES: JSON.stringify(images) },
  })
  const exited = new Promise<number>((res) => child.on('exit', (code, signal) => res(code ?? (signal ? 1 : 0))))
  // unshare itself holds the new network and mount namespaces (it forks only for the PID namespace).
  say(`the run's namespaces: nsenter --target ${child.pid} --net --mount -- COMMAND (kubectl, curl) reaches inside`)
  // Every process of the run lives in the PID namespace of unshare's child: known by it, none can hide afterwards.
  const pidNamespace = await runPidNamespace(child.pid!)
  const forward = (signal: NodeJS.Signals) => child.kill(signal)
  process.on('SIGINT', forward).on('SIGTERM', forward)
  const status = await exited
  // The PID namespace is gone with its first process; what ran in it is being killed. Then what it left outside.
  await retry(() => removeKubepodsCgroups(), 10_000)
  restoreKernelSettings(before)
  // The run's promise: no process, mount or cgroup of it outlives it. Checked, not assumed: anything left fails
  // the run, naming it. (Its network namespace and /run go with its last process and its mount namespace.)
  let left: string[] = []
  await retry(() => (left = leftovers(pidNamespace, mountsBefore, cgroupsCleanAtStart)).length === 0, 10_000)
  unlock()
  if (left.length > 0) fail(`the run left behind:\n  ${left.join('\n  ')}`)
  say('nothing left behind: no process, mount or cgroup of the run')
  process.exit(status)
}

/** The PID namespace of unshare's child (`pid:[inode]`), read as soon as that child exists. */
async function runPidNamespace(unsharePid: number): Promise<string> {
  const deadline = Date.now() + 10_000
  for (;;) {
    try {
      const [first] = readFileSync(`/proc/${unsharePid}/task/${unsharePid}/children`, 'utf8').trim().split(/\s+/)
      if (first) return readlinkSync(`/proc/${first}/ns/pid`)
    } catch { /* not forked yet */ }
    if (Date.now() > deadline) fail('could not find the process unshare forked into the new PID namespace')
    await new Promise((r) => setTimeout(r, 20))
  }
}

/** The machine's mounts, by mount point, type and source (options change without anything being left). */
function mounts(): Set<string> {
  return new Set(readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter(Boolean).map((l) => {
    const f = l.split(' ')
    const after = f.indexOf('-')
    return `${f[4]} ${f[after + 1]} ${f[after + 2]}`
  }))
}

function leftovers(pidNamespace: string, mountsBefore: ReadonlySet<string>, cgroupsCleanAtStart: boolean): string[] {
  const processes = readdirSync('/proc').filter((p) => /^\d+$/.test(p)).flatMap((pid) => {
    try {
      return readlinkSync(`/proc/${pid}/ns/pid`) === pidNamespace ? [`process ${pid} ${readFileSync(`/proc/${pid}/comm`, 'utf8').trim()}`] : []
    } catch { return [] } // gone meanwhile
  })
  return [
    ...processes,
    ...[...mounts()].filter((m) => !mountsBefore.has(m)).map((m) => `mount ${m}`),
    ...(!cgroupsCleanAtStart || removeKubepodsCgroups() ? [] : ['cgroup: a kubepods hierarchy under /sys/fs/cgroup is still busy']),
  ]
}

async function inside(): Promise<void> {
  const started = Date.now()
  for (const path of ['/run', '/var/lib', '/var/log']) sh('mount', '-t', 'tmpfs', 'tmpfs', path)
  sh('ip', 'link', 'set', 'lo', 'up')
  sh('ip', 'link', 'add', 'node0', 'type', 'veth', 'peer', 'name', 'node1')
  sh('ip', 'addr', 'add', `${NODE_IP}/24`, 'dev', 'node0')
  sh('ip', 'link', 'set', 'node0', 'up')
  sh('ip', 'link', 'set', 'node1', 'up')
  const images = JSON.parse(process.env.SECRETWIRE_NODE_IMAGES!) as NodeImages

  let cp
  let esoLogs: LogFollower | undefined
  const esoLog = '/var/log/secretwire-external-secrets.log'
  try {
    cp = await startControlPlane({ node: { ip: NODE_IP, images: images.files, sandboxImage: images.sandbox } })
    const bin = await kubectlPath()
    const kubeconfig = cp.info.kubeconfig
    const kubectl: Kubectl = (args, input) => {
      const res = spawnSync(bin, ['--kubeconfig', kubeconfig, ...args], { input, encoding: 'utf8' })
      return { status: res.status, stdout: res.stdout, stderr: res.stderr }
    }
    // ESO as Pods from its own chart (tools/node/eso.ts), its controller's log kept for the tests.
    await installEso(kubectl)
    esoLogs = followPodLogs(cp.kubeConfig(), bin, kubeconfig, ESO_NAMESPACE, ESO_CONTROLLER_SELECTOR, esoLog)
    await installStore(cp.kubeConfig(), cp.info, bin, { asWritten: true })
    await untilStoreReady(cp.kubeConfig())
  } catch (err) {
    say((err as Error).message)
    esoLogs?.stop()
    await cp?.stop()
    process.exit(1)
  }
  say(`node ${NODE_IP} Ready, ESO (its chart, as Pods) and deploy/eso installed, in ${Date.now() - started} ms; kubeconfig ${cp.info.kubeconfig}`)
  // Tests ask for the launcher's commands (stop-apiserver, ...) over a socket of this run.
  const control = createServer((req, res) => {
    let body = ''
    req.setEncoding('utf8').on('data', (c: string) => { body += c }).on('end', () => {
      cp.command(body.trim() as ControlPlaneCommand).then(() => res.end('ok'), (err: Error) => { res.statusCode = 500; res.end(err.message) })
    })
  })
  await new Promise<void>((res) => control.listen(CONTROL_SOCKET, res))
  const env = {
    ...process.env, SECRETWIRE_TEST_KUBECONFIG: cp.info.kubeconfig, SECRETWIRE_TEST_NODE: NODE_IP, SECRETWIRE_NODE_INSIDE: '',
    SECRETWIRE_TEST_CONTROL: CONTROL_SOCKET, SECRETWIRE_TEST_IMAGES: JSON.stringify(images),
    SECRETWIRE_TEST_ESO_LOG: esoLog,
  }
  let status = 0
  if (command.length === 0) {
    await new Promise<void>((res) => { process.once('SIGINT', res); process.once('SIGTERM', res) })
  } else {
    const child = spawn(command[0]!, command.slice(1), { stdio: 'inherit', env })
    const forward = (signal: NodeJS.Signals) => child.kill(signal)
    process.on('SIGINT', forward).on('SIGTERM', forward)
    status = await new Promise<number>((res) => child.on('exit', (code, signal) => res(code ?? (signal ? 1 : 0))))
  }
  control.close()
  esoLogs.stop()
  await cp.stop()
  process.exit(status)
}

/** Removes the kubelet's cgroups (every hierarchy's kubepods tree), deepest first; false while any is busy. */
function removeKubepodsCgroups(): boolean {
  let clean = true
  for (const hierarchy of readdirSync('/sys/fs/cgroup')) {
    const root = join('/sys/fs/cgroup', hierarchy, 'kubepods')
    if (!existsSync(root)) continue
    const dirs = [root, ...readdirSync(root, { recursive: true, withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => join(e.parentPath, e.name))]
    for (const dir of dirs.sort((a, b) => b.length - a.length)) {
      try { rmdirSync(dir) } catch { clean = false }
    }
  }
  return clean
}

/** Where the kernel settings as they were before a run are kept until it has put them back. */
const kernelSettingsFile = () => join(cacheRoot(), 'node.kernel-settings.json')
const sysctlPath = (k: string) => `/proc/sys/${k.replaceAll('.', '/')}`

/**
 * The kernel settings to put back after this run: as they are now, unless a run that was killed before it could
 * restore them left its record (then those, restored now: what the machine had before any run).
 */
function kernelSettingsBefore(): Record<string, string> {
  let before: Record<string, string> | undefined
  try { before = JSON.parse(readFileSync(kernelSettingsFile(), 'utf8')) as Record<string, string> } catch { /* none left */ }
  if (before !== undefined) {
    say('a previous node run ended without restoring the kernel settings: restoring them now')
    restoreKernelSettings(before)
  }
  before = Object.fromEntries(sysctls.map((k) => [k, readFileSync(sysctlPath(k), 'utf8').trim()]))
  writeFileSync(kernelSettingsFile(), JSON.stringify(before))
  return before
}

function restoreKernelSettings(before: Readonly<Record<string, string>>): void {
  const changed = sysctls.filter((k) => before[k] !== undefined && readFileSync(sysctlPath(k), 'utf8').trim() !== before[k])
  for (const k of changed) writeFileSync(sysctlPath(k), before[k]!)
  if (changed.length > 0) say(`restored ${changed.map((k) => `${k}=${before[k]}`).join(', ')} (the kubelet had changed them)`)
  rmSync(kernelSettingsFile(), { force: true })
}

/** A process by pid and start time (field 22 of /proc/PID/stat): a pid reused by another process is not it. */
function processId(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return `${pid} ${stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]}`
  } catch {
    return undefined
  }
}

function lock(): () => void {
  const dir = join(cacheRoot(), 'node.lock')
  mkdirSync(cacheRoot(), { recursive: true })
  try {
    mkdirSync(dir)
  } catch {
    let holder = ''
    try { holder = readFileSync(join(dir, 'pid'), 'utf8').trim() } catch { /* a run killed between mkdir and write */ }
    if (holder !== '' && processId(Number(holder.split(' ')[0])) === holder) {
      fail(`another node run holds ${dir} (process ${holder.split(' ')[0]}): one node run at a time (the kubelet's cgroups are machine-wide)`)
    }
    rmSync(dir, { recursive: true, force: true })
    mkdirSync(dir)
  }
  writeFileSync(join(dir, 'pid'), processId(process.pid)!)
  return () => rmSync(dir, { recursive: true, force: true })
}

/** Tries until `attempt` succeeds or the time is up; whether it succeeded. */
async function retry(attempt: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (!attempt()) {
    if (Date.now() > deadline) return false
    await new Promise((r) => setTimeout(r, 200))
  }
  return true
}

function sh(...args: string[]): void {
  const res = spawnSync(args[0]!, args.slice(1), { encoding: 'utf8' })
  if (res.status !== 0) fail(`${args.join(' ')}: ${res.stderr || res.error?.message}`)
}

function fail(message: string): never {
  say(`node: ${message}`)
  process.exit(1)
}

// Last, so that every constant above is initialised before either side runs.
if (process.env.SECRETWIRE_NODE_INSIDE === '1') await inside()
else await outside()
