// Starts the project's local control plane (real etcd, kube-apiserver, kube-controller-manager and kube-scheduler
// from tools/go/controlplane) and talks to it.
// The Go launcher owns the servers; this side owns the launcher through its stdin, so when this process ends,
// however it ends, the launcher sees EOF and tears everything down.
import { spawn, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { KubeConfig } from '@kubernetes/client-node'
import { crdFiles, type EsoCrds } from './crds.ts'
import { buildControlPlane, buildKubernetes, selectedKubernetes, type KubernetesMinor } from '../build/builds.ts'
import { repoRoot } from '../paths.ts'

export { repoRoot }

export interface ControlPlaneInfo {
  readonly kubeconfig: string
  readonly server: string
  readonly caFile: string
  readonly dir: string
  readonly apiserverPid: number
  readonly etcdPid: number
  /** Every other process it runs, by name: kube-controller-manager, kube-scheduler, each sidecar (0: not running). */
  readonly pids: Readonly<Record<string, number>>
  readonly readyMillis: number
  /** How long each start-up step took (etcd, kube-apiserver, crds, kube-controller-manager, ...). */
  readonly stepMillis: Readonly<Record<string, number>>
  /** Log file of each sidecar, by name. */
  readonly sidecarLogs?: Readonly<Record<string, string>>
}

/** A program run against the control plane once it is ready, with KUBECONFIG set, stopped before it. */
export interface Sidecar {
  readonly name: string
  readonly path: string
  readonly args?: readonly string[]
  /** Environment; KUBECONFIG defaults to the admin kubeconfig. */
  readonly env?: Readonly<Record<string, string>>
  /** Started only by the start-sidecar command (once the caller has made the identity it runs as). */
  readonly manual?: boolean
}

/** Commands the launcher understands (tools/go/controlplane/cmd/controlplane/commands.go). */
export type ControlPlaneCommand =
  | 'stop-apiserver' | 'start-apiserver' | 'pause-apiserver' | 'resume-apiserver'
  | `start-sidecar ${string}` | `stop-sidecar ${string}`

export interface ControlPlane {
  readonly info: ControlPlaneInfo
  kubeConfig(): KubeConfig
  command(command: ControlPlaneCommand): Promise<void>
  stop(): Promise<void>
}

/** A node for the control plane (tools/node/with-node.ts sets it up; the launcher refuses it anywhere else). */
export interface NodeOptions {
  /** The node's address, on an interface of the run's own network namespace. */
  readonly ip: string
  /** OCI image tars to import into its containerd. */
  readonly images: readonly string[]
  readonly sandboxImage: string
}

export interface ControlPlaneOptions {
  readonly sidecars?: readonly Sidecar[]
  readonly kubernetes?: KubernetesMinor
  readonly node?: NodeOptions
  /** Whose ESO CRDs to install (tools/build/gomodules.ts; default: those of the ESO tools/go/eso builds). */
  readonly esoCrds?: EsoCrds
}

export async function startControlPlane(opts: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const kubernetes = opts.kubernetes ?? selectedKubernetes()
  // Sequential: two `go build`s at once would only share the same two cores.
  const binDir = await buildControlPlane()
  const [kubeDir, crds] = await Promise.all([buildKubernetes(kubernetes), crdFiles(opts.esoCrds)])
  const node = opts.node
  const args = [
    ...(kubeDir === binDir ? [] : ['--kube-bin-dir', kubeDir]),
    ...(node === undefined ? [] : ['--node-ip', node.ip, '--sandbox-image', node.sandboxImage, ...node.images.flatMap((i) => ['--image', i])]),
    ...crds.flatMap((crd) => ['--crd', crd]),
    ...(opts.sidecars ?? []).flatMap((s) => [
      '--sidecar', `${s.name}=${s.path}`,
      ...(s.args ?? []).flatMap((a) => ['--sidecar-arg', `${s.name}=${a}`]),
      ...Object.entries(s.env ?? {}).flatMap(([k, v]) => ['--sidecar-env', `${s.name}=${k}=${v}`]),
      ...(s.manual === true ? ['--sidecar-manual', s.name] : []),
    ]),
  ]
  const child = spawn(join(binDir, 'controlplane'), args, { stdio: ['pipe', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => { stderr = (stderr + chunk).slice(-16_384) })
  const lines = createInterface({ input: child.stdout! })
  const replies: Array<(line: string) => void> = []
  const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)))

  const info = await new Promise<ControlPlaneInfo>((res, rej) => {
    child.on('error', rej)
    lines.once('line', (line) => res(JSON.parse(line) as ControlPlaneInfo))
    void exited.then((code) => rej(new Error(
      `the local control plane did not start (launcher exit ${code}):\n${stderr.trim()}`)))
  })
  lines.on('line', (line) => replies.shift()?.(line))

  return {
    info,
    kubeConfig() {
      const kc = new KubeConfig()
      kc.loadFromFile(info.kubeconfig)
      return kc
    },
    async command(command) {
      const reply = await new Promise<string>((res, rej) => {
        replies.push(res)
        void exited.then(() => rej(new Error(`control plane exited before answering ${command}`)))
        child.stdin!.write(`${command}\n`)
      })
      const parsed = JSON.parse(reply) as { ok?: boolean, error?: string }
      if (parsed.ok !== true) throw new Error(`${command}: ${parsed.error ?? reply}`)
    },
    async stop() { await stopLauncher(child, exited) },
  }
}

async function stopLauncher(child: ChildProcess, exited: Promise<number | null>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  child.stdin!.end()
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000)
  await exited
  clearTimeout(timer)
}
