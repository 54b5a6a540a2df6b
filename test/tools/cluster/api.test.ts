// Room: tools/cluster/controlplane.ts
// The local control plane is a real API server backed by a real etcd: objects written come back as stored.
import { readFile } from 'node:fs/promises'
import { CoreV1Api } from '@kubernetes/client-node'
import t from 'tap'
import { freshNamespace, kubeConfig } from '../../helpers/cluster.ts'

t.test('a Namespace and a Pod created through the API server read back as stored', async (t) => {
  const kc = await kubeConfig()
  const core = kc.makeApiClient(CoreV1Api)
  const namespace = await freshNamespace(t, kc)

  const ns = await core.readNamespace({ name: namespace })
  t.equal(ns.status?.phase, 'Active')
  t.equal(ns.metadata?.labels?.['kubernetes.io/metadata.name'], namespace, 'the API server labels namespaces')

  const created = await core.createNamespacedPod({
    namespace,
    body: {
      metadata: { name: 'web', labels: { app: 'web' } },
      spec: { containers: [{ name: 'web', image: 'nginx:1.27', env: [{ name: 'A', value: '1' }] }] },
    },
  })
  t.ok(created.metadata?.uid, 'the API server assigns a uid')
  t.ok(created.metadata?.resourceVersion, 'etcd assigns a resourceVersion')

  const read = await core.readNamespacedPod({ name: 'web', namespace })
  t.equal(read.metadata?.uid, created.metadata?.uid)
  t.same(read.spec?.containers[0]?.env, [{ name: 'A', value: '1' }])
  t.equal(read.spec?.containers[0]?.image, 'nginx:1.27')
  t.equal(read.spec?.restartPolicy, 'Always', 'API server defaulting ran')

  const list = await core.listNamespacedPod({ namespace })
  t.same(list.items.map((p) => p.metadata?.name), ['web'])
})

t.test('the API server enforces its own validation', async (t) => {
  const kc = await kubeConfig()
  const core = kc.makeApiClient(CoreV1Api)
  const namespace = await freshNamespace(t, kc)
  await t.rejects(
    core.createNamespacedPod({ namespace, body: { metadata: { name: 'Not_A_Name' }, spec: { containers: [] } } }),
    { code: 422 },
  )
})

t.test('the API server listens below the kernel ephemeral range, where no outgoing connection can take its port first', async (t) => {
  const kc = await kubeConfig()
  const port = Number(new URL(kc.getCurrentCluster()?.server ?? '').port)
  const [low] = (await readFile('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')).trim().split(/\s+/).map(Number)
  t.ok(port >= 10_000 && port < (low ?? 0), `port ${port} in 10000..${(low ?? 0) - 1}`)
})
