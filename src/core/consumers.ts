// Who consumes which shared secret, from the metadata of the objects secretwire wired: each carries the label
// secretwire.io/consumer=true and the annotation secretwire.io/consumes: NAME,NAME (written at admission, see
// plan.ts). Pods and the workload kinds are watched by that label only (metawatch.ts); this keeps, per object,
// its namespace, kind, name and NAMEs, and nothing else.
import { consumerAnnotation, namedSecretsAnnotation } from './contract.ts'
import { formatNamedSecret, parseNamedSecretsMarker, type NamedSecretEntry } from './annotations.ts'

/** An object's controller, from its ownerReferences. */
export interface ControllerRef {
  readonly apiVersion: string
  readonly kind: string
  readonly name: string
  readonly uid: string
}

/** What the index reads of an object's metadata, as a metadata-only watch delivers it. */
export interface ConsumerMeta {
  readonly name: string
  readonly namespace: string
  readonly uid: string
  readonly annotations?: Readonly<Record<string, string>>
  readonly ownerReferences?: readonly (ControllerRef & { readonly controller?: boolean })[]
}

export interface Consumer {
  readonly kind: string
  readonly namespace: string
  readonly name: string
  readonly uid: string
  /** Its controller (a Pod's ReplicaSet or Job), if any: Events about a Pod go on the workload it stands for. */
  readonly controller?: ControllerRef
}

/** The NAMEs an object's secretwire.io/consumes annotation lists (written at admission as NAME,NAME). */
export function consumedNames(annotations: Readonly<Record<string, string>> | undefined): string[] {
  return (annotations?.[consumerAnnotation] ?? '').split(',').map((n) => n.trim()).filter((n) => n !== '')
}

/** The key of a named Secret's ExternalSecret: its namespace and the entry it was made for (never a NAME's key). */
export const namedKeyOf = (namespace: string, entry: string) => `${namespace}/${entry}`

export class ConsumerIndex {
  private readonly objects = new Map<string, { consumer: Consumer, names: readonly string[], secrets: readonly NamedSecretEntry[] }>()

  /** An object listed, added, changed or deleted. */
  apply(kind: string, meta: ConsumerMeta, deleted: boolean): void {
    const names = consumedNames(meta.annotations)
    const secrets = parseNamedSecretsMarker(meta.annotations?.[namedSecretsAnnotation])
    if (deleted || (names.length === 0 && secrets.length === 0)) {
      this.objects.delete(meta.uid)
      return
    }
    const owner = meta.ownerReferences?.find((r) => r.controller === true)
    const controller = owner && { apiVersion: owner.apiVersion, kind: owner.kind, name: owner.name, uid: owner.uid }
    this.objects.set(meta.uid, { consumer: { kind, namespace: meta.namespace, name: meta.name, uid: meta.uid, ...(controller && { controller }) }, names, secrets })
  }

  /** After a (re)list of `kind`: its objects not in `uids` are gone (their delete events were missed). */
  relisted(kind: string, uids: ReadonlySet<string>): void {
    for (const [uid, entry] of this.objects) if (entry.consumer.kind === kind && !uids.has(uid)) this.objects.delete(uid)
  }

  /** Every consumer of every NAME, by `namespace/NAME`. */
  byNamespaceAndName(): Map<string, Consumer[]> {
    const out = new Map<string, Consumer[]>()
    for (const { consumer, names } of this.objects.values()) {
      for (const name of names) {
        const key = `${consumer.namespace}/${name}`
        const list = out.get(key)
        if (list === undefined) out.set(key, [consumer])
        else list.push(consumer)
      }
    }
    return out
  }

  /** Every Secret named by a secret annotation, by namedKeyOf(namespace, entry), with the objects that name it. */
  namedSecrets(): Map<string, { entry: NamedSecretEntry, consumers: Consumer[] }> {
    const out = new Map<string, { entry: NamedSecretEntry, consumers: Consumer[] }>()
    for (const { consumer, secrets } of this.objects.values()) {
      for (const entry of secrets) {
        const key = namedKeyOf(consumer.namespace, formatNamedSecret(entry))
        const found = out.get(key)
        if (found === undefined) out.set(key, { entry, consumers: [consumer] })
        else found.consumers.push(consumer)
      }
    }
    return out
  }

  get size(): number {
    return this.objects.size
  }
}
