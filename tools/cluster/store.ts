// Sets up the ESO side of the seed on a local control plane from deploy/eso, as a user would apply it. ESO out of
// cluster (a sidecar of the launcher) gets the one thing only a real cluster network provides: the API server's
// address (kubernetes.default.svc does not resolve on the machine running the tests). ESO in a Pod on the node
// takes deploy/eso as written (tools/node/eso.ts).
import { spawnSync } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { CoreV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node'
import { parseAllDocuments, stringify } from 'yaml'
import type { ControlPlaneInfo } from './controlplane.ts'
import { repoRoot } from '../paths.ts'

interface Doc {
  kind: string
  metadata: { name: string, namespace?: string }
  spec?: { provider?: { kubernetes?: { server?: { url?: string } } } }
}

/**
 * Applies deploy/eso; with `strategy: 'push'` together with deploy/components/push-strategy, as a user of the
 * push strategy would (it gives the store's ServiceAccount write access to the storage namespace's Secrets).
 */
export async function installStore(kc: KubeConfig, info: ControlPlaneInfo, kubectlPath: string,
  opts: { strategy?: 'generate' | 'push', /** ESO runs in a Pod, where deploy/eso's URL reaches the API server. */ asWritten?: boolean } = {}): Promise<void> {
  const overlay = await mkdtemp(join(tmpdir(), 'secretwire-eso-'))
  await writeFile(join(overlay, 'kustomization.yaml'), stringify({
    // Kustomize takes only relative paths.
    resources: [relative(overlay, join(repoRoot, 'deploy', 'eso'))],
    ...(opts.strategy === 'push' && { components: [relative(overlay, join(repoRoot, 'deploy', 'components', 'push-strategy'))] }),
  }))
  const built = spawnSync(kubectlPath, ['kustomize', '--load-restrictor=LoadRestrictionsNone', overlay], { encoding: 'utf8' })
  await rm(overlay, { recursive: true, force: true })
  if (built.status !== 0) throw new Error(`kustomize deploy/eso: ${built.stderr}`)
  const docs = parseAllDocuments(built.stdout).map((d) => d.toJS() as Doc)
  for (const doc of docs) {
    const server = doc.spec?.provider?.kubernetes?.server
    if (doc.kind === 'ClusterSecretStore' && server && opts.asWritten !== true) server.url = info.server
  }
  const applied = spawnSync(kubectlPath, ['--kubeconfig', info.kubeconfig, 'apply', '--server-side', '-f', '-'], {
    input: docs.map((d) => stringify(d)).join('---\n'), encoding: 'utf8',
  })
  if (applied.status !== 0) throw new Error(`applying deploy/eso: ${applied.stderr}`)

  await untilStorageNamespaceReady(kc)
}

/**
 * The store's caProvider reads kube-root-ca.crt, which kube-controller-manager publishes in every namespace; and
 * until the quota controller has counted the storage namespace, the API server refuses every create there.
 */
export async function untilStorageNamespaceReady(kc: KubeConfig): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api)
  const deadline = Date.now() + 30_000
  const ready = async () => {
    const ca = await core.readNamespacedConfigMap({ namespace: 'eso-secret-storage', name: 'kube-root-ca.crt' }).then(() => true, () => false)
    const quota = await core.readNamespacedResourceQuota({ namespace: 'eso-secret-storage', name: 'secretwire-storage' }).catch(() => undefined)
    const counted = Object.keys(quota?.spec?.hard ?? {}).every((r) => quota?.status?.used?.[r] !== undefined)
    return ca && quota !== undefined && counted
  }
  while (!(await ready())) {
    if (Date.now() > deadline) throw new Error('eso-secret-storage: kube-root-ca.crt not published or quota not counted within 30 s (is kube-controller-manager running?)')
    await new Promise((r) => setTimeout(r, 100))
  }
}

/** Waits until ESO reports the ClusterSecretStore Ready (it has validated its credentials). */
export async function untilStoreReady(kc: KubeConfig, name = 'eso-cluster-secret-store', timeoutMs = 60_000): Promise<void> {
  const co = kc.makeApiClient(CustomObjectsApi)
  const deadline = Date.now() + timeoutMs
  let last = 'not found'
  while (Date.now() < deadline) {
    const store = await co.getClusterCustomObject({ group: 'external-secrets.io', version: 'v1', plural: 'clustersecretstores', name })
      .catch(() => undefined) as { status?: { conditions?: { type: string, status: string, message?: string }[] } } | undefined
    const ready = store?.status?.conditions?.find((c) => c.type === 'Ready')
    if (ready?.status === 'True') return
    last = ready?.message ?? 'no Ready condition yet'
    await new Promise((r) => setTimeout(r, 250))
  }
  throw new Error(`ClusterSecretStore ${name} not Ready after ${timeoutMs} ms: ${last}`)
}
