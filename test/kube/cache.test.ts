// Room: src/kube/cache.ts
// The watch cache against the real API server: warm admissions cost no API request, a deleted object is noticed
// and recreated, concurrent first admissions create each object exactly once, and only managed objects are held.
import pino from 'pino'
import t, { type Test } from 'tap'
import { CachedStore, startInformers } from '../../src/kube/cache.ts'
import { defaultPassword } from '../../src/core/contract.ts'
import { deadline } from '../../src/util/deadline.ts'
import { ensureObjects } from '../../src/kube/ensure.ts'
import { ObjectInTheWay } from '../../src/core/errors.ts'
import { consumerExternalSecret, storageObjects, type ManagedObject } from '../../src/core/esoobjects.ts'
import { KubeObjectStore, type ObjectStore } from '../../src/kube/client.ts'
import { CustomObjectsApi, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node'
import { freshNamespace, kubeConfig } from '../helpers/cluster.ts'
import { inventory } from '../helpers/eso.ts'

const signal = () => deadline(30_000)

/** The real store, counting the requests that reach the API server. */
function counting(store: ObjectStore) {
  const calls = { get: 0, create: 0, update: 0 }
  const conflicts = { count: 0 }
  const counted: ObjectStore = {
    get: (ref, s) => { calls.get++; return store.get(ref, s) },
    async create(o, s) {
      calls.create++
      const result = await store.create(o, s)
      if (result === 'exists') conflicts.count++
      return result
    },
    update: (o, s) => { calls.update++; return store.update(o, s) },
  }
  return { calls, counted, conflicts }
}

async function setup(t: Test) {
  const kc = await kubeConfig()
  const storage = await freshNamespace(t, kc, 'store')
  const namespace = await freshNamespace(t, kc)
  const informers = await startInformers(kc, storage, pino({ level: 'silent' }))
  t.teardown(() => informers.stop())
  const { calls, counted, conflicts } = counting(new KubeObjectStore(kc))
  const store = new CachedStore(informers, counted)
  const s = { storageNamespace: storage, clusterSecretStore: 'css', strategy: 'push' as const }
  const objects = (name: string, ns = namespace): ManagedObject[] => [...storageObjects(name, defaultPassword, s), consumerExternalSecret(name, ns, s)]
  return { kc, storage, namespace, informers, calls, conflicts, store, objects }
}

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

t.test('synced after the first list; warm admissions make no API request', async (t) => {
  const { storage, namespace, informers, calls, store, objects } = await setup(t)
  t.ok(informers.synced)
  await ensureObjects(objects('db'), store, { dryRun: false, deadline: signal() })
  t.same(calls, { get: 3, create: 3, update: 0 }, 'cold: one read and one create per object')
  for (let i = 0; i < 20; i++) await ensureObjects(objects('db'), store, { dryRun: false, deadline: signal() })
  t.same(calls, { get: 3, create: 3, update: 0 }, 'warm: 20 more admissions, no request at all')
  await until(() => objects('db').every((o) => informers.list(o.kind).some((h) => h.metadata?.namespace === o.metadata.namespace && h.metadata?.name === o.metadata.name)), 'the watch events of all three')
  // Exactly these: the storage namespace's two objects, and of the ExternalSecrets (watched cluster-wide, where
  // other test files make theirs) the one in this test's namespace.
  const names = (kind: 'Password' | 'PushSecret' | 'ExternalSecret', ns?: string) => informers.list(kind)
    .filter((o) => ns === undefined || o.metadata?.namespace === ns).map((o) => `${o.metadata?.namespace}/${o.metadata?.name}`)
  t.same(names('Password'), [`${storage}/secretwire-db`], 'one Password, in the storage namespace')
  t.same(names('PushSecret'), [`${storage}/secretwire-db`], 'one PushSecret, in the storage namespace')
  t.same(names('ExternalSecret', namespace), [`${namespace}/secretwire-db`], 'one ExternalSecret in the consumer namespace')
})

t.test('existing objects are known from the first list, read in pages, without a request', async (t) => {
  const { kc, storage, objects } = await setup(t)
  const names = ['pre-a', 'pre-b', 'pre-c']
  for (const name of names) await ensureObjects(objects(name), new KubeObjectStore(kc), { dryRun: false, deadline: signal() })
  // Pages of two: each kind's three objects take two pages, so an object on a later page is known only if the
  // list follows the continue token.
  const later = await startInformers(kc, storage, pino({ level: 'silent' }), { pageSize: 2 })
  t.teardown(() => later.stop())
  // The store behind the cache counts what reaches it (and refuses it, so a request cannot pass unnoticed).
  const { calls, counted } = counting({ get: () => Promise.reject(new Error('no request expected')), create: () => Promise.reject(new Error('no request expected')), update: () => Promise.reject(new Error('no request expected')) })
  for (const name of names) {
    const outcome = await ensureObjects(objects(name), new CachedStore(later, counted), { dryRun: false, deadline: signal() })
    t.same(outcome, { created: [], wouldCreate: [], updated: [] }, `${name}: all three known, nothing created, nothing updated`)
  }
  t.same(calls, { get: 0, create: 0, update: 0 }, 'and no request made')
  t.same(later.size().Password, 3, "the storage namespace's three Passwords, from two pages")
})

t.test('of each object the cache keeps its identity, labels, shape annotation and Ready condition, from the list and from the watch', async (t) => {
  const { kc, storage, namespace, informers, store, objects } = await setup(t)
  await ensureObjects(objects('slim'), store, { dryRun: false, deadline: signal() })
  const co = kc.makeApiClient(CustomObjectsApi)
  const es = { group: 'external-secrets.io', version: 'v1', plural: 'externalsecrets', namespace, name: 'secretwire-slim' }
  // What ESO would write, and what a user might add: none of it but the Ready condition (and secretwire's shape
  // annotation) is kept.
  await co.patchNamespacedCustomObject({ ...es, body: { metadata: { annotations: { note: 'x'.repeat(2000) } } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch))
  await co.patchNamespacedCustomObjectStatus({ ...es, body: { status: {
    refreshTime: '2026-01-01T00:00:00Z', binding: { name: 'secretwire-slim' },
    conditions: [{ type: 'Ready', status: 'False', reason: 'SecretSyncedError', message: 'could not get secret data', lastTransitionTime: '2026-01-01T00:00:00Z' },
      { type: 'Deleted', status: 'False', reason: 'x', message: 'y', lastTransitionTime: '2026-01-01T00:00:00Z' }],
  } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch))
  const stored = await co.getNamespacedCustomObject(es) as { metadata: { uid: string, resourceVersion: string, labels: Record<string, string> } }
  const expected = {
    apiVersion: 'external-secrets.io/v1', kind: 'ExternalSecret',
    metadata: {
      name: 'secretwire-slim', namespace, uid: stored.metadata.uid, resourceVersion: stored.metadata.resourceVersion, labels: stored.metadata.labels,
      annotations: { 'secretwire.io/shape': '2' },
    },
    status: { conditions: [{ type: 'Ready', status: 'False', reason: 'SecretSyncedError', message: 'could not get secret data' }] },
  }
  const held = (from: typeof informers) => from.list('ExternalSecret').find((o) => o.metadata?.namespace === namespace)
  await until(() => held(informers)?.metadata?.resourceVersion === stored.metadata.resourceVersion, 'the status update by watch')
  t.strictSame(held(informers), expected, 'by watch: nothing else held')
  const later = await startInformers(kc, storage, pino({ level: 'silent' }))
  t.teardown(() => later.stop())
  t.strictSame(held(later), expected, 'by list: nothing else held')
  const password = later.list('Password').find((o) => o.metadata?.name === 'secretwire-slim')
  t.strictSame(password, {
    apiVersion: 'generators.external-secrets.io/v1alpha1', kind: 'Password',
    metadata: { name: 'secretwire-slim', namespace: storage, uid: password?.metadata?.uid, resourceVersion: password?.metadata?.resourceVersion, labels: objects('slim')[0]!.metadata.labels },
  }, 'a Password: no spec, no status')
})

t.test('a deleted object is noticed and recreated by the next admission', async (t) => {
  const { kc, namespace, informers, calls, store, objects } = await setup(t)
  await ensureObjects(objects('db'), store, { dryRun: false, deadline: signal() })
  await until(() => informers.lookup(objects('db')[2]!) !== undefined, 'the ExternalSecret in the cache')
  await kc.makeApiClient(CustomObjectsApi).deleteNamespacedCustomObject({ group: 'external-secrets.io', version: 'v1', plural: 'externalsecrets', namespace, name: 'secretwire-db' })
  await until(() => informers.lookup(objects('db')[2]!) === undefined, 'the delete event')
  const before = { ...calls }
  const outcome = await ensureObjects(objects('db'), store, { dryRun: false, deadline: signal() })
  t.same(outcome.created.map((o) => o.kind), ['ExternalSecret'], 'recreated')
  t.same({ get: calls.get - before.get, create: calls.create - before.create }, { get: 1, create: 1 }, 'only the missing object cost requests')
})

t.test('50 concurrent first admissions: exactly one create per object, no 409', async (t) => {
  const { kc, storage, namespace, calls, conflicts, store, objects } = await setup(t)
  const results = await Promise.all(Array.from({ length: 50 }, () => ensureObjects(objects('hot'), store, { dryRun: false, deadline: signal() })))
  t.equal(calls.create, 3, 'three creates reached the API server')
  t.equal(results.reduce((n, r) => n + r.created.length, 0), 3, 'each object reported created once')
  t.equal(conflicts.count, 0, 'the API server answered no 409')
  // All 50 start in one tick: the 49 that find a read of the same object in flight join it.
  t.equal(calls.get, 3, 'three reads reached the API server: concurrent reads of one object share one request')
  t.equal((await inventory(kc, storage, namespace)).length, 3)
})

t.test('foreign objects are not cached, and still found in the way', async (t) => {
  const { kc, storage, informers, store, objects } = await setup(t)
  const foreign = objects('theirs')[1]!
  await new KubeObjectStore(kc).create({ ...foreign, metadata: { ...foreign.metadata, labels: { team: 'payments' } } }, signal())
  // A managed object created after it: one watch delivers events in order, so once this one is held, the
  // foreign one would have been too, had the watch let it through. (No sleep standing in for propagation.)
  const sentinel = objects('sentinel')[1]!
  await new KubeObjectStore(kc).create(sentinel, signal())
  await until(() => informers.lookup(sentinel) !== undefined, 'the managed PushSecret created after the foreign one')
  t.equal(informers.lookup(foreign), undefined, 'an unlabelled object is not held')
  t.same(informers.list('PushSecret').map((o) => o.metadata?.name), ['secretwire-sentinel'], 'only the managed PushSecret is')
  await t.rejects(ensureObjects(objects('theirs'), store, { dryRun: false, deadline: signal() }), ObjectInTheWay)
  t.same(await inventory(kc, storage), [`PushSecret ${storage}/secretwire-sentinel`, `PushSecret ${storage}/secretwire-theirs`], 'and nothing else was created')
})

t.test('a caller that joins another admission\'s request keeps its own deadline', async (t) => {
  // Fault injected beside the real tests above: a first request that hangs (as a paused API server would), so
  // the joiner's own deadline is what must end its wait. A stub, because the shared API server cannot be paused.
  const object = consumerExternalSecret('slow', 'apps', { storageNamespace: 'vault', clusterSecretStore: 'css', strategy: 'generate' })
  let release: (v: undefined) => void = () => undefined
  const hanging: ObjectStore = {
    get: () => new Promise((r) => { release = r }),
    create: () => new Promise(() => undefined),
    update: () => new Promise(() => undefined),
  }
  const store = new CachedStore({ lookup: () => undefined, remember: () => undefined }, hanging)
  // Deadlines are AbortSignal.timeout timers, which never keep a process alive; nothing else here would.
  const alive = setInterval(() => undefined, 1000)
  t.teardown(() => clearInterval(alive))
  const first = store.get(object, deadline(30_000))
  // The first request never answers until released: only the joiner's own deadline can end its wait.
  await t.rejects(store.get(object, deadline(200)), { code: 504, message: 'the Kubernetes API did not answer in time while reading ExternalSecret apps/secretwire-slow' },
    'the joiner gives up at its own deadline')
  release(undefined)
  t.equal(await first, undefined, 'the first caller still gets its answer')
  void store.create(object, deadline(30_000))
  await t.rejects(store.create(object, deadline(100)), { code: 504, message: /while creating ExternalSecret apps\/secretwire-slow$/ })
})
