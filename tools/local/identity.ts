// A ServiceAccount's identity (TokenRequest through the real API server): how the demo runs secretwire with the
// RBAC of deploy/webhook, and how tests check what RBAC allows.
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node'

export async function serviceAccountKubeConfig(admin: KubeConfig, namespace: string, name: string, expirationSeconds = 3600): Promise<KubeConfig> {
  const core = admin.makeApiClient(CoreV1Api)
  await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name } } }).catch((err: { code?: number }) => {
    if (err.code !== 409) throw err
  })
  const token = await core.createNamespacedServiceAccountToken({ namespace, name, body: { spec: { audiences: [], expirationSeconds } } })
  const cluster = admin.getCurrentCluster()!
  const kc = new KubeConfig()
  kc.loadFromOptions({
    clusters: [{ ...cluster }],
    users: [{ name, token: token.status?.token }],
    contexts: [{ name, cluster: cluster.name, user: name }],
    currentContext: name,
  })
  return kc
}
