// Room: tools/cluster/controlplane.ts, tools/go/controlplane/
// The control plane runs what a real cluster runs besides the API server: the controllers act on what is stored
// and the scheduler looks at every Pod. (No node runs here: Pods are scheduled nowhere and say so.)
import { AppsV1Api, CoreV1Api, VersionApi } from '@kubernetes/client-node'
import t from 'tap'
import { kubernetesMinors, selectedKubernetes } from '../../../tools/build/builds.ts'
import { untilWebhookAnswers } from '../../../tools/cluster/webhook.ts'
import { freshNamespace, kubeConfig } from '../../helpers/cluster.ts'
import { workload } from '../../helpers/objects.ts'

const until = (what: string, probe: () => Promise<boolean>, timeoutMs = 30_000) =>
  untilWebhookAnswers(probe, timeoutMs).catch(() => { throw new Error(`not within ${timeoutMs} ms: ${what}`) })

t.test('the API server is the Kubernetes version selected for the run', async (t) => {
  const version = await (await kubeConfig()).makeApiClient(VersionApi).getCode()
  t.equal(`${version.major}.${version.minor}`, selectedKubernetes(), `${version.gitVersion} (of ${Object.keys(kubernetesMinors).join(', ')})`)
})

t.test('a Deployment becomes a ReplicaSet and Pods; the scheduler finds no node for them', async (t) => {
  const kc = await kubeConfig()
  const namespace = await freshNamespace(t, kc)
  const core = kc.makeApiClient(CoreV1Api)
  // freshNamespace waits for the ServiceAccount controller; the root CA publisher is another controller, with its own
  // queue: under load its ConfigMap can come later (CI once read it 404 here).
  await until('the root CA publisher writes kube-root-ca.crt', () => core.readNamespacedConfigMap({ namespace, name: 'kube-root-ca.crt' }).then(() => true, () => false))
  t.pass('the root CA publisher wrote kube-root-ca.crt')
  const deployment = workload('Deployment', { name: 'web' })
  deployment.spec.replicas = 2
  await kc.makeApiClient(AppsV1Api).createNamespacedDeployment({ namespace, body: deployment })
  await until('two Pods, each marked unschedulable by the scheduler', async () => {
    const pods = (await core.listNamespacedPod({ namespace })).items
    return pods.length === 2 && pods.every((p) => p.status?.conditions?.some((c) => c.type === 'PodScheduled' && c.reason === 'Unschedulable'))
  })
  const rs = (await kc.makeApiClient(AppsV1Api).listNamespacedReplicaSet({ namespace })).items
  t.equal(rs.length, 1, 'one ReplicaSet')
  t.equal(rs[0]?.metadata?.ownerReferences?.[0]?.kind, 'Deployment', 'owned by the Deployment')

  // The garbage collector deletes what the Deployment owned; the namespace controller empties the namespace.
  await kc.makeApiClient(AppsV1Api).deleteNamespacedDeployment({ namespace, name: 'web' })
  await until('the garbage collector deletes the ReplicaSet', async () =>
    (await kc.makeApiClient(AppsV1Api).listNamespacedReplicaSet({ namespace })).items.length === 0)
  await core.deleteNamespace({ name: namespace })
  await until('the namespace is gone', async () => core.readNamespace({ name: namespace }).then(() => false, (e: { code?: number }) => e.code === 404), 60_000)
  t.pass('deleted with everything in it')
})
