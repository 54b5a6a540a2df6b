// The reconciler's decision, pure: from who consumes what, which ExternalSecrets exist and since when each has
// had no consumer, to what must exist and what may go. Shared by the reconcile loop and `secretwire status`.
//   - every live consumer of NAME in namespace N, if the policy still allows NAME there: NAME's generator and
//     stored secret, and N's ExternalSecret, must exist (created if absent, as at admission); the same for each
//     Secret a secret annotation names (its own ExternalSecret, named after it);
//   - an ExternalSecret in N whose NAME has had no consumer in N for the grace period is deleted (with it, by
//     ownership, its copy of the password); one whose consumer is back before then stays;
//   - never the generator or the stored password: a database may still hold that password.
import { resourceName } from './contract.ts'
import type { ManagedObject } from './esoobjects.ts'
import { consumerExternalSecret, namedExternalSecret, storageObjects } from './esoobjects.ts'
import type { PlanSettings } from './plan.ts'
import { namedKeyOf, type Consumer } from './consumers.ts'
import type { NamedSecretEntry } from './annotations.ts'

/** ESO's sync state of an ExternalSecret or PushSecret, from its Ready condition. */
export type SyncState = 'synced' | 'pending' | 'failed'

/** ESO's message (before 0.19.1: upstream issue #4976) when it may not replace an immutable target Secret's data. */
const immutableTarget = 'could not update secret, target is immutable'

export interface WithConditions {
  readonly status?: { readonly conditions?: readonly { type: string, status: string, reason?: string, message?: string }[] }
}

/**
 * What ESO says of an object: synced (Ready True); failed (Ready False for an error: ESO's reasons for those say
 * so: an ExternalSecret's SecretSyncedError, a PushSecret's Errored); else pending, with ESO's words as the detail.
 */
export function syncStateOf(o: WithConditions, stored = false): { state: SyncState, detail?: string } {
  const ready = o.status?.conditions?.find((c) => c.type === 'Ready')
  if (ready?.status === 'True') return { state: 'synced' }
  const detail = [ready?.reason, ready?.message].filter((x) => x !== undefined && x !== '').join(': ') || 'no status from ESO yet'
  // The stored secret's ExternalSecret (strategy generate) says this only when its Secret exists, is immutable and
  // ESO generated again: the stored password is there and unchanged. ESO before 0.19.1 gets there by re-reading
  // its own ExternalSecret from a stale cache right after the first sync, and then keeps retrying (it rewrites the
  // Secret's data-hash annotation each time); the immutable Secret is what keeps the password from changing.
  if (stored && ready?.message === immutableTarget) return { state: 'synced', detail: `unchanged (ESO generated again; the immutable Secret refused it)` }
  return { state: ready?.status === 'False' && /Error/.test(ready.reason ?? '') ? 'failed' : 'pending', detail }
}

export interface ManagedExternalSecret {
  readonly namespace: string
  /** The shared secret NAME (its secretwire.io/shared-secret label). */
  readonly sharedSecret: string
  /** For the ExternalSecret of a named Secret: the entry it was made for (NAME[:basic-auth:USERNAME]=SECRET). */
  readonly entry?: string
  readonly uid: string
  readonly state: SyncState
  /** ESO's reason and message when not synced. */
  readonly detail?: string
}

export interface ReconcileInput {
  /** Consumers by `namespace/NAME`. */
  readonly consumers: ReadonlyMap<string, readonly Consumer[]>
  /** Secrets named by secret annotations, by namedKeyOf (consumers.ts), with the objects naming each. */
  readonly named?: ReadonlyMap<string, { readonly entry: NamedSecretEntry, readonly consumers: readonly Consumer[] }>
  /** The ExternalSecrets secretwire made in workload namespaces (the storage namespace's are not consumers'). */
  readonly externalSecrets: readonly ManagedExternalSecret[]
  /**
   * Every managed object that exists, as `Kind namespace/name` (describe() in eso.ts): only what is missing is
   * ensured, so a round over thousands of consumers that lack nothing builds no object.
   */
  readonly existing: ReadonlySet<string>
  /** Since when (ms) each `namespace/NAME` with an ExternalSecret has been seen without a consumer. */
  readonly unconsumedSince: ReadonlyMap<string, number>
  readonly now: number
  readonly graceMs: number
  readonly settings: PlanSettings
}

export interface ReconcilePlan {
  /** Objects to ensure (the missing ones, with what they need), per `namespace/NAME` with a live consumer the policy allows. */
  readonly ensure: readonly { readonly key: string, readonly objects: readonly ManagedObject[] }[]
  /** ExternalSecrets past the grace period: delete them. */
  readonly collect: readonly ManagedExternalSecret[]
  /** ExternalSecrets without a consumer, within the grace period: when each may go. */
  readonly waiting: readonly { readonly externalSecret: ManagedExternalSecret, readonly collectAt: number }[]
  /** Live consumers the policy no longer allows: nothing is recreated for them. */
  readonly refused: readonly { readonly key: string, readonly consumers: readonly Consumer[] }[]
  /** The next `unconsumedSince`. */
  readonly unconsumedSince: ReadonlyMap<string, number>
}

export const keyOf = (namespace: string, sharedSecret: string) => `${namespace}/${sharedSecret}`

/** The key an ExternalSecret is consumed under: `namespace/NAME`, or a named Secret's namedKeyOf. */
export function externalSecretKey(es: ManagedExternalSecret): string {
  return es.entry === undefined ? keyOf(es.namespace, es.sharedSecret) : namedKeyOf(es.namespace, es.entry)
}

export function reconcilePlan(input: ReconcileInput): ReconcilePlan {
  const { settings } = input
  const policy = settings.policy.current
  const ensure: { key: string, objects: ManagedObject[] }[] = []
  const refused: { key: string, consumers: readonly Consumer[] }[] = []
  const storedKind = settings.strategy === 'generate' ? 'ExternalSecret' : 'PushSecret'
  const wanted = [
    ...[...input.consumers].map(([key, consumers]) => {
      const [namespace, name] = key.split('/') as [string, string]
      return { key, namespace, name, consumers, consumer: () => consumerExternalSecret(name, namespace, settings) }
    }),
    ...[...input.named ?? []].map(([key, { entry, consumers }]) => {
      const namespace = key.slice(0, key.indexOf('/'))
      return { key, namespace, name: entry.sharedSecret, consumers, consumer: () => namedExternalSecret(entry, namespace, settings) }
    }),
  ].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
  for (const { key, namespace, name, consumers, consumer } of wanted) {
    if (namespace === settings.storageNamespace) continue
    const secretPolicy = policy.forSecret(name)
    if (!secretPolicy.allows(namespace)) {
      refused.push({ key, consumers })
      continue
    }
    const object = resourceName(name)
    const es = consumer()
    const complete = input.existing.has(`ExternalSecret ${namespace}/${es.metadata.name}`) && input.existing.has(`Password ${settings.storageNamespace}/${object}`) &&
      input.existing.has(`${storedKind} ${settings.storageNamespace}/${object}`)
    // All of NAME's objects when one is missing: ensure creates only the absent ones, in order.
    if (!complete) ensure.push({ key, objects: [...storageObjects(name, secretPolicy.password, settings), es] })
  }

  const unconsumedSince = new Map<string, number>()
  const collect: ManagedExternalSecret[] = []
  const waiting: { externalSecret: ManagedExternalSecret, collectAt: number }[] = []
  for (const es of input.externalSecrets) {
    const key = externalSecretKey(es)
    const users = es.entry === undefined ? input.consumers.get(key) : input.named?.get(key)?.consumers
    if ((users?.length ?? 0) > 0) continue
    const since = input.unconsumedSince.get(key) ?? input.now
    unconsumedSince.set(key, since)
    if (input.now - since >= input.graceMs) collect.push(es)
    else waiting.push({ externalSecret: es, collectAt: since + input.graceMs })
  }
  return { ensure, collect, waiting, refused, unconsumedSince }
}
