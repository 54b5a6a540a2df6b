// What secretwire knows exists, kept current by watches, so the warm path costs no API request: one informer per
// managed kind, filtered by the managed-by label, so the cache holds only secretwire's own objects, and of each only
// what admissions and the reconciler read (`slim`): at 10,000 namespaces the whole objects cost 5.5 KiB each.
//
// CachedStore wraps the real store: a cached object needs no request; a miss is read from the API server (a
// foreign object carries no managed-by label, so only a read can find it); concurrent reads and creates of one
// object share one request (single flight), and a created object is remembered at once, so N concurrent first
// admissions create it exactly once.
import { CustomObjectsApi, ListWatch, Watch, type KubeConfig, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node'
import type { Logger } from 'pino'
import { withinDeadline, type Deadline } from '../util/deadline.ts'
import { apiTimedOut } from '../core/errors.ts'
import { consumerShapeAnnotation, managedBy, namedSecretsAnnotation } from '../core/contract.ts'
import { describe, resources, type ManagedKind, type ManagedObject, type ObjectRef } from '../core/esoobjects.ts'
import type { ObjectStore, StoredObject } from './client.ts'
import type { WithConditions } from '../core/reconcileplan.ts'
import { apiClient } from './connections.ts'

export interface KnownObjects {
  /** The object as last seen by a watch or created here; undefined when not known to exist. */
  lookup(ref: ObjectRef): StoredObject | undefined
  /** An object this process just created, known before its watch event arrives. */
  remember(object: ManagedObject): void
}

const key = (ref: ObjectRef) => describe(ref)

export class CachedStore implements ObjectStore {
  private readonly reads = new Map<string, Promise<StoredObject | undefined>>()
  private readonly creates = new Map<string, Promise<'created' | 'exists'>>()

  constructor(private readonly known: KnownObjects, private readonly store: ObjectStore) {}

  /** What the watches know, with no request: the warm path reads this alone. */
  cached(ref: ObjectRef): StoredObject | undefined {
    return this.known.lookup(ref)
  }

  get(ref: ObjectRef, deadline: Deadline): Promise<StoredObject | undefined> {
    const cached = this.known.lookup(ref)
    if (cached !== undefined) return Promise.resolve(cached)
    return this.once(this.reads, key(ref), () => this.store.get(ref, deadline)) ??
      joined(this.reads.get(key(ref))!, deadline, `reading ${describe(ref)}`)
  }

  /** Only the caller whose request created the object hears 'created'; the ones that joined it hear 'exists'. */
  create(object: ManagedObject, deadline: Deadline): Promise<'created' | 'exists'> {
    if (this.known.lookup(object) !== undefined) return Promise.resolve('exists')
    const mine = this.once(this.creates, key(object), async () => {
      const result = await this.store.create(object, deadline)
      if (result === 'created') this.known.remember(object)
      return result
    })
    return mine ?? joined(this.creates.get(key(object))!.then(() => 'exists' as const), deadline, `creating ${describe(object)}`)
  }

  async update(object: ManagedObject, deadline: Deadline): Promise<void> {
    await this.store.update(object, deadline)
    this.known.remember(object)
  }

  /** Starts `call` unless one for `id` is in flight; returns its promise, or undefined when joining another's. */
  private once<T>(inflight: Map<string, Promise<T>>, id: string, call: () => Promise<T>): Promise<T> | undefined {
    if (inflight.has(id)) return undefined
    const promise = call().finally(() => inflight.delete(id))
    inflight.set(id, promise)
    return promise
  }
}

/**
 * A joiner waits on another admission's request, which runs under that admission's deadline: it gives up at its
 * own deadline all the same, with the answer it would have had from its own request.
 */
function joined<T>(shared: Promise<T>, deadline: Deadline, doing: string): Promise<T> {
  return withinDeadline(shared, deadline, () => apiTimedOut(doing))
}

/** How long a created object counts as existing without its watch event: far longer than a watch takes. */
const rememberedForMs = 30_000

export interface Informers extends KnownObjects {
  /** True once every informer has listed its objects. */
  readonly synced: boolean
  /** Managed objects held, by kind (for the metrics gauge and the memory bound). */
  size(): Record<ManagedKind, number>
  /** Every managed object of a kind the watches hold, as last seen (its `slim` view): for the reconciler. */
  list(kind: ManagedKind): KubernetesObject[]
  stop(): Promise<void>
}

/**
 * Watches Passwords and PushSecrets in the storage namespace and ExternalSecrets everywhere, labelled
 * app.kubernetes.io/managed-by=secretwire. Resolves once all have listed; restarts a watch that fails. Lists ask
 * for `pageSize` objects at a time (client-go's reflector asks for 500).
 */
export async function startInformers(kc: KubeConfig, storageNamespace: string, log: Logger, { pageSize = 500 } = {}): Promise<Informers> {
  const co = apiClient(kc, CustomObjectsApi)
  const labelSelector = `${managedBy.key}=${managedBy.value}`
  // Objects this process created, until their watch event arrives. The event can also come before the create's
  // answer (then nothing would remove the entry, and a later delete would go unseen): so the informer's view wins
  // as soon as it has the object, and an entry the informer never confirms lapses after a while.
  const created = new Map<string, { object: StoredObject, at: number }>()
  let stopped = false

  const watch = (kind: ManagedKind, namespace?: string) => {
    const { group, version, plural } = resources[kind]
    const path = namespace === undefined
      ? `/apis/${group}/${version}/${plural}`
      : `/apis/${group}/${version}/namespaces/${namespace}/${plural}`
    // In pages, as client-go's reflector lists, each slimmed before the next is read: one 10,000-object answer
    // parsed whole grew the heap by tens of MiB that the process then kept. The pages are one consistent snapshot.
    const list = async () => {
      const items: KubernetesObject[] = []
      let page: KubernetesListObject<KubernetesObject> | undefined
      do {
        const query = { group, version, plural, labelSelector, limit: pageSize, ...(next(page) && { _continue: next(page) }) }
        page = await (namespace === undefined
          ? co.listClusterCustomObject(query)
          : co.listNamespacedCustomObject({ ...query, namespace })) as KubernetesListObject<KubernetesObject>
        for (const o of page.items) items.push(slim(o))
      } while (next(page))
      return { ...page, items }
    }
    // As makeInformer builds it, with a watch whose objects are slimmed before the informer stores them.
    const informer = new ListWatch<KubernetesObject>(path, new SlimWatch(kc), list, false, labelSelector)
    const state = { kind, namespace, informer, synced: false, errors: 0 }
    const start = async () => {
      const before = state.errors
      await informer.start()
      if (state.errors === before && !stopped) state.synced = true
    }
    // Once its watch event arrives, an object created here is the informer's to track (and to forget on delete).
    const forget = (o: KubernetesObject) => created.delete(`${kind} ${o.metadata?.namespace}/${o.metadata?.name}`)
    informer.on('add', forget)
    informer.on('delete', forget)
    informer.on('error', (err) => {
      state.errors++
      if (stopped) return
      log.warn({ kind, err: (err as Error | undefined)?.message }, 'watch failed; restarting it')
      setTimeout(() => void start(), 1000).unref()
    })
    return { state, start }
  }

  const watches = [
    watch('Password', storageNamespace),
    watch('PushSecret', storageNamespace),
    watch('ExternalSecret'),
  ]
  await Promise.all(watches.map((w) => w.start()))
  // Looked up on every admission: grouped once.
  const kinds = new Map<ManagedKind, (typeof watches)[number][]>()
  for (const w of watches) kinds.set(w.state.kind, [...(kinds.get(w.state.kind) ?? []), w])
  const byKind = (kind: ManagedKind) => kinds.get(kind) ?? []

  return {
    get synced() { return watches.every((w) => w.state.synced) },
    lookup(ref) {
      for (const w of byKind(ref.kind)) {
        const found = w.state.informer.get(ref.metadata.name, ref.metadata.namespace)
        if (found !== undefined) {
          // Its watch has it now. (Only when anything is remembered: the key is a string built per call.)
          if (created.size > 0) created.delete(key(ref))
          return found
        }
      }
      if (created.size === 0) return undefined
      const mine = created.get(key(ref))
      if (mine === undefined) return undefined
      if (Date.now() - mine.at < rememberedForMs) return mine.object
      created.delete(key(ref))
      return undefined
    },
    remember(object) {
      created.set(key(object), { object: { metadata: { labels: object.metadata.labels, annotations: object.metadata.annotations } }, at: Date.now() })
    },
    list(kind) {
      // The ExternalSecret watch covers every namespace; the storage-namespace ones are in it too.
      const seen = new Map<string, KubernetesObject>()
      for (const w of byKind(kind)) for (const o of w.state.informer.list()) seen.set(`${o.metadata?.namespace}/${o.metadata?.name}`, o)
      return [...seen.values()]
    },
    size() {
      const count = (kind: ManagedKind) => byKind(kind).reduce((n, w) => n + w.state.informer.list().length, 0)
      return { Password: count('Password'), PushSecret: count('PushSecret'), ExternalSecret: count('ExternalSecret') }
    },
    async stop() {
      stopped = true
      // A stopped ListWatch emits an error for the aborted watch; `stopped` makes the handler ignore it.
      await Promise.all(watches.map((w) => w.state.informer.stop()))
    },
  }
}

/**
 * What the cache keeps of a managed object: its identity and labels (admissions check ownership by label), the
 * annotations secretwire itself wrote (shape, named Secret's entry), and ESO's Ready condition (the reconciler's sync
 * state). Spec, other annotations, managedFields and the rest of the status are dropped as each object arrives.
 */
export function slim(o: KubernetesObject): KubernetesObject {
  const m = o.metadata ?? {}
  // The two annotations ensure and the reconciler read: a consumer ExternalSecret's shape, a named Secret's entry.
  const kept = Object.fromEntries([consumerShapeAnnotation.key, namedSecretsAnnotation]
    .flatMap((k) => (m.annotations?.[k] !== undefined ? [[k, m.annotations[k]]] : [])))
  const ready = (o as WithConditions).status?.conditions?.find((c) => c.type === 'Ready')
  return {
    apiVersion: o.apiVersion,
    kind: o.kind,
    metadata: {
      name: m.name, namespace: m.namespace, uid: m.uid, resourceVersion: m.resourceVersion, labels: m.labels,
      ...(Object.keys(kept).length > 0 && { annotations: kept }),
    },
    ...(ready && { status: { conditions: [{ type: ready.type, status: ready.status, reason: ready.reason, message: ready.message }] } }),
  } as KubernetesObject
}

/** The watch behind an informer, handing it each object slimmed; error events (a Status, 410 Gone) pass as sent. */
class SlimWatch extends Watch {
  override watch(...[path, query, callback, done]: Parameters<Watch['watch']>): ReturnType<Watch['watch']> {
    return super.watch(path, query, (phase, object, raw) => callback(phase, phase === 'ERROR' ? object : slim(object as KubernetesObject), raw), done)
  }
}

/** The continue token of a list page: custom objects come back as the API server sent them, not deserialised. */
function next(page: KubernetesListObject<KubernetesObject> | undefined): string | undefined {
  return (page?.metadata as { continue?: string } | undefined)?.continue || undefined
}
