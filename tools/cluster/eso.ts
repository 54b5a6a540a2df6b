// The External Secrets Operator's controller (tools/build/builds.ts builds it from tools/go/eso), run as a sidecar of the local control plane as a real install runs it: as its own ServiceAccount
// (external-secrets/external-secrets) with the ClusterRole of ESO's Helm chart, and with the chart's view/edit
// roles aggregated into the built-in roles, so namespace editors hold exactly the ESO rights they hold in a
// cluster where ESO was installed with its chart.
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { CoreV1Api, RbacAuthorizationV1Api, type KubeConfig } from '@kubernetes/client-node'
import type { ControlPlane, Sidecar } from './controlplane.ts'
import { esoChartRbac } from './esochart.ts'
import { buildEso } from '../build/builds.ts'
import { serviceAccountKubeConfig } from './identity.ts'
import { repoRoot } from '../paths.ts'

export const ESO_NAMESPACE = 'external-secrets'
export const ESO_SERVICE_ACCOUNT = 'external-secrets'
export const ESO_SIDECAR = 'external-secrets'

/** ESO's kubeconfig, in the control plane's own directory (removed with it). */
const kubeconfigFile = 'external-secrets.kubeconfig'

/**
 * ESO running out of cluster against the control plane: no metrics port, no leader election, quick store checks.
 * It is started by `startEso` once its identity exists.
 */
export async function esoSidecar(): Promise<Sidecar> {
  return {
    name: ESO_SIDECAR,
    path: await buildEso(),
    args: ['--metrics-addr=0', '--enable-leader-election=false', '--store-requeue-interval=5s', '--loglevel=info', '--concurrent=4'],
    env: { KUBECONFIG: `{dir}/${kubeconfigFile}` },
    manual: true,
  }
}

/** Installs ESO's chart RBAC and ServiceAccount, writes ESO's kubeconfig and starts the sidecar. */
export async function startEso(cp: ControlPlane): Promise<void> {
  const kc = cp.kubeConfig()
  await installEsoRbac(kc)
  const identity = await serviceAccountKubeConfig(kc, ESO_NAMESPACE, ESO_SERVICE_ACCOUNT, 24 * 3600)
  await writeFile(join(cp.info.dir, kubeconfigFile), identity.exportConfig(), { mode: 0o600 })
  await cp.command(`start-sidecar ${ESO_SIDECAR}`)
}

export async function installEsoRbac(kc: KubeConfig): Promise<void> {
  const rbac = kc.makeApiClient(RbacAuthorizationV1Api)
  const core = kc.makeApiClient(CoreV1Api)
  const rules = await esoChartRbac()
  const exists = (err: { code?: number }) => { if (err.code !== 409) throw err }
  await core.createNamespace({ body: { metadata: { name: ESO_NAMESPACE } } }).catch(exists)
  const labels = { 'app.kubernetes.io/name': 'external-secrets' }
  const aggregate = (...roles: string[]) => Object.fromEntries(roles.map((r) => [`rbac.authorization.k8s.io/aggregate-to-${r}`, 'true']))
  for (const [name, ruleSet, extra] of [
    ['external-secrets-controller', rules.controller, {}],
    ['external-secrets-view', rules.view, aggregate('view', 'edit', 'admin')],
    ['external-secrets-edit', rules.edit, aggregate('edit', 'admin')],
  ] as const) {
    await rbac.createClusterRole({ body: { metadata: { name, labels: { ...labels, ...extra } }, rules: [...ruleSet] } }).catch(exists)
  }
  await rbac.createClusterRoleBinding({
    body: {
      metadata: { name: 'external-secrets-controller', labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'external-secrets-controller' },
      subjects: [{ kind: 'ServiceAccount', name: ESO_SERVICE_ACCOUNT, namespace: ESO_NAMESPACE }],
    },
  }).catch(exists)
}
