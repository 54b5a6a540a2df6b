// Room: tools/cluster/crds.ts
// ESO's CRDs are installed from its Go module: valid objects are stored, invalid ones are rejected by the CRD's
// OpenAPI schema, inside the API server.
import { CustomObjectsApi } from '@kubernetes/client-node'
import t from 'tap'
import { freshNamespace, kubeConfig } from '../../helpers/cluster.ts'

const password = { group: 'generators.external-secrets.io', version: 'v1alpha1', plural: 'passwords' }
const externalSecret = { group: 'external-secrets.io', version: 'v1', plural: 'externalsecrets' }

function errorBody(err: unknown): { code?: number, message?: string } {
  const body = (err as { body?: string }).body
  return typeof body === 'string' ? JSON.parse(body) : {}
}

t.test('a Password generator and an ExternalSecret are accepted', async (t) => {
  const kc = await kubeConfig()
  const co = kc.makeApiClient(CustomObjectsApi)
  const namespace = await freshNamespace(t, kc)

  await co.createNamespacedCustomObject({
    ...password, namespace,
    body: {
      apiVersion: 'generators.external-secrets.io/v1alpha1', kind: 'Password', metadata: { name: 'pw' },
      spec: { length: 42, digits: 5, symbols: 5, symbolCharacters: '-_$@', noUpper: false, allowRepeat: true },
    },
  })
  await co.createNamespacedCustomObject({
    ...externalSecret, namespace,
    body: {
      apiVersion: 'external-secrets.io/v1', kind: 'ExternalSecret', metadata: { name: 'es' },
      spec: {
        refreshPolicy: 'CreatedOnce',
        target: { name: 'app', creationPolicy: 'Orphan', immutable: true },
        dataFrom: [{ sourceRef: { generatorRef: { apiVersion: 'generators.external-secrets.io/v1alpha1', kind: 'Password', name: 'pw' } } }],
      },
    },
  })
  const read = await co.getNamespacedCustomObject({ ...password, namespace, name: 'pw' }) as { spec: Record<string, unknown> }
  t.equal(read.spec.length, 42)
  t.equal(read.spec.symbolCharacters, '-_$@')
  const es = await co.getNamespacedCustomObject({ ...externalSecret, namespace, name: 'es' }) as { spec: Record<string, unknown> }
  t.equal(es.spec.refreshPolicy, 'CreatedOnce')
})

t.test('objects that break the CRD schemas are rejected with the schema error', async (t) => {
  const kc = await kubeConfig()
  const co = kc.makeApiClient(CustomObjectsApi)
  const namespace = await freshNamespace(t, kc)

  const badPassword = co.createNamespacedCustomObject({
    ...password, namespace,
    body: { apiVersion: 'generators.external-secrets.io/v1alpha1', kind: 'Password', metadata: { name: 'bad' }, spec: { length: 'long' } },
  })
  await t.rejects(badPassword, { code: 422 })
  const pwError = errorBody(await badPassword.catch((e: unknown) => e))
  t.match(pwError.message, /spec\.length: Invalid value: "string": spec\.length in body must be of type integer/)

  const badExternalSecret = co.createNamespacedCustomObject({
    ...externalSecret, namespace,
    body: { apiVersion: 'external-secrets.io/v1', kind: 'ExternalSecret', metadata: { name: 'bad' }, spec: { refreshPolicy: 'Sometimes' } },
  })
  await t.rejects(badExternalSecret, { code: 422 })
  const esError = errorBody(await badExternalSecret.catch((e: unknown) => e))
  t.match(esError.message, /spec\.refreshPolicy: Unsupported value: "Sometimes"/)
})
