// Room: src/core/workload.ts through the API server
// Every kind in the contract, admitted by the real API server: the stored object carries the env var, and the
// ESO objects exist.
import { PatchStrategy, setHeaderOptions, AppsV1Api, BatchV1Api, CoreV1Api, type V1PodSpec } from '@kubernetes/client-node'
import t from 'tap'
import { freshNamespace, kubeConfig } from '../helpers/cluster.ts'
import { inventory } from '../helpers/eso.ts'
import { annotated, pod, workload } from '../helpers/objects.ts'
import { startSecretwire } from '../helpers/secretwire.ts'

const wiredEnv = [{ name: 'GRAFANA_DB', valueFrom: { secretKeyRef: { name: 'secretwire-grafana-db', key: 'password' } } }]

t.test('Pod and every workload kind get the env var through the API server', async (t) => {
  const kc = await kubeConfig()
  const namespace = await freshNamespace(t, kc)
  const sw = await startSecretwire(t, kc, { namespaces: [namespace] })
  const core = kc.makeApiClient(CoreV1Api)
  const apps = kc.makeApiClient(AppsV1Api)
  const batch = kc.makeApiClient(BatchV1Api)
  const o = { annotations: annotated('grafana-db'), containers: [{ name: 'app', image: 'busybox', env: [{ name: 'X', value: '1' }] }] }

  const stored: Record<string, V1PodSpec | undefined> = {}
  stored.Pod = (await core.createNamespacedPod({ namespace, body: pod(o) })).spec
  stored.Deployment = (await apps.createNamespacedDeployment({ namespace, body: workload('Deployment', o) })).spec?.template.spec
  stored.StatefulSet = (await apps.createNamespacedStatefulSet({ namespace, body: workload('StatefulSet', o) })).spec?.template.spec
  stored.DaemonSet = (await apps.createNamespacedDaemonSet({ namespace, body: workload('DaemonSet', o) })).spec?.template.spec
  stored.ReplicaSet = (await apps.createNamespacedReplicaSet({ namespace, body: workload('ReplicaSet', o) })).spec?.template?.spec
  stored.Job = (await batch.createNamespacedJob({ namespace, body: workload('Job', o) })).spec?.template.spec
  stored.CronJob = (await batch.createNamespacedCronJob({ namespace, body: workload('CronJob', o) })).spec?.jobTemplate.spec?.template.spec

  for (const [kind, spec] of Object.entries(stored)) {
    t.same(spec?.containers[0]?.env, [...wiredEnv, { name: 'X', value: '1' }], `${kind}: injected first, user's env kept`)
  }
  const storage = sw.settings.storageNamespace
  t.same(await inventory(kc, storage, namespace), [
    `ExternalSecret ${namespace}/secretwire-grafana-db`,
    `Password ${storage}/secretwire-grafana-db`,
    `ExternalSecret ${storage}/secretwire-grafana-db`,
  ].sort(), 'one set of objects for seven admissions')
  t.equal(sw.admissions.filter((a) => a.admission.ensured?.created.length).length, 1, 'created by the first admission only')
})

t.test('a workload UPDATE is wired again; an unannotated one is untouched', async (t) => {
  const kc = await kubeConfig()
  const namespace = await freshNamespace(t, kc)
  await startSecretwire(t, kc, { namespaces: [namespace] })
  const apps = kc.makeApiClient(AppsV1Api)

  const plain = await apps.createNamespacedDeployment({ namespace, body: workload('Deployment', { name: 'plain' }) })
  t.equal(plain.spec?.template.spec?.containers[0]?.env, undefined, 'no annotation, no change')

  const created = await apps.createNamespacedDeployment({ namespace, body: workload('Deployment', { name: 'web' }) })
  t.equal(created.spec?.template.spec?.containers[0]?.env, undefined)
  // Merge patches: the Deployment controller writes the object too, so a full replace could race it.
  const patch = (body: object) => apps.patchNamespacedDeployment({ namespace, name: 'web', body }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch))
  const updated = await patch({ spec: { template: { metadata: { annotations: annotated('grafana-db') } } } })
  t.same(updated.spec?.template.spec?.containers[0]?.env, wiredEnv, 'annotated by an update: wired')

  const again = await patch({ metadata: { labels: { touched: 'yes' } } })
  t.same(again.spec?.template.spec?.containers[0]?.env, wiredEnv, 'a later update: still exactly one env var')
})
