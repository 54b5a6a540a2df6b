// Room: src/kube/connections.ts
// API calls over kept connections, against a real API server. Connections are counted as Node.js itself reports
// each HTTP response: whether its request went out on a reused socket (`reusedSocket`).
import t from 'tap'
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import type { ClientRequest } from 'node:http'
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node'
import { selfSigned } from '../../src/server/tls.ts'
import { deadline } from '../../src/util/deadline.ts'
import { consumerExternalSecret } from '../../src/core/esoobjects.ts'
import { KubeObjectStore } from '../../src/kube/client.ts'
import { apiClient, keepsConnectionsSafely } from '../../src/kube/connections.ts'
import { freshNamespace, kubeConfig } from '../helpers/cluster.ts'

const settings = { storageNamespace: 'unused', clusterSecretStore: 'css', strategy: 'push' as const }

/** How many responses `work` received, and how many of them came over a connection opened for their request. */
async function connections(work: () => Promise<void>): Promise<{ responses: number, opened: number }> {
  const seen = { responses: 0, opened: 0 }
  const count = (message: unknown) => {
    seen.responses++
    if (!(message as { request: ClientRequest }).request.reusedSocket) seen.opened++
  }
  subscribe('http.client.response.finish', count)
  try {
    await work()
  } finally {
    unsubscribe('http.client.response.finish', count)
  }
  return seen
}

t.test('connections are kept except on the Node.js releases whose keep-alive change broke node-fetch 2', async (t) => {
  for (const v of ['20.20.2', '22.22.3', '22.23.1', '24.8.0', '24.18.0', '24.22.3', '26.4.0']) t.ok(keepsConnectionsSafely(v), `${v}: kept`)
  for (const v of ['22.23.0', '24.9.0', '24.17.0', '26.0.0', '26.3.1']) t.notOk(keepsConnectionsSafely(v), `${v}: a connection per call`)
  t.ok(keepsConnectionsSafely(), `this run's Node.js ${process.versions.node} keeps them (the tests below rely on it)`)
})

t.test('twenty reads after the first open no connection; client-node on its own opens one for each', async (t) => {
  const kc = await kubeConfig()
  const namespace = await freshNamespace(t, kc)
  const store = new KubeObjectStore(kc)
  const es = consumerExternalSecret('db', namespace, settings)
  const first = await connections(async () => { t.equal(await store.get(es, deadline(5000)), undefined, 'absent') })
  t.same(first, { responses: 1, opened: 1 }, 'the first read opens a connection')
  const kept = await connections(async () => {
    for (let i = 0; i < 20; i++) await store.get(es, deadline(5000))
  })
  t.same(kept, { responses: 20, opened: 0 }, 'secretwire: every read reuses the connection')

  // What connections.ts is for: the library's own client makes an agent, and so a connection, per call.
  const stock = kc.makeApiClient(CoreV1Api)
  const alone = await connections(async () => {
    for (let i = 0; i < 20; i++) await stock.readNamespace({ name: namespace })
  })
  t.same(alone, { responses: 20, opened: 20 }, 'client-node alone: a TLS handshake per call')
})

t.test('clients made from one kubeconfig share the connections; another kubeconfig has its own', async (t) => {
  const kc = await kubeConfig()
  const namespace = await freshNamespace(t, kc)
  const core = apiClient(kc, CoreV1Api)
  await core.readNamespace({ name: namespace })
  const shared = await connections(async () => {
    await apiClient(kc, CoreV1Api).readNamespace({ name: namespace })
    await new KubeObjectStore(kc).get(consumerExternalSecret('db', namespace, settings), deadline(5000))
  })
  t.same(shared, { responses: 2, opened: 0 }, 'new clients of the same kubeconfig reuse its connection')
  const other = await connections(async () => { await apiClient(await kubeConfig(), CoreV1Api).readNamespace({ name: namespace }) })
  t.same(other, { responses: 1, opened: 1 }, 'another kubeconfig opens its own')
})

t.test('a kept connection still verifies the API server against the kubeconfig\'s CA', async (t) => {
  const kc = await kubeConfig()
  const stranger = await selfSigned(['127.0.0.1'])
  const wrong = new KubeConfig()
  wrong.loadFromOptions({
    clusters: kc.getClusters().map((c) => ({ ...c, caFile: undefined, caData: Buffer.from(stranger.cert).toString('base64') })),
    users: kc.getUsers(), contexts: kc.getContexts(), currentContext: kc.getCurrentContext(),
  })
  await t.rejects(apiClient(wrong, CoreV1Api).readNamespace({ name: 'default' }), { message: /certificate/ }, 'another CA: refused')
  t.ok(await apiClient(kc, CoreV1Api).readNamespace({ name: 'default' }), 'its own CA: read')
})
