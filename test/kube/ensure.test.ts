// Room: src/kube/ensure.ts
// ensure against the real API server: create if absent, never update a stored secret's objects (a consumer's
// ExternalSecret of an older shape is brought up to date), never adopt, races counted as success.
import t, { type Test } from 'tap'
import { deadline } from '../../src/util/deadline.ts'
import { ensureObjects } from '../../src/kube/ensure.ts'
import { ObjectInTheWay } from '../../src/core/errors.ts'
import { CustomObjectsApi, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node'
import { consumerExternalSecret, resources, storageObjects, type ManagedObject } from '../../src/core/esoobjects.ts'
import { KubeObjectStore, type ObjectStore } from '../../src/kube/client.ts'
import { defaultPassword, limits } from '../../src/core/contract.ts'
import { freshNamespace, kubeConfig } from '../helpers/cluster.ts'
import { inventory, list } from '../helpers/eso.ts'

// Generous: these tests count objects and requests, not time (the bench measures time).
const signal = () => deadline(30_000)

async function setup(t: Test) {
  const kc = await kubeConfig()
  const storage = await freshNamespace(t, kc, 'store')
  const namespace = await freshNamespace(t, kc)
  const s = { storageNamespace: storage, clusterSecretStore: 'css', strategy: 'push' as const }
  const objects = [...storageObjects('db', defaultPassword, s), consumerExternalSecret('db', namespace, s)]
  return { kc, storage, namespace, objects, store: new KubeObjectStore(kc) }
}

t.test('creates what is missing, in order, and nothing the second time', async (t) => {
  const { kc, storage, namespace, objects, store } = await setup(t)
  const first = await ensureObjects(objects, store, { dryRun: false, deadline: signal() })
  t.same(first.created.map((o) => o.kind), ['Password', 'PushSecret', 'ExternalSecret'])
  const [pushBefore] = await list(kc, 'PushSecret', storage)
  const second = await ensureObjects(objects, store, { dryRun: false, deadline: signal() })
  t.same(second, { created: [], wouldCreate: [], updated: [] })
  const [pushAfter] = await list(kc, 'PushSecret', storage)
  t.equal(pushAfter?.metadata.resourceVersion, pushBefore?.metadata.resourceVersion, 'never updated')
  t.equal((await inventory(kc, storage, namespace)).length, 3)
})

t.test('a consumer ExternalSecret an older secretwire made is brought to the current shape, once; storage objects never', async (t) => {
  const { kc, storage, namespace, objects, store } = await setup(t)
  const consumer = objects[2]!
  // As secretwire before the url form made it: no template, no shape annotation, created once.
  const { annotations: _, ...olderMetadata } = consumer.metadata
  const older: ManagedObject = {
    ...consumer, metadata: olderMetadata,
    spec: { ...consumer.spec, refreshPolicy: 'CreatedOnce', target: { name: 'secretwire-db', creationPolicy: 'Owner' } },
  }
  await ensureObjects([...objects.slice(0, 2), older], store, { dryRun: false, deadline: signal() })
  const [pushBefore] = await list(kc, 'PushSecret', storage)
  const outcome = await ensureObjects(objects, store, { dryRun: false, deadline: signal() })
  t.same(outcome.updated.map((o) => `${o.kind} ${o.metadata.namespace}`), [`ExternalSecret ${namespace}`], 'only the consumer\'s ExternalSecret')
  const [updated] = await list(kc, 'ExternalSecret', namespace)
  t.same(updated?.metadata.annotations, { 'secretwire.io/shape': '2' })
  t.match(updated?.spec, consumer.spec, 'its spec is the current one: the template with both keys, OnChange')
  t.same(updated?.metadata.labels, consumer.metadata.labels, 'its labels stay')
  const [pushAfter] = await list(kc, 'PushSecret', storage)
  t.equal(pushAfter?.metadata.resourceVersion, pushBefore?.metadata.resourceVersion, 'the PushSecret was not written')
  t.same((await ensureObjects(objects, store, { dryRun: false, deadline: signal() })).updated, [], 'the next admission finds it current')
  t.same((await ensureObjects([...objects.slice(0, 2), older], store, { dryRun: true, deadline: signal() })).updated, [], 'a dry run changes nothing')
})

t.test('what a watch cache knows is checked with no request; an object it lacks is read as before', async (t) => {
  const { objects, store } = await setup(t)
  await ensureObjects(objects, store, { dryRun: false, deadline: signal() })
  const stored = await Promise.all(objects.map((o) => store.get(o, signal())))
  let reads = 0
  const withCache = (known: (i: number) => typeof stored[number]): ObjectStore => ({
    get: (ref, d) => { reads++; return store.get(ref, d) },
    create: (o, d) => store.create(o, d),
    update: (o, d) => store.update(o, d),
    cached: (ref) => known(objects.findIndex((o) => o.kind === ref.kind && o.metadata.name === ref.metadata.name && o.metadata.namespace === ref.metadata.namespace)),
  })
  t.same(await ensureObjects(objects, withCache((i) => stored[i]), { dryRun: false, deadline: signal() }), { created: [], wouldCreate: [], updated: [] })
  t.equal(reads, 0, 'every object known: no read')
  t.same(await ensureObjects(objects, withCache((i) => (i === 2 ? undefined : stored[i])), { dryRun: false, deadline: signal() }), { created: [], wouldCreate: [], updated: [] })
  t.equal(reads, 3, 'one unknown: all are read, as without a cache')
  const foreign = { ...stored[0]!, metadata: { ...stored[0]!.metadata, labels: {} } }
  await t.rejects(ensureObjects(objects, withCache((i) => (i === 0 ? foreign : stored[i])), { dryRun: false, deadline: signal() }), ObjectInTheWay,
    'a cached object without secretwire\'s labels is refused all the same')
})

t.test('dry run reads and creates nothing', async (t) => {
  const { kc, storage, namespace, objects, store } = await setup(t)
  const outcome = await ensureObjects(objects, store, { dryRun: true, deadline: signal() })
  t.same(outcome.wouldCreate, objects)
  t.same(await inventory(kc, storage, namespace), [])
})

t.test('50 concurrent ensures: each object exists once, created once, nobody fails', async (t) => {
  const { kc, storage, namespace, objects, store } = await setup(t)
  const outcomes = await Promise.all(Array.from({ length: 50 }, () => ensureObjects(objects, store, { dryRun: false, deadline: signal() })))
  t.equal(outcomes.reduce((n, o) => n + o.created.length, 0), 3, 'three creates in all; the losers saw 409 and counted it as success')
  t.equal((await inventory(kc, storage, namespace)).length, 3)
})

t.test('an object without secretwire\'s labels is never adopted, and nothing else is created', async (t) => {
  const { kc, storage, namespace, objects, store } = await setup(t)
  const foreign: ManagedObject = { ...objects[1]!, metadata: { ...objects[1]!.metadata, labels: { 'app.kubernetes.io/managed-by': 'helm' } } }
  await store.create(foreign, signal())
  await t.rejects(ensureObjects(objects, store, { dryRun: false, deadline: signal() }), ObjectInTheWay)
  await t.rejects(ensureObjects(objects, store, { dryRun: false, deadline: signal() }), {
    code: 409,
    message: `PushSecret ${storage}/secretwire-db already exists and is not managed by secretwire (it lacks the labels ` +
      'app.kubernetes.io/managed-by=secretwire, secretwire.io/shared-secret=db); secretwire never adopts or changes it: rename or remove it',
  })
  t.same(await inventory(kc, storage, namespace), [`PushSecret ${storage}/secretwire-db`], 'only the foreign object exists')
  const labelledForAnotherSecret: ManagedObject = { ...objects[2]!, metadata: { ...objects[2]!.metadata, labels: { ...objects[2]!.metadata.labels, 'secretwire.io/shared-secret': 'other' } } }
  await store.create(labelledForAnotherSecret, signal())
  await t.rejects(ensureObjects([objects[2]!], store, { dryRun: true, deadline: signal() }), { code: 409 }, 'the shared-secret label must match too, even on dry run')
})

t.test('a foreign object created between the read and the create is refused (race injected on the real server)', async (t) => {
  const { kc, storage, namespace, objects, store } = await setup(t)
  // The real server cannot be made to lose this race on cue, so the race partner is played just before the
  // create reaches it: a real foreign create through the same API server.
  let raced = false
  const racing: ObjectStore = {
    get: (ref, s) => store.get(ref, s),
    async create(object, s) {
      if (!raced && object.kind === 'PushSecret') {
        raced = true
        await store.create({ ...object, metadata: { ...object.metadata, labels: { owner: 'someone-else' } } }, s)
      }
      return store.create(object, s)
    },
    update: (object, s) => store.update(object, s),
  }
  await t.rejects(ensureObjects(objects, racing, { dryRun: false, deadline: signal() }), { code: 409, message: /PushSecret .* is not managed by secretwire/ })
  t.same(await inventory(kc, storage, namespace), [`Password ${storage}/secretwire-db`, `PushSecret ${storage}/secretwire-db`])
})

t.test('an object naming 16 shared secrets keeps at most 8 API reads in flight', async (t) => {
  const { kc, storage, namespace, store } = await setup(t)
  const { objects } = sixteen('s', 'generate', storage, namespace)
  let inFlight = 0
  let most = 0
  let reads = 0
  // The real store, counted: how many of its reads overlap.
  const counted: ObjectStore = {
    async get(ref, d) {
      reads++
      most = Math.max(most, ++inFlight)
      try {
        return await store.get(ref, d)
      } finally {
        inFlight--
      }
    },
    create: (o, d) => store.create(o, d),
    update: (o, d) => store.update(o, d),
  }
  const outcome = await ensureObjects(objects, counted, { dryRun: true, deadline: signal() })
  t.equal(reads, 48, 'every object read')
  t.equal(most, limits.concurrentApiCalls, `at most ${limits.concurrentApiCalls} at once`)
  t.equal(outcome.wouldCreate.length, 48)
  t.same(await inventory(kc, storage, namespace), [], 'dry run: nothing created')
})

t.test('an object naming 16 shared secrets: its generators, then its stored passwords, then its consumers, each wave side by side (at most 8 at a time)', async (t) => {
  const { kc, storage, namespace, store } = await setup(t)
  const { objects } = sixteen('w', 'push', storage, namespace)
  const { started, counted, most } = watchedCreates(store)
  const outcome = await ensureObjects(objects, counted, { dryRun: false, deadline: signal() })
  t.equal(started.length, 48, 'every object created once')
  t.equal(most(), limits.concurrentApiCalls, `${limits.concurrentApiCalls} creates in flight at most, and that many used`)
  const passwords = objects.filter((o) => o.kind === 'Password').map(key)
  const pushes = objects.filter((o) => o.kind === 'PushSecret').map(key)
  for (const { object, madeBefore } of started) {
    if (object.startsWith('PushSecret')) t.ok(passwords.every((p) => madeBefore.has(p)), `${object}: after every generator`)
    if (object.startsWith('ExternalSecret')) t.ok(pushes.every((p) => madeBefore.has(p)), `${object}: after every stored password`)
  }
  const consumers = started.filter((c) => c.object.startsWith('ExternalSecret'))
  t.ok(consumers.slice(1, limits.concurrentApiCalls).every((c) => !c.madeBefore.has(consumers[0]!.object)), 'the first consumers made side by side')
  t.same(outcome.created.map(key), objects.map(key), 'reported in plan order')
  t.equal((await inventory(kc, storage, namespace)).length, 48)
})

t.test('consumers wait for their stored passwords all together: the ones ESO has stored are made at once, the rest once the wait is over', async (t) => {
  const { kc, storage, namespace, store } = await setup(t)
  const { names, objects } = sixteen('v', 'push', storage, namespace)
  // No ESO controller runs in this suite: the test writes what ESO would, Ready on the PushSecrets of v1, v3 ... v15
  // as they are created, through the real API server's status subresource. v0, v2 ... v14 are never stored: each
  // comes before one that is, so one after another they would hold it back.
  const co = kc.makeApiClient(CustomObjectsApi)
  const ready = new Set(names.filter((_, i) => i % 2 === 1))
  const { started, counted } = watchedCreates(store, async (o) => {
    if (o.kind !== 'PushSecret' || !ready.has(o.metadata.labels['secretwire.io/shared-secret']!)) return
    await co.patchNamespacedCustomObjectStatus({ ...resources.PushSecret, namespace: storage, name: o.metadata.name, body: { status: {
      conditions: [{ type: 'Ready', status: 'True', reason: 'Synced', message: 'PushSecret synced successfully', lastTransitionTime: new Date().toISOString() }],
    } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch))
  })
  const outcome = await ensureObjects(objects, counted, { dryRun: false, deadline: signal() })
  const consumers = started.filter((c) => c.object.startsWith('ExternalSecret'))
  const storedFirst = consumers.slice(0, 8).map((c) => c.object)
  t.same(storedFirst.sort(), [...ready].map((n) => `ExternalSecret ${namespace}/secretwire-${n}`).sort(),
    'the 8 consumers whose passwords are stored are made first, not held back by the 8 still waiting')
  t.ok(consumers.slice(8).every((c) => storedFirst.every((o) => c.madeBefore.has(o))), 'the 8 whose passwords never came are made after them, once the wait is over')
  t.equal(outcome.created.length, 48, 'every object made')
})

/** An object naming the most shared secrets it may: their storage objects, then their consumers in `namespace`. */
function sixteen(prefix: string, strategy: 'push' | 'generate', storageNamespace: string, namespace: string) {
  const s = { storageNamespace, clusterSecretStore: 'css', strategy }
  const names = Array.from({ length: limits.sharedSecretsPerObject }, (_, i) => `${prefix}${i}`)
  const objects = [
    ...names.flatMap((n) => storageObjects(n, defaultPassword, s)),
    ...names.map((n) => consumerExternalSecret(n, namespace, s)),
  ]
  return { names, objects }
}

/** The real store, its creates watched: each as it starts, with what was made before it, and how many overlapped. */
function watchedCreates(store: ObjectStore, after?: (o: ManagedObject) => Promise<void>) {
  let inFlight = 0
  let most = 0
  const made = new Set<string>()
  const started: { object: string, madeBefore: Set<string> }[] = []
  const counted: ObjectStore = {
    get: (ref, d) => store.get(ref, d),
    async create(o, d) {
      started.push({ object: key(o), madeBefore: new Set(made) })
      most = Math.max(most, ++inFlight)
      try {
        const result = await store.create(o, d)
        await after?.(o)
        return result
      } finally {
        inFlight--
        made.add(key(o))
      }
    },
    update: (o, d) => store.update(o, d),
  }
  return { started, counted, most: () => most }
}

const key = (o: ManagedObject) => `${o.kind} ${o.metadata.namespace}/${o.metadata.name}`
