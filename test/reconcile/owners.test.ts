// Room: src/reconcile/owners.ts, src/kube/metawatch.ts (readMetadata), src/core/consumers.ts (controller)
// Events about Pods go on the workload they stand for: the controllers of the local control plane make a
// Deployment's ReplicaSet and Pods, and the Pod consumer (as the metadata watch hands it to the index) leads to the
// Deployment; a ReplicaSet of its own, a bare Pod and a ReplicaSet already gone lead to themselves.
import { AppsV1Api, CoreV1Api } from '@kubernetes/client-node'
import t from 'tap'
import { ConsumerIndex } from '../../src/core/consumers.ts'
import { eventTargets } from '../../src/reconcile/owners.ts'
import { freshNamespace, kubeConfig } from '../helpers/cluster.ts'
import { workload } from '../helpers/objects.ts'

t.test('a Pod consumer leads to its Deployment; others to themselves', async (t) => {
  const kc = await kubeConfig()
  const namespace = await freshNamespace(t, kc)
  const apps = kc.makeApiClient(AppsV1Api)
  const core = kc.makeApiClient(CoreV1Api)
  const deployment = await apps.createNamespacedDeployment({ namespace, body: workload('Deployment', { name: 'web' }) })
  const replicaSet = await apps.createNamespacedReplicaSet({ namespace, body: workload('ReplicaSet', { name: 'own' }) })
  const bare = await core.createNamespacedPod({ namespace, body: { metadata: { name: 'bare' }, spec: { containers: [{ name: 'app', image: 'busybox' }] } } })

  // The Pods the ReplicaSet controllers make, as the index holds them (their metadata, owners included).
  const index = new ConsumerIndex()
  const deadline = Date.now() + 30_000
  let pods = (await core.listNamespacedPod({ namespace })).items
  while (pods.length < 3) {
    if (Date.now() > deadline) throw new Error(`the controllers made ${pods.length - 1} of 2 Pods in 30 s (is kube-controller-manager running?)`)
    await new Promise((r) => setTimeout(r, 200))
    pods = (await core.listNamespacedPod({ namespace })).items
  }
  for (const p of pods) {
    index.apply('Pod', { ...p.metadata!, annotations: { 'secretwire.io/consumes': 'db' } } as never, false)
  }
  const consumers = index.byNamespaceAndName().get(`${namespace}/db`) ?? []
  t.equal(consumers.length, 3, 'three Pod consumers')
  const targets = await eventTargets(kc, consumers)
  t.strictSame(targets.map((x) => `${x.apiVersion} ${x.kind} ${x.name} ${x.uid}`).sort(), [
    `apps/v1 Deployment web ${deployment.metadata!.uid}`,
    `apps/v1 ReplicaSet own ${replicaSet.metadata!.uid}`,
    `v1 Pod bare ${bare.metadata!.uid}`,
  ].sort(), 'the Deployment (through its ReplicaSet), the ReplicaSet of its own, the bare Pod')

  const fromReplicaSet = consumers.filter((c) => c.controller?.name === 'own')
  await apps.deleteNamespacedReplicaSet({ namespace, name: 'own', propagationPolicy: 'Orphan' })
  const gone = await (async () => {
    for (;;) {
      const still = await apps.readNamespacedReplicaSet({ namespace, name: 'own' }).then(() => true, () => false)
      if (!still) return eventTargets(kc, fromReplicaSet)
      await new Promise((r) => setTimeout(r, 100))
    }
  })()
  t.strictSame(gone.map((x) => `${x.kind} ${x.name}`), ['ReplicaSet own'], 'a ReplicaSet already gone: the Event goes on it by name')
})
