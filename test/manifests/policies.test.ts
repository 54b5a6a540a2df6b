// Room: src/manifests/policies.ts, deploy/webhook/admissionpolicies.yaml
// The admission policies of deploy/webhook, as shipped, on a real API server with its controllers, and no
// secretwire running: every way a tenant (edit in its own namespace, with the ESO rights ESO's chart gives it),
// a cluster admin and anyone else could reach the store or change secretwire's objects is tried with their own
// identity and refused, and nothing changes; what must stay open (other stores, finalizers, break-glass,
// namespace deletion) stays open. The end-to-end suite (test/e2e/isolation.test.ts) repeats the attacks with
// the real ESO and checks the password itself.
import { join } from 'node:path'
import { CoreV1Api, CustomObjectsApi, PatchStrategy, RbacAuthorizationV1Api, setHeaderOptions, type KubeConfig } from '@kubernetes/client-node'
import t, { type Test } from 'tap'
import { parseAllDocuments } from 'yaml'
import { identities, serviceAccountUser } from '../../src/core/contract.ts'
import { resources, type ManagedKind } from '../../src/core/esoobjects.ts'
import { repoRoot } from '../../tools/paths.ts'
import { untilStorageNamespaceReady } from '../../tools/cluster/store.ts'
import { serviceAccountKubeConfig, userKubeConfig } from '../../tools/cluster/identity.ts'
import { ownControlPlane } from '../helpers/cluster.ts'
import { kubectl as kubectlFor } from '../helpers/kubectl.ts'
import { tenantKubeConfig } from '../helpers/tenant.ts'

const cp = await ownControlPlane()
const admin = cp.kubeConfig()
const kubectl = await kubectlFor(cp.info.kubeconfig)
const storage = 'eso-secret-storage'
const store = 'eso-cluster-secret-store'

// deploy/eso as shipped, and from deploy/webhook everything but the Deployment and the webhook registration
// (no secretwire runs here: the policies must hold without it).
const build = (dir: string) => {
  const res = kubectl(['kustomize', join(repoRoot, 'deploy', dir)])
  if (res.status !== 0) throw new Error(res.stderr)
  return parseAllDocuments(res.stdout).map((d) => d.toJS() as { kind: string, metadata: { name: string } })
}
const shipped = [...build('eso'), ...build('webhook').filter((d) => !['Deployment', 'MutatingWebhookConfiguration'].includes(d.kind))]
const applied = kubectl(['apply', '--server-side', '-f', '-'], shipped.map((d) => JSON.stringify(d)).join('\n'))
if (applied.status !== 0) throw new Error(`applying deploy/: ${applied.stderr}`)

await untilStorageNamespaceReady(admin)
const core = admin.makeApiClient(CoreV1Api)
for (const name of ['team-a', 'team-b']) await core.createNamespace({ body: { metadata: { name } } })
const tenant = await tenantKubeConfig(admin, 'team-a')
const secretwire = await serviceAccountKubeConfig(admin, identities.secretwire.namespace, identities.secretwire.name)
const breakGlass = await userKubeConfig(admin, cp.info.dir, 'alice', [identities.breakGlassGroup])

const managed = { 'app.kubernetes.io/managed-by': 'secretwire', 'secretwire.io/shared-secret': 'db' }
const storeRef = { kind: 'ClusterSecretStore', name: store }
const externalSecret = (name: string, spec: object, labels?: Record<string, string>) => ({
  apiVersion: 'external-secrets.io/v1', kind: 'ExternalSecret', metadata: { name, ...(labels && { labels }) }, spec,
})
const readsStore = (ref: object = storeRef) => ({
  secretStoreRef: ref, target: { name: 'copy' }, data: [{ secretKey: 'password', remoteRef: { key: 'secretwire-db', property: 'password' } }],
})

const api = (kc: KubeConfig) => {
  const co = kc.makeApiClient(CustomObjectsApi)
  const of = (kind: ManagedKind, namespace: string) => ({ ...resources[kind], namespace })
  return {
    create: (kind: ManagedKind, namespace: string, body: object) => co.createNamespacedCustomObject({ ...of(kind, namespace), body }),
    get: (kind: ManagedKind, namespace: string, name: string) => co.getNamespacedCustomObject({ ...of(kind, namespace), name }) as Promise<Stored>,
    merge: (kind: ManagedKind, namespace: string, name: string, patch: object) => co.patchNamespacedCustomObject(
      { ...of(kind, namespace), name, body: patch }, mergeOptions()),
    remove: (kind: ManagedKind, namespace: string, name: string) => co.deleteNamespacedCustomObject({ ...of(kind, namespace), name }),
    createCluster: (body: object) => co.createClusterCustomObject({ group: 'external-secrets.io', version: 'v1', plural: 'clusterexternalsecrets', body }),
  }
}
interface Stored { metadata: { resourceVersion: string, labels?: Record<string, string>, finalizers?: string[] }, spec: Record<string, unknown> }

/**
 * The request is refused by the API server (403) with the message of the given policy, or of one of them where
 * a request breaks several (the API server names one).
 */
async function refused(t: Test, call: Promise<unknown>, policy: string | readonly string[], what: string) {
  const policies = typeof policy === 'string' ? [policy] : policy
  const err = await call.then(() => undefined, (e: { code?: number, body?: string }) => e)
  t.equal(err?.code, 403, `${what}: refused`)
  const named = policies.find((p) => String(err?.body).includes(`(ValidatingAdmissionPolicy ${p})`))
  t.ok(named, `${what}: by ${policies.join(' or ')}, saying why`)
}
/** Changes to a managed ExternalSecret that references the store break both of these. */
const managedAndStore = ['secretwire-managed-objects', 'secretwire-store-access'] as const

// A policy takes effect a moment after it is created (the API server loads it through an informer).
{
  const deadline = Date.now() + 30_000
  for (;;) {
    const probe = await api(admin).create('ExternalSecret', 'team-b', externalSecret('probe', readsStore())).then(() => 'created', (e: { code?: number }) => e.code)
    if (probe === 403) break
    if (probe === 'created') await api(admin).remove('ExternalSecret', 'team-b', 'probe')
    if (Date.now() > deadline) throw new Error('the shipped admission policies did not take effect within 30 s')
    await new Promise((r) => setTimeout(r, 200))
  }
}

t.test('a tenant cannot reach the store: no read, no push, whatever the route', async (t) => {
  const as = api(tenant)
  const read = as.create('ExternalSecret', 'team-a', externalSecret('read', readsStore()))
  await refused(t, read, 'secretwire-store-access', 'ExternalSecret naming the store')
  const message = (JSON.parse(await read.then(() => '{}', (e: { body: string }) => e.body)) as { message?: string }).message
  t.match(message, 'ClusterSecretStore eso-cluster-secret-store holds the passwords secretwire shares: only secretwire (system:serviceaccount:secretwire:secretwire) ' +
    'may create or change objects that reference it, by name or by a label selector over ClusterSecretStores. To use a shared password, annotate the workload ' +
    'with secretwire.io/shared-secret. (ValidatingAdmissionPolicy secretwire-store-access)', 'the denial names the store and says why')
  await refused(t, as.create('ExternalSecret', 'team-a', externalSecret('read-entry', {
    secretStoreRef: { kind: 'SecretStore', name: 'mine' }, target: { name: 'copy' },
    data: [{ secretKey: 'p', sourceRef: { storeRef }, remoteRef: { key: 'secretwire-db', property: 'password' } }],
  })), 'secretwire-store-access', 'ExternalSecret reaching it through data[].sourceRef.storeRef')
  await refused(t, as.create('ExternalSecret', 'team-a', externalSecret('read-all', {
    target: { name: 'copy' }, dataFrom: [{ sourceRef: { storeRef }, extract: { key: 'secretwire-db' } }],
  })), 'secretwire-store-access', 'ExternalSecret reaching it through dataFrom[].sourceRef.storeRef')
  const push = (name: string, ref: object) => ({
    apiVersion: 'external-secrets.io/v1alpha1', kind: 'PushSecret', metadata: { name },
    spec: {
      refreshInterval: '0', secretStoreRefs: [ref], selector: { secret: { name: 'mine' } },
      data: [{ match: { secretKey: 'password', remoteRef: { remoteKey: 'secretwire-db', property: 'password' } } }],
    },
  })
  await refused(t, as.create('PushSecret', 'team-a', push('overwrite', storeRef)), 'secretwire-store-access', 'PushSecret to the store')
  await refused(t, as.create('PushSecret', 'team-a', push('overwrite-by-label', { kind: 'ClusterSecretStore', labelSelector: { matchLabels: {} } })),
    'secretwire-store-access', 'PushSecret selecting ClusterSecretStores by label')
  const clusterWide = as.createCluster({
    apiVersion: 'external-secrets.io/v1', kind: 'ClusterExternalSecret', metadata: { name: 'everywhere' },
    spec: { namespaceSelectors: [{ matchLabels: {} }], externalSecretSpec: readsStore() },
  })
  await t.rejects(clusterWide, { code: 403 }, 'a ClusterExternalSecret is beyond a namespace editor (RBAC)')
  const left = await api(admin).create('ExternalSecret', 'team-a', externalSecret('left', {
    secretStoreRef: { kind: 'SecretStore', name: 'x' }, target: { name: 'x' }, data: [{ secretKey: 'p', remoteRef: { key: 'x' } }],
  })).then(() => 'created')
  t.equal(left, 'created', 'control: the same kinds without the store are accepted')
  const list = await admin.makeApiClient(CustomObjectsApi).listNamespacedCustomObject({ ...resources.ExternalSecret, namespace: 'team-a' }) as { items: unknown[] }
  t.equal(list.items.length, 1, 'nothing of the refused objects was stored')
})

t.test('other stores stay open to tenants', async (t) => {
  const as = api(tenant)
  t.ok(await as.create('ExternalSecret', 'team-a', externalSecret('other-cluster-store', readsStore({ kind: 'ClusterSecretStore', name: 'team-vault' }))))
  t.ok(await as.create('ExternalSecret', 'team-a', externalSecret('same-name-namespaced', readsStore({ kind: 'SecretStore', name: store }))),
    'a namespaced SecretStore of the same name is the tenant\'s own')
  t.ok(await as.create('ExternalSecret', 'team-a', externalSecret('default-kind', readsStore({ name: store }))), 'kind defaults to SecretStore')
})

t.test('only secretwire creates objects that reference the store or carry its label', async (t) => {
  t.ok(await api(secretwire).create('ExternalSecret', 'team-a', externalSecret('secretwire-db', readsStore(), managed)), 'secretwire may')
  await refused(t, api(tenant).create('ExternalSecret', 'team-a', externalSecret('fake', {
    secretStoreRef: { kind: 'SecretStore', name: 'mine' }, target: { name: 'x' }, data: [{ secretKey: 'p', remoteRef: { key: 'x' } }],
  }, managed)), 'secretwire-managed-objects', 'a tenant\'s object labelled managed-by=secretwire')
  await refused(t, api(admin).create('ExternalSecret', 'team-b', externalSecret('admin-read', readsStore())), 'secretwire-store-access',
    'a cluster admin (system:masters) naming the store')
  // The cluster-scoped variants are beyond a namespace editor's RBAC; an admin has the RBAC, and the policy refuses.
  const co = admin.makeApiClient(CustomObjectsApi)
  await refused(t, co.createClusterCustomObject({
    group: 'external-secrets.io', version: 'v1', plural: 'clusterexternalsecrets',
    body: { apiVersion: 'external-secrets.io/v1', kind: 'ClusterExternalSecret', metadata: { name: 'admin-everywhere' }, spec: { namespaceSelectors: [{ matchLabels: {} }], externalSecretSpec: readsStore() } },
  }), 'secretwire-store-access', 'a cluster admin\'s ClusterExternalSecret reading the store in every namespace')
  await refused(t, co.createClusterCustomObject({
    group: 'external-secrets.io', version: 'v1alpha1', plural: 'clusterpushsecrets',
    body: {
      apiVersion: 'external-secrets.io/v1alpha1', kind: 'ClusterPushSecret', metadata: { name: 'admin-overwrite' },
      spec: {
        namespaceSelectors: [{ matchLabels: {} }],
        pushSecretSpec: { refreshInterval: '0', secretStoreRefs: [storeRef], selector: { secret: { name: 'mine' } }, data: [{ match: { secretKey: 'password', remoteRef: { remoteKey: 'secretwire-db', property: 'password' } } }] },
      },
    },
  }), 'secretwire-store-access', 'a cluster admin\'s ClusterPushSecret writing to the store from every namespace')
  const clusterObjects = await Promise.all(['clusterexternalsecrets', 'clusterpushsecrets'].map((plural) =>
    co.listClusterCustomObject({ group: 'external-secrets.io', version: plural === 'clusterpushsecrets' ? 'v1alpha1' : 'v1', plural }) as Promise<{ items: unknown[] }>))
  t.same(clusterObjects.map((l) => l.items.length), [0, 0], 'neither was stored')
})

t.test('secretwire\'s objects: no edit, relabel, repoint or delete by a tenant or an admin', async (t) => {
  const before = await api(admin).get('ExternalSecret', 'team-a', 'secretwire-db')
  for (const [who, kc] of [['tenant', tenant], ['admin', admin]] as const) {
    const as = api(kc)
    await refused(t, as.merge('ExternalSecret', 'team-a', 'secretwire-db', { spec: { data: [{ secretKey: 'password', remoteRef: { key: 'secretwire-other', property: 'password' } }] } }),
      managedAndStore, `${who}: repoint remoteRef.key`)
    await refused(t, as.merge('ExternalSecret', 'team-a', 'secretwire-db', { metadata: { labels: { x: 'y' } } }), managedAndStore, `${who}: add a label`)
    await refused(t, as.merge('ExternalSecret', 'team-a', 'secretwire-db', { metadata: { labels: { 'app.kubernetes.io/managed-by': null } } }),
      managedAndStore, `${who}: remove the managed-by label`)
    await refused(t, as.merge('ExternalSecret', 'team-a', 'secretwire-db', { metadata: { annotations: { 'force-sync': '1' } } }), managedAndStore, `${who}: annotate`)
    await refused(t, as.remove('ExternalSecret', 'team-a', 'secretwire-db'), 'secretwire-managed-objects', `${who}: delete`)
  }
  const after = await api(admin).get('ExternalSecret', 'team-a', 'secretwire-db')
  t.equal(after.metadata.resourceVersion, before.metadata.resourceVersion, 'the object never changed')
})

t.test('what controllers do to any object stays open: finalizers', async (t) => {
  const as = api(admin)
  await as.merge('ExternalSecret', 'team-a', 'secretwire-db', { metadata: { finalizers: ['example.com/hold'] } })
  t.same((await as.get('ExternalSecret', 'team-a', 'secretwire-db')).metadata.finalizers, ['example.com/hold'], 'added')
  await as.merge('ExternalSecret', 'team-a', 'secretwire-db', { metadata: { finalizers: null } })
  t.equal((await as.get('ExternalSecret', 'team-a', 'secretwire-db')).metadata.finalizers, undefined, 'removed')
})

t.test('the storage namespace: generators, ExternalSecrets, PushSecrets and stored passwords', async (t) => {
  const sw = api(secretwire)
  await sw.create('Password', storage, { apiVersion: 'generators.external-secrets.io/v1alpha1', kind: 'Password', metadata: { name: 'secretwire-db', labels: managed }, spec: { length: 42 } })
  await sw.create('PushSecret', storage, {
    apiVersion: 'external-secrets.io/v1alpha1', kind: 'PushSecret', metadata: { name: 'secretwire-db', labels: managed },
    spec: { refreshInterval: '0', secretStoreRefs: [storeRef], selector: { generatorRef: { apiVersion: 'generators.external-secrets.io/v1alpha1', kind: 'Password', name: 'secretwire-db' } }, data: [] },
  })
  await api(tenant).merge('PushSecret', storage, 'secretwire-db', { metadata: { labels: { x: 'y' } } }).then(
    () => t.fail('a tenant relabelled the PushSecret'), (e: { code?: number }) => t.equal(e.code, 403, 'a tenant has no rights there at all (RBAC)'))
  await refused(t, api(admin).merge('PushSecret', storage, 'secretwire-db', { metadata: { labels: { x: 'y' } } }), managedAndStore,
    'admin: relabel the PushSecret (which would push a new password)')
  await refused(t, api(admin).remove('Password', storage, 'secretwire-db'), 'secretwire-managed-objects', 'admin: delete the generator')

  const stored = { metadata: { name: 'secretwire-db', labels: { 'reconcile.external-secrets.io/managed': 'true' } }, data: { password: Buffer.from('p4ss').toString('base64') }, immutable: false }
  // The names are reserved: only ESO creates a stored password (here its controller's own identity, as for the
  // generate strategy), and only secretwire creates ESO objects in the storage namespace.
  await refused(t, core.createNamespacedSecret({ namespace: storage, body: { ...stored, metadata: { name: 'secretwire-planted' } } }), 'secretwire-stored-secrets',
    'admin: plant a stored password before its first use')
  await refused(t, api(admin).create('ExternalSecret', storage, externalSecret('secretwire-unused', {
    target: { name: 'secretwire-unused' }, dataFrom: [{ sourceRef: { generatorRef: { apiVersion: 'generators.external-secrets.io/v1alpha1', kind: 'Password', name: 'secretwire-db' } } }],
  })), 'secretwire-stored-secrets', 'admin: an ExternalSecret in the storage namespace that would have ESO make one')
  await refused(t, api(admin).create('Password', storage, { apiVersion: 'generators.external-secrets.io/v1alpha1', kind: 'Password', metadata: { name: 'mine' }, spec: { length: 8 } }),
    'secretwire-stored-secrets', 'admin: a generator in the storage namespace')
  t.ok(await core.createNamespacedSecret({ namespace: storage, body: { metadata: { name: 'not-a-password' }, stringData: { x: 'y' } } }),
    'control: another Secret there is not guarded')
  const eso = await serviceAccountKubeConfig(admin, identities.esoController.namespace, identities.esoController.name)
  await eso.makeApiClient(CoreV1Api).createNamespacedSecret({ namespace: storage, body: stored })
  t.pass('ESO\'s controller creates the stored password (what it does for strategy generate)')
  await refused(t, core.patchNamespacedSecret({ namespace: storage, name: 'secretwire-db', body: { data: { password: Buffer.from('mine').toString('base64') } } },
    mergeOptions()), 'secretwire-stored-secrets', 'admin: rewrite a stored password')
  await refused(t, core.deleteNamespacedSecret({ namespace: storage, name: 'secretwire-db' }), 'secretwire-stored-secrets', 'admin: delete a stored password')
  const labelled = await core.patchNamespacedSecret({ namespace: storage, name: 'secretwire-db', body: { metadata: { annotations: { note: 'x' } } } }, mergeOptions())
  t.equal(labelled.metadata?.annotations?.note, 'x', 'metadata-only changes stay open (ESO labels its Secrets)')
  t.equal(Buffer.from(labelled.data!.password!, 'base64').toString(), 'p4ss', 'the password is unchanged')
  await core.createNamespacedSecret({ namespace: 'team-b', body: { ...stored, metadata: { name: 'secretwire-db' } } })
  t.ok(await core.deleteNamespacedSecret({ namespace: 'team-b', name: 'secretwire-db' }), 'a Secret of that name elsewhere is not guarded')
})

t.test('secretwire itself deletes only its consumers\' ExternalSecrets, never in the storage namespace', async (t) => {
  // RBAC grants secretwire delete on every ExternalSecret (the reconciler collects unused ones); the policy
  // secretwire-reconciler-scope narrows it, so a bug or a stolen token cannot delete a tenant's own object or a
  // stored password's generator.
  const sw = api(secretwire)
  await sw.create('ExternalSecret', 'team-b', externalSecret('secretwire-unused', readsStore(), managed))
  t.ok(await sw.remove('ExternalSecret', 'team-b', 'secretwire-unused'), 'its own, unused, in a workload namespace: deleted')
  await api(admin).create('ExternalSecret', 'team-b', externalSecret('theirs', {
    secretStoreRef: { kind: 'SecretStore', name: 'mine' }, target: { name: 'x' }, data: [{ secretKey: 'p', remoteRef: { key: 'x' } }],
  }))
  await refused(t, sw.remove('ExternalSecret', 'team-b', 'theirs'), 'secretwire-reconciler-scope', 'secretwire: delete a tenant\'s own ExternalSecret')
  // Under the generate strategy the stored secret's object is an ExternalSecret in the storage namespace.
  await sw.create('ExternalSecret', storage, externalSecret('secretwire-stored', readsStore(), managed))
  await refused(t, sw.remove('ExternalSecret', storage, 'secretwire-stored'), 'secretwire-reconciler-scope', 'secretwire: delete a stored secret\'s ExternalSecret')
  for (const kind of ['PushSecret', 'Password'] as const) {
    const err = await sw.remove(kind, storage, 'secretwire-db').then(() => undefined, (e: { code?: number }) => e)
    t.equal(err?.code, 403, `secretwire: delete its ${kind}: refused (RBAC grants no delete there)`)
  }
  t.ok(await api(admin).get('ExternalSecret', 'team-b', 'theirs'), 'the tenant\'s object is still there')
  t.ok(await api(admin).get('ExternalSecret', storage, 'secretwire-stored'), 'and the stored secret\'s')
  t.ok(await api(admin).get('Password', storage, 'secretwire-db'), 'and the generator')
})

t.test('secretwire updates only its consumers\' ExternalSecrets, keeping its labels, never in the storage namespace', async (t) => {
  // RBAC grants secretwire patch on every ExternalSecret (admissions bring an older consumer's spec up to date);
  // secretwire-reconciler-scope narrows it as it narrows deletes.
  const sw = api(secretwire)
  await sw.create('ExternalSecret', 'team-b', externalSecret('secretwire-older', readsStore(), managed))
  await sw.merge('ExternalSecret', 'team-b', 'secretwire-older', { metadata: { annotations: { 'secretwire.io/shape': '2' } }, spec: { refreshPolicy: 'OnChange' } })
  t.equal((await api(admin).get('ExternalSecret', 'team-b', 'secretwire-older')).spec.refreshPolicy, 'OnChange', 'its own consumer\'s ExternalSecret: updated')
  await refused(t, sw.merge('ExternalSecret', 'team-b', 'secretwire-older', { metadata: { labels: { 'app.kubernetes.io/managed-by': null } } }),
    'secretwire-reconciler-scope', 'secretwire: drop its own label (the object would leave every guard)')
  await sw.create('ExternalSecret', storage, externalSecret('secretwire-stored-2', readsStore(), managed))
  const before = await api(admin).get('ExternalSecret', storage, 'secretwire-stored-2')
  await refused(t, sw.merge('ExternalSecret', storage, 'secretwire-stored-2', { spec: { refreshPolicy: 'Periodic' } }),
    'secretwire-reconciler-scope', 'secretwire: change a stored secret\'s ExternalSecret')
  await api(admin).create('ExternalSecret', 'team-b', externalSecret('theirs-2', {
    secretStoreRef: { kind: 'SecretStore', name: 'mine' }, target: { name: 'x' }, data: [{ secretKey: 'p', remoteRef: { key: 'x' } }],
  }))
  await refused(t, sw.merge('ExternalSecret', 'team-b', 'theirs-2', { spec: { refreshPolicy: 'Periodic' } }), 'secretwire-reconciler-scope',
    'secretwire: change a tenant\'s own ExternalSecret')
  t.equal((await api(admin).get('ExternalSecret', storage, 'secretwire-stored-2')).metadata.resourceVersion, before.metadata.resourceVersion, 'the stored secret\'s object is unchanged')
})

t.test('the ESO features that read Secrets across namespaces are refused to tenants', async (t) => {
  const as = api(tenant)
  // ESO v0.16.2 lists the Secrets a PushSecret selects by label in every namespace, and pushes each to the store
  // named: a store of the tenant's own (a webhook it runs) would receive every stored password.
  const bySelector = {
    apiVersion: 'external-secrets.io/v1alpha1', kind: 'PushSecret', metadata: { name: 'grab' },
    spec: {
      refreshInterval: '1m', secretStoreRefs: [{ kind: 'SecretStore', name: 'sink' }],
      selector: { secret: { selector: { matchLabels: { 'reconcile.external-secrets.io/managed': 'true' } } } },
      data: [{ match: { remoteRef: { remoteKey: 'all' } } }],
    },
  }
  await refused(t, as.create('PushSecret', 'team-a', bySelector), 'secretwire-eso-cross-namespace', 'a PushSecret selecting Secrets by label')
  const beyondTrust = (namespace?: string) => ({
    apiVersion: 'external-secrets.io/v1', kind: 'SecretStore', metadata: { name: `bt-${namespace ?? 'own'}` },
    spec: {
      provider: {
        beyondtrust: {
          server: { apiUrl: 'https://sink.team-a.svc:8443/BeyondTrust/api/public/v3/', verifyCA: false },
          auth: {
            clientId: { value: '00000000-0000-0000-0000-000000000000' },
            clientSecret: { secretRef: { name: 'secretwire-db', key: 'password', ...(namespace && { namespace }) } },
          },
        },
      },
    },
  })
  const co = tenant.makeApiClient(CustomObjectsApi)
  const stores = { group: 'external-secrets.io', version: 'v1', plural: 'secretstores', namespace: 'team-a' }
  await refused(t, co.createNamespacedCustomObject({ ...stores, body: beyondTrust(storage) }), 'secretwire-eso-cross-namespace',
    'a BeyondTrust SecretStore whose credentials are a Secret of the storage namespace')
  t.ok(await co.createNamespacedCustomObject({ ...stores, body: beyondTrust() }), 'control: one with its own namespace\'s Secret is accepted')
  t.ok(await as.create('PushSecret', 'team-a', { ...bySelector, metadata: { name: 'by-name' }, spec: { ...bySelector.spec, selector: { secret: { name: 'mine' } } } }),
    'control: a PushSecret naming its Secret is accepted')
})

t.test('a tenant\'s store or generator may not make ESO act as itself (secretwire-eso-own-identity)', async (t) => {
  // The refusals alone, on the API server; test/node/tenant-identity.test.ts tries them against ESO running as a Pod,
  // and shows the attacks succeed with the policy removed.
  const co = tenant.makeApiClient(CustomObjectsApi)
  const of = (plural: string, group = 'external-secrets.io', version = 'v1') => ({ group, version, plural, namespace: 'team-a' })
  const store = (name: string, provider: object) => ({ apiVersion: 'external-secrets.io/v1', kind: 'SecretStore', metadata: { name }, spec: { provider } })
  const ca = { type: 'ConfigMap', name: 'kube-root-ca.crt', key: 'ca.crt' }
  const k8s = (auth: object) => ({ kubernetes: { remoteNamespace: 'team-a', server: { url: 'https://kubernetes.default.svc', caProvider: ca }, ...auth } })
  const vault = (kubernetes: object) => ({ vault: { server: 'https://vault.team-a.svc:8200', path: 'secret', version: 'v2', auth: { kubernetes: { mountPath: 'kubernetes', role: 'r', ...kubernetes } } } })
  const akeyless = (authSecretRef: object) => ({ akeyless: { akeylessGWApiURL: 'https://akeyless.team-a.svc', authSecretRef } })
  const policy = 'secretwire-eso-own-identity'
  await refused(t, co.createNamespacedCustomObject({ ...of('secretstores'), body: store('a', k8s({ authRef: { name: 'kc', key: 'config' } })) }), policy,
    'a Kubernetes store with authRef (a kubeconfig: tokenFile or exec)')
  await refused(t, co.createNamespacedCustomObject({ ...of('secretstores'), body: store('b', vault({})) }), policy,
    'a Vault store with auth.kubernetes and neither secretRef nor serviceAccountRef')
  await refused(t, co.createNamespacedCustomObject({
    ...of('vaultdynamicsecrets', 'generators.external-secrets.io', 'v1alpha1'),
    body: { apiVersion: 'generators.external-secrets.io/v1alpha1', kind: 'VaultDynamicSecret', metadata: { name: 'c' }, spec: { path: '/x', provider: vault({}).vault } },
  }), policy, 'the same as a VaultDynamicSecret generator')
  const accessSecret = { accessID: { name: 'ak', key: 'id' }, accessType: { name: 'ak', key: 'type' }, accessTypeParam: { name: 'ak', key: 'param' } }
  await refused(t, co.createNamespacedCustomObject({ ...of('secretstores'), body: store('d', akeyless({ secretRef: accessSecret })) }), policy,
    'an Akeyless store whose access type sits in a Secret (k8s there sends ESO\'s token)')
  const elsewhere = k8s({ auth: { serviceAccount: { name: 'reader' } } })
  elsewhere.kubernetes.server.caProvider = { ...ca, namespace: storage } as typeof ca
  await refused(t, co.createNamespacedCustomObject({ ...of('secretstores'), body: store('e', elsewhere) }), policy, 'a caProvider naming another namespace\'s ConfigMap')
  // Fields that send a file of ESO's Pod, or its cloud identity, to a server the tenant names.
  await refused(t, co.createNamespacedCustomObject({ ...of('secretstores'), body: store('f', { ibm: { serviceUrl: 'https://sm.team-a.svc',
    auth: { containerAuth: { profile: 'p', tokenLocation: '/var/run/secrets/kubernetes.io/serviceaccount/token', iamEndpoint: 'https://iam.team-a.svc' } } } }) }),
  policy, 'an IBM store reading a file of ESO\'s Pod (containerAuth)')
  await refused(t, co.createNamespacedCustomObject({ ...of('secretstores'), body: store('g', { infisical: { hostAPI: 'https://infisical.team-a.svc',
    secretsScope: { projectSlug: 'p', environmentSlug: 'e' }, auth: { kubernetesAuthCredentials: { identityId: { name: 'i', key: 'id' } } } } }) }),
  policy, 'an Infisical store with Kubernetes auth (ESO\'s own token by default)')
  await refused(t, co.createNamespacedCustomObject({ ...of('secretstores'), body: store('h', { gcpsm: { projectID: 'p',
    auth: { workloadIdentityFederation: { credConfig: { name: 'cred', key: 'config' }, audience: 'x' } } } }) }),
  policy, 'a GCP store with a federation credConfig (its credential_source reads ESO\'s files)')
  await refused(t, co.createNamespacedCustomObject({
    ...of('gcraccesstokens', 'generators.external-secrets.io', 'v1alpha1'),
    body: { apiVersion: 'generators.external-secrets.io/v1alpha1', kind: 'GCRAccessToken', metadata: { name: 'i' },
      spec: { projectID: 'p', auth: { workloadIdentityFederation: { credConfig: { name: 'cred', key: 'config' }, audience: 'x' } } } },
  }), policy, 'the same as a GCRAccessToken generator')
  t.ok(await co.createNamespacedCustomObject({ ...of('secretstores'), body: store('ok-infisical', { infisical: { hostAPI: 'https://infisical.team-a.svc',
    secretsScope: { projectSlug: 'p', environmentSlug: 'e' }, auth: { universalAuthCredentials: { clientId: { name: 'u', key: 'id' }, clientSecret: { name: 'u', key: 'secret' } } } } }) }),
  'control: an Infisical store with universal auth (a Secret of its own namespace)')
  // Controls: the same providers with the tenant's own credentials are accepted.
  t.ok(await co.createNamespacedCustomObject({ ...of('secretstores'), body: store('ok-k8s', k8s({ auth: { serviceAccount: { name: 'reader' } } })) }),
    'control: a Kubernetes store authenticating as a ServiceAccount of its own namespace')
  t.ok(await co.createNamespacedCustomObject({ ...of('secretstores'), body: store('ok-vault', vault({ serviceAccountRef: { name: 'reader' } })) }),
    'control: a Vault store with serviceAccountRef')
  t.ok(await co.createNamespacedCustomObject({ ...of('secretstores'), body: store('ok-akeyless', akeyless({ secretRef: accessSecret, kubernetesAuth: { accessID: 'p-x', k8sConfName: 'c', serviceAccountRef: { name: 'reader' } } })) }),
    'control: an Akeyless store with kubernetesAuth.serviceAccountRef')
})

t.test('nobody but break-glass deletes the storage namespace and every stored password with it', async (t) => {
  await refused(t, core.deleteNamespace({ name: storage }), 'secretwire-stored-secrets', 'admin: delete namespace eso-secret-storage')
  t.equal((await core.readNamespace({ name: storage })).status?.phase, 'Active', 'still there, not terminating')
})

t.test('break-glass: members of the group may change and delete, for an incident', async (t) => {
  const as = api(breakGlass)
  const bgCore = breakGlass.makeApiClient(CoreV1Api)
  // RBAC still applies to them: give alice admin rights, as an admin's account has.
  await admin.makeApiClient(RbacAuthorizationV1Api).createClusterRoleBinding({
    body: { metadata: { name: 'alice-admin' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' }, subjects: [{ kind: 'User', name: 'alice', apiGroup: 'rbac.authorization.k8s.io' }] },
  })
  t.ok(await as.merge('PushSecret', storage, 'secretwire-db', { metadata: { labels: { incident: '42' } } }), 'relabel')
  t.ok(await as.remove('Password', storage, 'secretwire-db'), 'delete a generator')
  t.ok(await bgCore.deleteNamespacedSecret({ namespace: storage, name: 'secretwire-db' }), 'delete a stored password')
  t.ok(await as.create('ExternalSecret', 'team-b', externalSecret('incident-read', readsStore())), 'reference the store')
})

t.test('a namespace with secretwire\'s objects is deleted whole', async (t) => {
  await core.createNamespace({ body: { metadata: { name: 'team-c' } } })
  await api(secretwire).create('ExternalSecret', 'team-c', externalSecret('secretwire-db', readsStore(), managed))
  await core.deleteNamespace({ name: 'team-c' })
  const deadline = Date.now() + 60_000
  for (;;) {
    const gone = await core.readNamespace({ name: 'team-c' }).then(() => false, (e: { code?: number }) => e.code === 404)
    if (gone) break
    if (Date.now() > deadline) {
      const ns = await core.readNamespace({ name: 'team-c' })
      t.fail(`namespace team-c still there after 60 s: ${JSON.stringify(ns.status?.conditions)}`)
      return
    }
    await new Promise((r) => setTimeout(r, 250))
  }
  t.pass('the namespace controller deleted the managed ExternalSecret and the namespace went away')
})

t.test('the identities the policies name are the shipped ones', async (t) => {
  t.equal(serviceAccountUser(identities.secretwire), 'system:serviceaccount:secretwire:secretwire')
  const rbacDoc = shipped.find((d) => d.kind === 'ClusterRoleBinding' && d.metadata.name === 'secretwire') as unknown as
    { subjects: { name: string, namespace: string }[] } | undefined
  t.same(rbacDoc?.subjects.map((s) => `${s.namespace}/${s.name}`), ['secretwire/secretwire'], 'deploy/webhook binds its RBAC to that ServiceAccount')
})

t.test('the storage namespace\'s ResourceQuota (deploy/eso) counts secretwire\'s objects against its limits (1,000 of each kind, read back as 1k)', async (t) => {
  await api(secretwire).create('Password', storage, {
    apiVersion: 'generators.external-secrets.io/v1alpha1', kind: 'Password', metadata: { name: 'secretwire-quota-probe', labels: { ...managed, 'secretwire.io/shared-secret': 'quota-probe' } },
    spec: { length: 42, digits: 5, symbols: 5, symbolCharacters: '-_$@', noUpper: false, allowRepeat: true },
  })
  const key = 'count/passwords.generators.external-secrets.io'
  const listed = async () => ((await admin.makeApiClient(CustomObjectsApi).listNamespacedCustomObject({ ...resources.Password, namespace: storage })) as { items: unknown[] }).items.length
  const deadline = Date.now() + 60_000
  let quota = await core.readNamespacedResourceQuota({ namespace: storage, name: 'secretwire-storage' })
  // The quota controller recounts a moment after a change.
  while (quota.status?.used?.[key] !== String(await listed()) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 250))
    quota = await core.readNamespacedResourceQuota({ namespace: storage, name: 'secretwire-storage' })
  }
  t.same(quota.spec?.hard, {
    'count/passwords.generators.external-secrets.io': '1k', 'count/externalsecrets.external-secrets.io': '1k',
    'count/pushsecrets.external-secrets.io': '1k', 'count/secrets': '1k',
  }, 'the limits as shipped')
  t.equal(quota.status?.used?.[key], String(await listed()), 'Passwords in use = Passwords in the namespace')
  t.ok(Number(quota.status?.used?.[key]) >= 1, 'the probe is counted')
})

function mergeOptions() {
  return setHeaderOptions('Content-Type', PatchStrategy.MergePatch)
}
