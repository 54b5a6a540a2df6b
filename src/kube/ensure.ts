// Ensure = create if absent, never update a stored secret's objects (an update to a PushSecret would push a new
// password). The one update: a consumer's ExternalSecret made by an older secretwire is brought to the current
// shape (contract.ts consumerShapeAnnotation), since a workload may now reference a key it lacks. Objects of the
// right name that lack secretwire's labels are never adopted: the admission is refused, and since every object is
// read before any is created, a refusal leaves nothing half-made.
import pLimit from 'p-limit'
import { consumerShapeAnnotation, limits } from '../core/contract.ts'
import type { Deadline } from '../util/deadline.ts'
import { ObjectInTheWay } from '../core/errors.ts'
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

export async function ensureObjects(objects: readonly ManagedObject[], store: ObjectStore, opts: EnsureOptions): Promise<EnsureOutcome> {
  const found = await readAll(objects, store, opts.deadline)
  objects.forEach((o, i) => checkOwned(o, found[i]))
  const missing = objects.filter((_, i) => found[i] === undefined)
  const outdated = objects.filter((o, i) => found[i] !== undefined && olderShape(o, found[i]!))
  if (opts.dryRun) return { created: [], wouldCreate: missing, updated: [] }

  const created: ManagedObject[] = []
  // In plan order, so a generator exists before the PushSecret or ExternalSecret that references it.
  for (const object of missing) {
    if (await store.create(object, opts.deadline) === 'exists') {
      checkOwned(object, await store.get(object, opts.deadline))
    } else {
      created.push(object)
    }
  }
  for (const object of outdated) await store.update(object, opts.deadline)
  return { created, wouldCreate: [], updated: outdated }
}

/** Only consumers' ExternalSecrets carry the shape annotation (esoobjects.ts); storage objects are never updated. */
function olderShape(desired: ManagedObject, stored: StoredObject): boolean {
  const wanted = desired.metadata.annotations?.[consumerShapeAnnotation.key]
  return wanted !== undefined && stored.metadata?.annotations?.[consumerShapeAnnotation.key] !== wanted
}

function checkOwned(desired: ManagedObject, stored: StoredObject | undefined): void {
  if (stored === undefined) return
  const labels = stored.metadata?.labels ?? {}
  const wanted = Object.entries(desired.metadata.labels)
  if (wanted.some(([key, value]) => labels[key] !== value)) {
    throw new ObjectInTheWay(describe(desired), wanted.map(([k, v]) => `${k}=${v}`).join(', '))
  }
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
