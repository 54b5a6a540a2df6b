// Room: src/kube/client.ts
// The Kubernetes adapter against a real API server, including the faults: stopped, paused, forbidden.
import t from 'tap'
import { deadline } from '../../src/util/deadline.ts'
import { ConfigError, KubernetesFailure } from '../../src/core/errors.ts'
import { consumerExternalSecret } from '../../src/core/esoobjects.ts'
import { KubeObjectStore, loadKubeConfig } from '../../src/kube/client.ts'
import { freshNamespace, kubeConfig, ownControlPlane } from '../helpers/cluster.ts'
import { serviceAccountKubeConfig } from '../../tools/cluster/identity.ts'

const settings = { storageNamespace: 'unused', clusterSecretStore: 'css', strategy: 'push' as const }

t.test('get and create', async (t) => {
  const kc = await kubeConfig()
  const namespace = await freshNamespace(t, kc)
  const store = new KubeObjectStore(kc)
  const es = consumerExternalSecret('db', namespace, settings)
  t.equal(await store.get(es, deadline(5000)), undefined, 'absent')
  t.equal(await store.create(es, deadline(5000)), 'created')
  t.equal(await store.create(es, deadline(5000)), 'exists', '409 is "exists"')
  t.same((await store.get(es, deadline(5000)))?.metadata?.labels, es.metadata.labels)
  await t.rejects(store.create(consumerExternalSecret('db', 'no-such-namespace', settings), deadline(5000)),
    { code: 404, message: /^creating ExternalSecret no-such-namespace\/secretwire-db: namespaces "no-such-namespace" not found$/ })
})

t.test('forbidden: 403 with what was attempted and the API server\'s reason', async (t) => {
  const kc = await kubeConfig()
  const namespace = await freshNamespace(t, kc)
  const store = new KubeObjectStore(await serviceAccountKubeConfig(kc, namespace, 'nobody'))
  await t.rejects(store.get(consumerExternalSecret('db', namespace, settings), deadline(5000)), KubernetesFailure)
  await t.rejects(store.get(consumerExternalSecret('db', namespace, settings), deadline(5000)), {
    code: 403, reason: 'Forbidden',
    message: `secretwire was forbidden from reading ExternalSecret ${namespace}/secretwire-db: externalsecrets.external-secrets.io "secretwire-db" is forbidden: ` +
      `User "system:serviceaccount:${namespace}:nobody" cannot get resource "externalsecrets" in API group "external-secrets.io" in the namespace "${namespace}"`,
  })
})

t.test('an API server that stops answering, or is gone, fails within the deadline', async (t) => {
  const cp = await ownControlPlane()
  const store = new KubeObjectStore(cp.kubeConfig())
  const es = consumerExternalSecret('db', 'default', settings)

  // Each fault is undone by the teardown too: a failure midway must not leave a paused or stopped API server.
  t.teardown(() => cp.command('resume-apiserver').catch((err: Error) => {
    if (!/not running/.test(err.message)) throw err // stopped: the teardown below starts it
  }))
  await cp.command('pause-apiserver')
  // A paused API server never answers, so a rejection at all is the deadline at work. The time is reported, not
  // asserted: this file shares the cores with other control planes.
  const started = Date.now()
  await t.rejects(store.get(es, deadline(300)), {
    code: 504, reason: 'Timeout', message: 'the Kubernetes API did not answer in time while reading ExternalSecret default/secretwire-db',
  })
  t.comment(`gave up after ${Date.now() - started} ms (deadline 300 ms)`)
  await cp.command('resume-apiserver')
  t.equal(await store.get(es, deadline(5000)), undefined, 'answers again once resumed')

  t.teardown(() => cp.command('start-apiserver').catch((err: Error) => {
    if (!/already running/.test(err.message)) throw err
  }))
  await cp.command('stop-apiserver')
  await t.rejects(store.create(es, deadline(2000)), {
    code: 503, reason: 'ServiceUnavailable', message: /^the Kubernetes API is unreachable \(ECONNREFUSED\) while creating ExternalSecret default\/secretwire-db$/,
  })
  await cp.command('start-apiserver')
  t.equal(await store.create(es, deadline(5000)), 'created', 'works again once restarted')
})

t.test('kubeconfig: a file, else in-cluster; never a silent localhost fallback', async (t) => {
  t.throws(() => loadKubeConfig('/no/such/kubeconfig'), ConfigError)
  t.throws(() => loadKubeConfig('/no/such/kubeconfig'), { message: /^KUBECONFIG=\/no\/such\/kubeconfig: / })
  t.throws(() => loadKubeConfig(undefined), { message: 'KUBECONFIG is not set and secretwire is not running in a cluster (no KUBERNETES_SERVICE_HOST)' })
  const path = process.env.SECRETWIRE_TEST_KUBECONFIG ?? (await ownControlPlane()).info.kubeconfig
  t.match(loadKubeConfig(path).getCurrentCluster()?.server, /^https:\/\/127\.0\.0\.1:\d+$/)
})
