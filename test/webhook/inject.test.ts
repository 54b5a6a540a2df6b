// Room: src/core/plan.ts through the API server
// SECRETWIRE_INJECT=pods: workload templates stay as written (no GitOps drift); the objects are ensured at
// workload admission, and the env vars go into the Pods.
import { AppsV1Api, CoreV1Api } from '@kubernetes/client-node'
import t from 'tap'
import { freshNamespace, kubeConfig } from '../helpers/cluster.ts'
import { inventory } from '../helpers/eso.ts'
import { annotated, pod, workload } from '../helpers/objects.ts'
import { startSecretwire } from '../helpers/secretwire.ts'

t.test('inject=pods', async (t) => {
  const kc = await kubeConfig()
  const namespace = await freshNamespace(t, kc)
  const sw = await startSecretwire(t, kc, { namespaces: [namespace], env: { SECRETWIRE_INJECT: 'pods' } })
  const apps = kc.makeApiClient(AppsV1Api)
  const core = kc.makeApiClient(CoreV1Api)

  const body = workload('Deployment', { annotations: annotated('db') })
  const stored = await apps.createNamespacedDeployment({ namespace, body })
  t.same(stored.spec?.template.spec?.containers.map((c) => c.env), [undefined], 'template untouched')
  t.same(await inventory(kc, namespace, sw.settings.storageNamespace), [
    `ExternalSecret ${namespace}/secretwire-db`,
    `Password ${sw.settings.storageNamespace}/secretwire-db`,
    `ExternalSecret ${sw.settings.storageNamespace}/secretwire-db`,
  ].sort(), 'ensured at workload admission')
  const deploymentAdmission = sw.admissions.find((a) => a.request.kind.kind === 'Deployment')
  // The whole list: where the env var goes, then what was created (an extra or a missing line is a wrong promise).
  const storage = sw.settings.storageNamespace
  t.strictSame(deploymentAdmission?.admission.response.warnings, [
    'SECRETWIRE_INJECT=pods: this Deployment\'s pod template is left as is; DB are added to its Pods when they are created',
    `secretwire created Password ${storage}/secretwire-db`,
    `secretwire created ExternalSecret ${storage}/secretwire-db`,
    `secretwire created ExternalSecret ${namespace}/secretwire-db`,
    'Pods start once ESO has synced Secret secretwire-db',
  ])

  // The Pod a ReplicaSet would create from that template carries the template's annotations.
  const created = await core.createNamespacedPod({ namespace, body: pod({ annotations: annotated('db') }) })
  t.same(created.spec?.containers[0]?.env, [{ name: 'DB', valueFrom: { secretKeyRef: { name: 'secretwire-db', key: 'password' } } }])
})
