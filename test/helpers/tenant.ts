// A tenant as a shared cluster has them: a ServiceAccount bound to the built-in `edit` role in its own namespace.
// With ESO's chart RBAC installed (tools/cluster/eso.ts), kube-controller-manager aggregates ESO's edit and view
// roles into `edit`, so the tenant may create, change and delete ExternalSecrets, PushSecrets, SecretStores and
// generators there: exactly what every namespace editor may do in a cluster where ESO was installed by its chart.
import { RbacAuthorizationV1Api, type KubeConfig } from '@kubernetes/client-node'
import { installEsoRbac } from '../../tools/cluster/eso.ts'
import { serviceAccountKubeConfig } from '../../tools/cluster/identity.ts'

export async function tenantKubeConfig(admin: KubeConfig, namespace: string, name = 'tenant'): Promise<KubeConfig> {
  await installEsoRbac(admin)
  const rbac = admin.makeApiClient(RbacAuthorizationV1Api)
  await rbac.createNamespacedRoleBinding({
    namespace,
    body: {
      metadata: { name: `${name}-edit` },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'edit' },
      subjects: [{ kind: 'ServiceAccount', name, namespace }],
    },
  }).catch((err: { code?: number }) => { if (err.code !== 409) throw err })
  // The clusterrole-aggregation controller fills `edit` in a moment after the ESO roles appear.
  const deadline = Date.now() + 30_000
  for (;;) {
    const edit = await rbac.readClusterRole({ name: 'edit' })
    if (edit.rules?.some((r) => r.resources?.includes('pushsecrets') && r.verbs.includes('create'))) break
    if (Date.now() > deadline) throw new Error('ClusterRole edit did not aggregate ESO\'s edit role within 30 s')
    await new Promise((r) => setTimeout(r, 100))
  }
  return serviceAccountKubeConfig(admin, namespace, name)
}
