// Sets up the ESO side of the seed on a local control plane from deploy/eso, as a user would apply it, with the
// two things only a real cluster provides: the API server's address (there is no kubernetes.default.svc here)
// and the kube-root-ca.crt ConfigMap that kube-controller-manager would publish.
import { spawnSync } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { CoreV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node'
import { parseAllDocuments, stringify } from 'yaml'
import type { ControlPlaneInfo } from './controlplane.ts'
import { repoRoot } from './paths.ts'

interface Doc {
  kind: string
  metadata: { name: string, namespace?: string }
  spec?: { provider?: { kubernetes?: { server?: { url?: string } } } }
}

export async function installStore(kc: KubeConfig, info: ControlPlaneInfo, kubectlPath: string): Promise<void> {
  const built = spawnSync(kubectlPath, ['kustomize', join(repoRoot, 'deploy', 'eso')], { encoding: 'utf8' })
  if (built.status !== 0) throw new Error(`kustomize deploy/eso: ${built.stderr}`)
  const docs = parseAllDocuments(built.stdout).map((d) => d.toJS() as Doc)
  for (const doc of docs) {
    const server = doc.spec?.provider?.kubernetes?.server
    if (doc.kind === 'ClusterSecretStore' && server) server.url = info.server
  }
  const applied = spawnSync(kubectlPath, ['--kubeconfig', info.kubeconfig, 'apply', '--server-side', '-f', '-'], {
    input: docs.map((d) => stringify(d)).join('---\n'), encoding: 'utf8',
  })
  if (applied.status !== 0) throw new Error(`applying deploy/eso: ${applied.stderr}`)

  const core = kc.makeApiClient(CoreV1Api)
  await core.createNamespacedConfigMap({
    namespace: 'eso-secret-storage',
    body: { metadata: { name: 'kube-root-ca.crt' }, data: { 'ca.crt': await readFile(info.caFile, 'utf8') } },
  }).catch((err: { code?: number }) => { if (err.code !== 409) throw err })
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
