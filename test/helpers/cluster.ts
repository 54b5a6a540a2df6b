// The test side of the local control plane. Under `npm test` one control plane serves the whole run and its
// kubeconfig arrives in SECRETWIRE_TEST_KUBECONFIG; a test file run on its own starts a private one instead.
import { randomBytes } from 'node:crypto'
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node'
import tap, { type Test } from 'tap'
import { startControlPlane, type ControlPlane } from '../../tools/cluster/controlplane.ts'
import { prepare } from '../../tools/build/needs.ts'


let own: Promise<ControlPlane> | undefined

/** Admin access to the run's control plane. */
export async function kubeConfig(): Promise<KubeConfig> {
  const path = process.env.SECRETWIRE_TEST_KUBECONFIG
  if (path !== undefined && path !== '') {
    const kc = new KubeConfig()
    kc.loadFromFile(path)
    return kc
  }
  return (await ownControlPlane()).kubeConfig()
}

/**
 * A control plane this process owns: needed by tests that stop or pause the API server, which must not disturb
 * the tests sharing the run's control plane.
 */
export function ownControlPlane(): Promise<ControlPlane> {
  if (own === undefined) {
    // A test file run on its own fetches what a control plane needs first (under npm test, a check: all is there).
    own = prepare(['controlplane']).then(() => startControlPlane())
    tap.teardown(async () => { await (await own!).stop() })
  }
  return own
}

/**
 * Creates a namespace for one test and deletes it afterwards, so tests never see each other's objects. Returns
 * once its `default` ServiceAccount exists: until the ServiceAccount controller has made it, the API server
 * refuses Pods there, as in any cluster.
 */
export async function freshNamespace(t: Test, kc: KubeConfig, prefix = 't'): Promise<string> {
  const name = `${prefix}-${randomBytes(4).toString('hex')}`
  const core = kc.makeApiClient(CoreV1Api)
  await core.createNamespace({ body: { metadata: { name, annotations: { 'secretwire.test/name': t.fullname.slice(0, 250) } } } })
  t.teardown(async () => { await core.deleteNamespace({ name }).catch(() => undefined) })
  await untilServiceAccount(kc, name)
  return name
}

/** Waits for the `default` ServiceAccount the ServiceAccount controller makes in every new namespace. */
export async function untilServiceAccount(kc: KubeConfig, namespace: string, timeoutMs = 30_000): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api)
  const deadline = Date.now() + timeoutMs
  while (!(await core.readNamespacedServiceAccount({ namespace, name: 'default' }).then(() => true, () => false))) {
    if (Date.now() > deadline) throw new Error(`namespace ${namespace} has no default ServiceAccount after ${timeoutMs} ms (is kube-controller-manager running?)`)
    await new Promise((r) => setTimeout(r, 50))
  }
}
