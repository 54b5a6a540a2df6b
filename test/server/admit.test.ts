// Room: src/server/admit.ts
// What admit answers when Kubernetes itself lets secretwire down: the API server failing (5xx) and the External
// Secrets Operator's CRDs missing. Each is a denial that says why, never a crash and never an unwired admission.
// (Refused, 403, and not answering, 504, are tested against the real API server in test/kube/client.test.ts and
// test/webhook/denials.test.ts.)
import { createServer, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import { ApiextensionsV1Api, KubeConfig } from '@kubernetes/client-node'
import t from 'tap'
import { admit } from '../../src/server/admit.ts'
import { KubeObjectStore } from '../../src/kube/client.ts'
import { freshNamespace, ownControlPlane } from '../helpers/cluster.ts'
import { annotated, pod, request, settings } from '../helpers/objects.ts'

/** The three objects a first use of `db` in `namespace` reads, as denial messages name them. */
const reads = (storage: string, namespace: string) =>
  [`Password ${storage}/secretwire-db`, `ExternalSecret ${storage}/secretwire-db`, `ExternalSecret ${namespace}/secretwire-db`]

t.test('the API server answering 500: denied with 503 and its message', async (t) => {
  // A stub, not the API server: a real kube-apiserver cannot be made to answer 5xx for these reads on cue (a
  // stopped or paused one is tested in test/kube/client.test.ts). It answers as kube-apiserver does when etcd times out,
  // and the real client and KubeObjectStore read that answer.
  const seen: string[] = []
  const stub = createServer((req: IncomingMessage, res) => {
    seen.push(`${req.method} ${req.url}`)
    res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({
      kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'etcdserver: request timed out', reason: 'InternalError', code: 500,
    }))
  })
  await new Promise<void>((res) => stub.listen(0, '127.0.0.1', res))
  t.teardown(() => new Promise<void>((res) => stub.close(() => res())))
  const kc = new KubeConfig()
  kc.loadFromOptions({
    clusters: [{ name: 'stub', server: `http://127.0.0.1:${(stub.address() as AddressInfo).port}`, skipTLSVerify: true }],
    users: [{ name: 'admin' }], contexts: [{ name: 'stub', cluster: 'stub', user: 'admin' }], currentContext: 'stub',
  })

  const s = settings({ SECRETWIRE_STORAGE_NAMESPACE: 'storage' })
  const { response, error } = await admit(request(pod({ annotations: annotated('db') }), { uid: 'u', namespace: 'apps' }), { settings: s, store: new KubeObjectStore(kc) })
  t.ok(seen.length > 0, 'the requests reached the failing server')
  t.equal(response.allowed, false)
  t.equal(response.uid, 'u')
  t.strictSame(Object.keys(response).sort(), ['allowed', 'status', 'uid'], 'no patch: nothing is wired half-way')
  t.equal(response.status?.code, 503)
  t.equal(response.status?.reason, 'ServiceUnavailable')
  // The reads run at once; whichever failed first is named.
  const messages = reads('storage', 'apps').map((o) => `the Kubernetes API failed while reading ${o}: etcdserver: request timed out`)
  t.ok(messages.includes(response.status?.message ?? ''), `one of the reads, named: ${response.status?.message}`)
  t.match(error, { httpStatus: 500 }, 'what the API server answered is kept for the log')
})

t.test('ESO\'s CRDs not installed: denied with 404 naming what it could not read, against a real API server without them', async (t) => {
  // A control plane of this file's own: removing the CRDs from the run's shared one would break every other test.
  const cp = await ownControlPlane()
  const kc = cp.kubeConfig()
  const namespace = await freshNamespace(t, kc)
  const storage = await freshNamespace(t, kc, 'store')
  const crds = kc.makeApiClient(ApiextensionsV1Api)
  const eso = async () => (await crds.listCustomResourceDefinition()).items
    .filter((c) => c.spec.group.endsWith('external-secrets.io')).map((c) => c.metadata!.name!)
  const installed = await eso()
  t.ok(installed.includes('passwords.generators.external-secrets.io') && installed.includes('externalsecrets.external-secrets.io'), 'they were installed')
  for (const name of installed) await crds.deleteCustomResourceDefinition({ name })
  // Deletion is asynchronous (a finalizer removes the objects first): wait until they are gone, bounded.
  for (let tries = 0; (await eso()).length > 0; tries++) {
    if (tries > 300) throw new Error('ESO\'s CRDs were not removed within 30 s')
    await new Promise((r) => setTimeout(r, 100))
  }

  const s = settings({ SECRETWIRE_STORAGE_NAMESPACE: storage })
  const { response } = await admit(request(pod({ annotations: annotated('db') }), { uid: 'u', namespace }), { settings: s, store: new KubeObjectStore(kc) })
  t.equal(response.allowed, false)
  t.strictSame(Object.keys(response).sort(), ['allowed', 'status', 'uid'], 'no patch: nothing is wired half-way')
  t.equal(response.status?.code, 404)
  t.equal(response.status?.reason, 'NotFound')
  // Named: the object it could not read, and why (docs/operations.md, "Answers": "ESO's CRDs not installed").
  const message = response.status?.message ?? ''
  t.ok(reads(storage, namespace).some((o) => message === `reading ${o}: the API server does not serve this kind (are the External Secrets Operator's CRDs installed?)`),
    `one of the reads, named, with the cause: ${message}`)
})
