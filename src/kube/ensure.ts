// Ensure = create if absent, never update a stored secret's objects (an update to a PushSecret would push a new
// password). The one update: a consumer's ExternalSecret made by an older secretwire is brought to the current
// shape (contract.ts consumerShapeAnnotation), since a workload may now reference a key it lacks. Objects of the
// right name that lack secretwire's labels are never adopted: the admission is refused, and since every object is
// read before any is created, a refusal leaves nothing half-made.
import { setTimeout as sleep } from 'node:timers/promises'
import pLimit from 'p-limit'
import { consumerShapeAnnotation, limits, managedBy, namedSecretsAnnotation, sharedSecretLabel } from '../core/contract.ts'
import type { Deadline } from '../util/deadline.ts'
import { NamedSecretTaken, ObjectInTheWay } from '../core/errors.ts'
import { syncStateOf, type WithConditions } from '../core/reconcileplan.ts'
import { describe, type ManagedObject } from '../core/esoobjects.ts'
import type { ObjectStore, StoredObject } from './client.ts'

export interface EnsureOutcome {
  /** Created by this admission (empty on dry run). */
  readonly created: readonly ManagedObject[]
  /** Missing, but not created because the admission is a dry run. */
  readonly wouldCreate: readonly ManagedObject[]
  /** Consumer ExternalSecrets of an older shape, brought up to date by this admission (not on dry run). */
  readonly updated: readonly ManagedObject[]
}

export interface EnsureOptions {
  readonly dryRun: boolean
  /** Aborts every API call when the admission's time is up. */
  readonly deadline: Deadline
}

const nothingToDo: EnsureOutcome = { created: [], wouldCreate: [], updated: [] }

export async function ensureObjects(objects: readonly ManagedObject[], store: ObjectStore, opts: EnsureOptions): Promise<EnsureOutcome> {
  // The warm path: every object known to the watch cache, nothing to wait for (a promise per read costs measurably).
  const found = allCached(objects, store) ?? await readAll(objects, store, opts.deadline)
  objects.forEach((o, i) => checkOwned(o, found[i]))
  const missing = objects.filter((_, i) => found[i] === undefined)
  const outdated = objects.filter((o, i) => found[i] !== undefined && olderShape(o, found[i]!))
  if (opts.dryRun) return { created: [], wouldCreate: missing, updated: [] }
  // The warm path ends here: the waves below cost 13 µs of p-limit and 25 µs more GC per admission when run empty
  // (bench:profile, 2026-12-05).
  if (missing.length === 0 && outdated.length === 0) return nothingToDo

  const created = new Set<ManagedObject>()
  const make = async (object: ManagedObject) => {
    if (await store.create(object, opts.deadline) === 'exists') {
      checkOwned(object, await store.get(object, opts.deadline))
    } else {
      created.add(object)
    }
  }
  const { generators, stored, consumers } = waves(missing)
  await allSettledOrThrow(generators, make)
  await allSettledOrThrow(stored, make)
  // Side by side too, each as soon as its own stored password is there: one after another, each waiting for ESO in
  // turn, a Pod naming 16 new shared secrets ran out of the admission's time on a loaded API server (CI, twice).
  await allSettledOrThrow(consumers, make, storedPasswords(consumers, objects, found, store, opts.deadline))
  for (const object of outdated) await store.update(object, opts.deadline)
  return { created: missing.filter((o) => created.has(o)), wouldCreate: [], updated: outdated }
}

/**
 * The missing objects in the order they can be made: the generators; then what stores their passwords (it
 * references a generator); then the consumers (each waits for its stored password, storedPasswords). Each wave is
 * made side by side: one after another, a Pod naming 16 shared secrets made 32 storage creates in a row before its
 * first consumer, and on a slow API server (a cold CI run, over 200 ms a create) ran out of the admission's time at
 * the 21st.
 */
function waves(missing: readonly ManagedObject[]): Record<'generators' | 'stored' | 'consumers', ManagedObject[]> {
  return {
    generators: missing.filter((o) => o.kind === 'Password'),
    stored: missing.filter(isStoredPassword),
    consumers: missing.filter((o) => isConsumer(o)),
  }
}

/**
 * Runs `make` for each object, at most `limits.concurrentApiCalls` at a time, and waits for every one to end before
 * throwing the first failure: nothing of the admission is still under way once it is answered. `until` is awaited
 * first, outside the limit: an object waiting for it holds no place from one that is ready.
 */
async function allSettledOrThrow(objects: readonly ManagedObject[], make: (o: ManagedObject) => Promise<void>, until?: (o: ManagedObject) => Promise<void>): Promise<void> {
  if (objects.length === 0) return
  const limit = pLimit(limits.concurrentApiCalls)
  const results = await Promise.allSettled(objects.map(async (o) => {
    if (until !== undefined) await until(o)
    await limit(() => make(o))
  }))
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')
  if (failed !== undefined) throw failed.reason
}

/**
 * How long the consumers' ExternalSecrets wait, all together, for their shared secrets' stored passwords. ESO syncs
 * an ExternalSecret the moment it exists; made before the stored Secret, its first sync fails and ESO records a
 * Warning (UpdateFailed: secret not found) before its retry succeeds. Once the stored password exists there is no
 * wait; with ESO down (or too slow) the rest are made anyway after this, and sync when ESO has stored them.
 */
const storedWaitMs = 2000
/** Time left for the calls after the wait (the creates themselves). */
const afterWaitMs = 1000
const pollMs = 100

/**
 * For each consumer, a promise that resolves once its shared secret's stored password is there, or once the wait
 * is over. One poll reads every stored object not yet synced (from the watch cache when it has them, so no request
 * in a running secretwire), instead of one poll per consumer. A failed read fails every consumer still waiting.
 */
function storedPasswords(consumers: readonly ManagedObject[], objects: readonly ManagedObject[], found: readonly (StoredObject | undefined)[], store: ObjectStore, deadline: Deadline): (consumer: ManagedObject) => Promise<void> {
  const waiting = new Map<string, ManagedObject>()
  for (const consumer of consumers) {
    const name = consumer.metadata.labels[sharedSecretLabel]!
    const i = objects.findIndex((o) => o.metadata.labels[sharedSecretLabel] === name && isStoredPassword(o))
    if (i >= 0 && !synced(found[i])) waiting.set(name, objects[i]!)
  }
  if (waiting.size === 0) return () => Promise.resolve()
  const arrived = new Map<string, () => void>()
  const stored = new Map([...waiting.keys()].map((name) => [name, new Promise<void>((resolve) => arrived.set(name, resolve))]))
  const until = Date.now() + Math.min(storedWaitMs, deadline.remainingMs() - afterWaitMs)
  // Resolves when the wait is over (the consumers still waiting are then made all the same); rejects on a failed read.
  const over = (async () => {
    while (waiting.size > 0 && Date.now() < until) {
      await sleep(Math.max(0, Math.min(pollMs, until - Date.now())))
      const names = [...waiting.keys()]
      const now = await readAll(names.map((n) => waiting.get(n)!), store, deadline)
      names.forEach((name, k) => {
        if (!synced(now[k])) return
        waiting.delete(name)
        arrived.get(name)!()
      })
    }
  })()
  return (consumer) => {
    const mine = stored.get(consumer.metadata.labels[sharedSecretLabel]!)
    return mine === undefined ? Promise.resolve() : Promise.race([mine, over])
  }
}

/** ESO says the ExternalSecret or PushSecret that stores the password is synced: the stored Secret exists. */
function synced(o: StoredObject | undefined): boolean {
  return o !== undefined && syncStateOf(o as WithConditions, true).state === 'synced'
}

/** What stores a shared secret's password in the storage namespace: its PushSecret or ExternalSecret. */
function isStoredPassword(o: ManagedObject): boolean {
  return o.kind !== 'Password' && !isConsumer(o)
}

/** A workload namespace's ExternalSecret: secretwire-NAME (it carries its shape) or one a secret annotation names. */
function isConsumer(o: ManagedObject): boolean {
  return o.metadata.annotations?.[consumerShapeAnnotation.key] !== undefined || o.metadata.annotations?.[namedSecretsAnnotation] !== undefined
}

/** Only consumers' ExternalSecrets carry the shape annotation (esoobjects.ts); storage objects are never updated. */
function olderShape(desired: ManagedObject, stored: StoredObject): boolean {
  const wanted = desired.metadata.annotations?.[consumerShapeAnnotation.key]
  return wanted !== undefined && stored.metadata?.annotations?.[consumerShapeAnnotation.key] !== wanted
}

function checkOwned(desired: ManagedObject, stored: StoredObject | undefined): void {
  if (stored === undefined) return
  const labels = stored.metadata?.labels ?? {}
  // A named Secret's ExternalSecret is never reshaped: another object of the namespace relies on it as it is.
  const entry = desired.metadata.annotations?.[namedSecretsAnnotation]
  const existing = stored.metadata?.annotations?.[namedSecretsAnnotation]
  if (entry !== undefined && existing !== undefined && existing !== entry && labels[managedBy.key] === managedBy.value) {
    throw new NamedSecretTaken(describe(desired), existing, entry)
  }
  const wanted = Object.entries(desired.metadata.labels)
  if (wanted.some(([key, value]) => labels[key] !== value) || (entry !== undefined && existing !== entry)) {
    throw new ObjectInTheWay(describe(desired), wanted.map(([k, v]) => `${k}=${v}`).join(', '))
  }
}

function allCached(objects: readonly ManagedObject[], store: ObjectStore): StoredObject[] | undefined {
  if (store.cached === undefined) return undefined
  const found: StoredObject[] = []
  for (const o of objects) {
    const known = store.cached(o)
    if (known === undefined) return undefined
    found.push(known)
  }
  return found
}

/**
 * Reads every object, at most `limits.concurrentApiCalls` at a time: an object naming many shared secrets must
 * not open dozens of requests at once. (The warm path answers from the watch cache and needs no limiter.)
 */
function readAll(objects: readonly ManagedObject[], store: ObjectStore, deadline: Deadline): Promise<(StoredObject | undefined)[]> {
  if (objects.length <= limits.concurrentApiCalls) return Promise.all(objects.map((o) => store.get(o, deadline)))
  const limit = pLimit(limits.concurrentApiCalls)
  return Promise.all(objects.map((o) => limit(() => store.get(o, deadline))))
}
