// Room: src/core/plan.ts through the API server and its controllers
// What happens after admission, with the real controllers acting on what secretwire stored: the Deployment and
// ReplicaSet controllers, the Job and CronJob controllers, the garbage collector and the namespace controller.
// Each test here failed before its fix (issue 12): a Deployment stored during an outage forked ReplicaSets
// without end once secretwire was back, an unwired Job could not be labelled, and updates that changed nothing
// secretwire wires were refused once the policy or the cluster had moved on.
import {
  AppsV1Api, BatchV1Api, CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions, type KubeConfig, type V1ReplicaSet,
} from '@kubernetes/client-node'
import t from 'tap'
import { consumerExternalSecret } from '../../src/core/esoobjects.ts'
import { parsePolicy } from '../../src/core/policy.ts'
import { untilWebhookAnswers } from '../../tools/cluster/webhook.ts'
import { freshNamespace, kubeConfig } from '../helpers/cluster.ts'
import { annotated, pod, workload } from '../helpers/objects.ts'
import { startSecretwire } from '../helpers/secretwire.ts'

const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch)
const wiredEnv = (name: string) => [{ name: name.toUpperCase().replaceAll('-', '_'), valueFrom: { secretKeyRef: { name: `secretwire-${name}`, key: 'password' } } }]

async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> {
  let value: T | undefined | false
  await untilWebhookAnswers(async () => (value = await probe()) !== undefined && value !== false, timeoutMs)
    .catch(() => { throw new Error(`not within ${timeoutMs} ms: ${what}`) })
  return value as T
}

const replicaSets = async (kc: KubeConfig, namespace: string): Promise<V1ReplicaSet[]> =>
  (await kc.makeApiClient(AppsV1Api).listNamespacedReplicaSet({ namespace })).items

t.test('a Deployment stored during an outage keeps one ReplicaSet when it is scaled after secretwire returns', async (t) => {
  const kc = await kubeConfig()
  const namespace = await freshNamespace(t, kc)
  const apps = kc.makeApiClient(AppsV1Api)
  // The outage: no webhook yet, so the Deployment and its ReplicaSet are stored unwired.
  await apps.createNamespacedDeployment({ namespace, body: workload('Deployment', { name: 'web', annotations: annotated('outage-db') }) })
  await until('the Deployment controller makes its ReplicaSet', async () => (await replicaSets(kc, namespace)).length === 1)
  const core = kc.makeApiClient(CoreV1Api)
  const unwired = await until('its Pod is created, unwired', async () => {
    const items = (await core.listNamespacedPod({ namespace })).items
    return items.length === 1 ? items.map((p) => p.metadata!.name!) : undefined
  })

  const sw = await startSecretwire(t, kc, { namespaces: [namespace] })
  await apps.patchNamespacedDeploymentScale({ namespace, name: 'web', body: { spec: { replicas: 3 } } }, merge)
  await until('the ReplicaSet is scaled to 3', async () => (await replicaSets(kc, namespace))[0]?.spec?.replicas === 3)
  t.ok(sw.admissions.some((a) => a.request.kind.kind === 'ReplicaSet' && a.request.operation === 'UPDATE'),
    'the controller\'s update of the ReplicaSet went through secretwire')
  // A patched ReplicaSet template no longer matches the Deployment's: the controller would make a new ReplicaSet
  // at once, and again for that one. Watched for a while, the count stays 1.
  for (let i = 0; i < 20; i++) {
    const names = (await replicaSets(kc, namespace)).map((rs) => rs.metadata?.name)
    if (names.length !== 1) {
      t.fail(`ReplicaSets: ${names.join(', ')}`)
      return
    }
    await new Promise((r) => setTimeout(r, 150))
  }
  t.pass('one ReplicaSet, before and after')
  const rs = (await replicaSets(kc, namespace))[0]!
  t.equal(rs.spec?.template?.spec?.containers[0]?.env, undefined, 'its template is still the Deployment\'s (unwired) copy')
  const pods = await until('its new Pods are created', async () => {
    const items = (await core.listNamespacedPod({ namespace })).items.filter((p) => !unwired.includes(p.metadata!.name!))
    return items.length === 2 ? items : undefined
  })
  for (const p of pods) t.same(p.spec?.containers[0]?.env, wiredEnv('outage-db'), `${p.metadata?.name}: wired at creation`)
})

t.test('a Job stored unwired can still be labelled once secretwire is back (its template is immutable)', async (t) => {
  const kc = await kubeConfig()
  const namespace = await freshNamespace(t, kc)
  const batch = kc.makeApiClient(BatchV1Api)
  await batch.createNamespacedJob({ namespace, body: workload('Job', { name: 'migrate', annotations: annotated('job-db') }) })
  const sw = await startSecretwire(t, kc, { namespaces: [namespace] })
  const labelled = await batch.patchNamespacedJob({ namespace, name: 'migrate', body: { metadata: { labels: { team: 'db' } } } }, merge)
  t.equal(labelled.metadata?.labels?.team, 'db', 'labelled')
  t.equal(labelled.spec?.template.spec?.containers[0]?.env, undefined, 'the template as it was')
  t.match(sw.admissions.find((a) => a.request.kind.kind === 'Job')?.admission.plan, { wire: false, reason: /cannot change after creation/ })
})

t.test('a namespace with annotated workloads terminates while secretwire is up, a finalizer held by another controller too', async (t) => {
  const kc = await kubeConfig()
  const namespace = await freshNamespace(t, kc)
  await startSecretwire(t, kc, { namespaces: [namespace] })
  const apps = kc.makeApiClient(AppsV1Api)
  const batch = kc.makeApiClient(BatchV1Api)
  const core = kc.makeApiClient(CoreV1Api)
  await apps.createNamespacedDeployment({ namespace, body: workload('Deployment', { name: 'web', annotations: annotated('ns-db') }) })
  const held = workload('Deployment', { name: 'held', annotations: annotated('ns-db') })
  held.metadata.finalizers = ['example.com/hold']
  await apps.createNamespacedDeployment({ namespace, body: held })
  await batch.createNamespacedJob({ namespace, body: workload('Job', { name: 'job', annotations: annotated('ns-db') }) })
  await batch.createNamespacedCronJob({ namespace, body: workload('CronJob', { name: 'cron', annotations: annotated('ns-db') }) })
  await until('the ReplicaSets exist', async () => (await replicaSets(kc, namespace)).length === 2)

  await core.deleteNamespace({ name: namespace, body: { propagationPolicy: 'Foreground' } })
  await until('the held Deployment is being deleted', async () =>
    (await apps.readNamespacedDeployment({ namespace, name: 'held' })).metadata?.deletionTimestamp !== undefined)
  // The other controller lets go: an UPDATE of a deleting object, in a terminating namespace.
  const released = await apps.patchNamespacedDeployment({ namespace, name: 'held', body: { metadata: { finalizers: null } } }, merge)
  t.same(released.metadata?.finalizers ?? [], [], 'the finalizer removal was admitted')
  await until('the namespace is gone', async () => core.readNamespace({ name: namespace }).then(() => false, (e: { code?: number }) => e.code === 404), 90_000)
  t.pass('the namespace terminated')
})

t.test('an update that changes no shared secret is never refused: policy tightened, ExternalSecret impossible', async (t) => {
  const kc = await kubeConfig()
  const namespace = await freshNamespace(t, kc)
  const sw = await startSecretwire(t, kc, {
    namespaces: [namespace], env: { SECRETWIRE_CONFIG: '/policy.yaml' },
    files: { '/policy.yaml': `sharedSecrets:\n  held-db: { namespaces: [${namespace}] }\n` },
  })
  const apps = kc.makeApiClient(AppsV1Api)
  const created = await apps.createNamespacedDeployment({ namespace, body: workload('Deployment', { name: 'web', annotations: annotated('held-db') }) })
  t.same(created.spec?.template.spec?.containers[0]?.env, wiredEnv('held-db'), 'wired while allowed')

  // Since then: the policy no longer allows the NAME here, and the namespace's ExternalSecret is gone and cannot
  // be created again (a quota of zero).
  sw.settings.policy.replace(parsePolicy('sharedSecrets:\n  held-db: { namespaces: [elsewhere] }\n', '/policy.yaml'))
  const core = kc.makeApiClient(CoreV1Api)
  await core.createNamespacedResourceQuota({ namespace, body: { metadata: { name: 'no-es' }, spec: { hard: { 'count/externalsecrets.external-secrets.io': '0' } } } })
  await kc.makeApiClient(CustomObjectsApi).deleteNamespacedCustomObject({ group: 'external-secrets.io', version: 'v1', plural: 'externalsecrets', namespace, name: 'secretwire-held-db' })

  const scaled = await apps.patchNamespacedDeployment({ namespace, name: 'web', body: { spec: { replicas: 0 } } }, merge)
  t.equal(scaled.spec?.replicas, 0, 'replicas: 0 admitted')
  const relabelled = await apps.patchNamespacedDeployment({ namespace, name: 'web', body: { metadata: { labels: { incident: 'yes' } } } }, merge)
  t.equal(relabelled.metadata?.labels?.incident, 'yes', 'a label admitted')
  const last = sw.admissions.filter((a) => a.request.kind.kind === 'Deployment').at(-1)!.admission
  t.match(last.response.warnings, [/^secretwire admitted this update because it does not change the shared secrets this object names, but: shared secret "held-db" may not be used in namespace/])
  t.equal(last.waived?.code, 403, 'the waived denial is recorded')

  // Changing what it names is refused, and so are new Pods.
  await t.rejects(apps.patchNamespacedDeployment({ namespace, name: 'web', body: { spec: { template: { metadata: { annotations: annotated('held-db, other') } } } } }, merge),
    { code: 403 }, 'an update that names another shared secret is refused')
  await t.rejects(core.createNamespacedPod({ namespace, body: pod({ name: 'new', annotations: annotated('held-db') }) }), { code: 403 }, 'a new Pod is refused')
})

t.test('an update that changes no shared secret is never refused: still allowed, but its ExternalSecret cannot be made again', async (t) => {
  const kc = await kubeConfig()
  const namespace = await freshNamespace(t, kc)
  const sw = await startSecretwire(t, kc, { namespaces: [namespace] })
  const apps = kc.makeApiClient(AppsV1Api)
  const created = await apps.createNamespacedDeployment({ namespace, body: workload('Deployment', { name: 'web', annotations: annotated('quota-db') }) })
  t.same(created.spec?.template.spec?.containers[0]?.env, wiredEnv('quota-db'), 'wired')

  // The policy still allows the NAME; the namespace's ExternalSecret is gone and a quota refuses a new one. The
  // ensure step itself fails here (the API server refuses the create), not the policy check.
  const core = kc.makeApiClient(CoreV1Api)
  await core.createNamespacedResourceQuota({ namespace, body: { metadata: { name: 'no-es' }, spec: { hard: { 'count/externalsecrets.external-secrets.io': '0' } } } })
  await kc.makeApiClient(CustomObjectsApi).deleteNamespacedCustomObject({ group: 'external-secrets.io', version: 'v1', plural: 'externalsecrets', namespace, name: 'secretwire-quota-db' })
  await until('the quota is in force', async () => kc.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({
    group: 'external-secrets.io', version: 'v1', plural: 'externalsecrets', namespace, dryRun: 'All',
    // Another store's name: only the quota may refuse it (the guard policies reserve secretwire's store).
    body: { ...consumerExternalSecret('probe', namespace, { ...sw.settings, clusterSecretStore: 'probe-store' }), metadata: { name: 'probe', namespace } },
  }).then(() => false, (e: { code?: number, body?: string }) => e.code === 403 && String(e.body).includes('exceeded quota')))

  const scaled = await apps.patchNamespacedDeployment({ namespace, name: 'web', body: { spec: { replicas: 0 } } }, merge)
  t.equal(scaled.spec?.replicas, 0, 'replicas: 0 admitted')
  const relabelled = await apps.patchNamespacedDeployment({ namespace, name: 'web', body: { metadata: { labels: { incident: 'yes' } } } }, merge)
  t.equal(relabelled.metadata?.labels?.incident, 'yes', 'a label admitted')
  const last = sw.admissions.filter((a) => a.request.kind.kind === 'Deployment').at(-1)!.admission
  t.match(last.response.warnings, [/^secretwire admitted this update because it does not change the shared secrets this object names, but: .*ExternalSecret .*secretwire-quota-db.*exceeded quota/])
  t.equal(last.waived?.code, 403, 'the waived denial is the API server\'s refusal')

  // A new Pod needs the ExternalSecret: refused, with the quota named.
  await t.rejects(core.createNamespacedPod({ namespace, body: pod({ name: 'new', annotations: annotated('quota-db') }) }), { code: 403, body: /exceeded quota/ }, 'a new Pod is refused')
})

t.test('SECRETWIRE_INJECT=pods: an annotation on the workload alone is refused, saying where it belongs', async (t) => {
  const kc = await kubeConfig()
  const namespace = await freshNamespace(t, kc)
  await startSecretwire(t, kc, { namespaces: [namespace], env: { SECRETWIRE_INJECT: 'pods' } })
  const refused = kc.makeApiClient(AppsV1Api).createNamespacedDeployment({ namespace, body: workload('Deployment', { ownAnnotations: annotated('pods-db') }) })
  await t.rejects(refused, { code: 400 })
  t.match(String(await refused.catch((e: { body?: string }) => e.body)), 'it must be on the pod template: Pods are wired from their own annotations and inherit only spec.template.metadata')
  const onTemplate = await kc.makeApiClient(AppsV1Api).createNamespacedDeployment({ namespace, body: workload('Deployment', { name: 'ok', annotations: annotated('pods-db') }) })
  t.equal(onTemplate.spec?.template.spec?.containers[0]?.env, undefined, 'on the template: admitted, the template left alone')
  const pods = await until('its Pod is created, wired', async () => {
    const items = (await kc.makeApiClient(CoreV1Api).listNamespacedPod({ namespace })).items
    return items.length === 1 ? items : undefined
  })
  t.same(pods[0]?.spec?.containers[0]?.env, wiredEnv('pods-db'))
})
