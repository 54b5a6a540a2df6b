// The ground for tests on a node (test/node/): the cluster tools/node/with-node.ts runs (control plane, node,
// ESO, deploy/eso installed); tools/node/install.ts installs secretwire into it as a user would.
import { createHash } from 'node:crypto'
import { request } from 'node:http'
import { CoreV1Api, KubeConfig, type V1Pod } from '@kubernetes/client-node'
import type { ControlPlaneCommand } from '../../tools/cluster/controlplane.ts'
import { images } from '../../tools/build/images.ts'
import { kubectl as kubectlFor, type Kubectl } from './kubectl.ts'

export interface NodeCluster {
  readonly kc: KubeConfig
  readonly kubectl: Kubectl
  readonly nodeIP: string
  /** Every line ESO's controller Pods logged in this run (tools/node/podlogs.ts keeps them past their Pods). */
  readonly esoLog: string
  /** A command of the launcher (tools/go/controlplane commands.go), e.g. stop-apiserver. */
  command(command: ControlPlaneCommand): Promise<void>
}

export async function nodeCluster(): Promise<NodeCluster> {
  const { SECRETWIRE_TEST_KUBECONFIG: path, SECRETWIRE_TEST_NODE: nodeIP, SECRETWIRE_TEST_CONTROL: socket, SECRETWIRE_TEST_ESO_LOG: esoLog } = process.env
  if (!path || !nodeIP || !socket || !esoLog) {
    throw new Error('test/node/ runs on a node: npm run test:node (tools/node/with-node.ts), not on the plain control plane')
  }
  const kc = new KubeConfig()
  kc.loadFromFile(path)
  return {
    kc, nodeIP, esoLog, kubectl: await kubectlFor(path),
    command: (command) => new Promise((res, rej) => {
      const req = request({ socketPath: socket, method: 'POST', path: '/' }, (resp) => {
        let text = ''
        resp.setEncoding('utf8').on('data', (c: string) => { text += c }).on('end', () => resp.statusCode === 200 ? res() : rej(new Error(`${command}: ${text}`)))
      })
      req.on('error', rej)
      req.end(command)
    }),
  }
}

/** The Pods of a namespace matching `labels`, once `done` says they are where the test wants them. */
export async function untilPods(kc: KubeConfig, namespace: string, what: string, done: (pods: V1Pod[]) => boolean, timeoutMs = 120_000, labelSelector?: string): Promise<V1Pod[]> {
  const core = kc.makeApiClient(CoreV1Api)
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const pods = (await core.listNamespacedPod({ namespace, ...(labelSelector && { labelSelector }) })).items
    if (done(pods)) return pods
    if (Date.now() > deadline) {
      const state = pods.map((p) => `${p.metadata?.name}: ${p.status?.phase} ${JSON.stringify(p.status?.containerStatuses?.map((c) => c.state))}`)
      throw new Error(`${namespace}: not within ${timeoutMs} ms: ${what}; pods: ${state.join('; ') || 'none'}`)
    }
    await new Promise((r) => setTimeout(r, 250))
  }
}

/** A container's log (through the API server and the kubelet). */
export async function logOf(kc: KubeConfig, namespace: string, pod: string, container?: string): Promise<string> {
  return kc.makeApiClient(CoreV1Api).readNamespacedPodLog({ namespace, name: pod, ...(container && { container }) })
}

/**
 * Per secretwire Pod, how many times it has logged "policy reloaded". A test that edits the policy ConfigMap waits
 * for every Pod's count to rise: admissions cannot show it, because the API server keeps its connection to one
 * replica, so any number of admitted dry runs in a row may all have been answered by the same one.
 */
export async function policyReloads(kc: KubeConfig): Promise<Map<string, number>> {
  const core = kc.makeApiClient(CoreV1Api)
  const pods = (await core.listNamespacedPod({ namespace: 'secretwire', labelSelector: 'app.kubernetes.io/name=secretwire' })).items
  const counts = new Map<string, number>()
  for (const pod of pods) {
    const log = await logOf(kc, 'secretwire', pod.metadata!.name!, 'secretwire')
    counts.set(pod.metadata!.name!, log.split('\n').filter((l) => l.includes('"msg":"policy reloaded"')).length)
  }
  return counts
}

/** Until every secretwire Pod counted in `before` has reloaded its policy file since. */
export async function untilPolicyReloaded(kc: KubeConfig, before: Map<string, number>, timeoutMs = 180_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const now = await policyReloads(kc)
    const behind = [...before].filter(([pod, n]) => (now.get(pod) ?? 0) <= n).map(([pod]) => pod)
    if (behind.length === 0) return
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: the policy file reloaded by ${behind.join(', ')}`)
    await new Promise((r) => setTimeout(r, 1000))
  }
}

export const sha256 = (value: string) => createHash('sha256').update(value).digest('hex')

/** A container that prints the SHA-256 of each env var named, then stays up (or exits, for Jobs). */
export function reporter(vars: readonly string[], opts: { exit?: boolean, extraEnv?: { name: string, value: string }[] } = {}) {
  // $$ is Kubernetes' escape for $: the shell sees $(printf ...), the kubelet expands nothing there.
  const lines = vars.map((v) => `echo ${v}=$$(printf %s "$${v}" | sha256sum | cut -d' ' -f1)`)
  return {
    name: 'app',
    image: images.busybox,
    command: ['/bin/sh', '-c', [...lines, opts.exit === true ? 'exit 0' : 'exec sleep 3600'].join('; ')],
    ...(opts.extraEnv && { env: opts.extraEnv }),
  }
}

/** A reporter's log as VAR → SHA-256. */
export const reported = (log: string) => Object.fromEntries(log.trim().split('\n').map((l) => l.split('=') as [string, string]))

/**
 * The Pod's report once it holds every key asked for. A Pod is Running as soon as its shell starts, before its echo
 * lines ran: read at once, the log missed the last of them on a slow machine (a cold CI run). After `timeoutMs`, what
 * the log holds, so the test's assertion names the key that never came.
 */
export async function reportOf(kc: KubeConfig, namespace: string, pod: string, keys: readonly string[], timeoutMs = 30_000): Promise<Record<string, string>> {
  const until = Date.now() + timeoutMs
  for (;;) {
    const report = reported(await logOf(kc, namespace, pod))
    if (keys.every((k) => report[k] !== undefined) || Date.now() > until) return report
    await new Promise((r) => setTimeout(r, 250))
  }
}

/** The SHA-256 of shared secret NAME's stored password. */
export async function storedHashOf(kc: KubeConfig, name: string): Promise<string> {
  const secret = await kc.makeApiClient(CoreV1Api).readNamespacedSecret({ namespace: 'eso-secret-storage', name: `secretwire-${name}` })
  return sha256(Buffer.from(secret.data!.password!, 'base64').toString())
}

/** `n` Pods, each with its first container ready. */
export const running = (pods: V1Pod[], n = 1) => pods.length === n && pods.every((p) => p.status?.containerStatuses?.[0]?.ready === true)
