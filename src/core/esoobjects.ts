// The External Secrets Operator objects that make up one shared secret: the seed's recipe as pure data.
//
//   storage namespace:  Password secretwire-NAME        (the generator)
//                       ExternalSecret secretwire-NAME  (strategy generate, the default: generates the password
//                                                        once into an immutable, orphaned Secret)
//                    or PushSecret secretwire-NAME      (strategy push: pushes one password into the store)
//                       → Secret secretwire-NAME, key `password` (the stored secret)
//   each workload namespace:
//                       ExternalSecret secretwire-NAME → Secret secretwire-NAME, key `password`, read through the
//                       ClusterSecretStore
import { managedBy, passwordKey, resourceName, sharedSecretLabel, type PasswordShape, type PushUpdatePolicy, type Strategy } from './contract.ts'

export type ManagedKind = 'Password' | 'PushSecret' | 'ExternalSecret'

export interface ManagedObject {
  readonly apiVersion: string
  readonly kind: ManagedKind
  readonly metadata: {
    readonly name: string
    readonly namespace: string
    readonly labels: Readonly<Record<string, string>>
  }
  readonly spec: Readonly<Record<string, unknown>>
}

/** Where each kind is served, for the API client. */
export const resources: Readonly<Record<ManagedKind, { group: string, version: string, plural: string }>> = {
  Password: { group: 'generators.external-secrets.io', version: 'v1alpha1', plural: 'passwords' },
  PushSecret: { group: 'external-secrets.io', version: 'v1alpha1', plural: 'pushsecrets' },
  ExternalSecret: { group: 'external-secrets.io', version: 'v1', plural: 'externalsecrets' },
}

export interface EsoSettings {
  readonly storageNamespace: string
  readonly clusterSecretStore: string
  readonly strategy: Strategy
  /** The PushSecret's updatePolicy; unset: Replace, which every ESO version implements. */
  readonly pushUpdatePolicy?: PushUpdatePolicy
}

export function managedLabels(sharedSecret: string): Record<string, string> {
  return { [managedBy.key]: managedBy.value, [sharedSecretLabel]: sharedSecret }
}

function object(kind: ManagedKind, namespace: string, sharedSecret: string, spec: Record<string, unknown>): ManagedObject {
  const { group, version } = resources[kind]
  return {
    apiVersion: `${group}/${version}`,
    kind,
    metadata: { name: resourceName(sharedSecret), namespace, labels: managedLabels(sharedSecret) },
    spec,
  }
}

const generatorRef = (sharedSecret: string) => ({
  apiVersion: `${resources.Password.group}/${resources.Password.version}`,
  kind: 'Password',
  name: resourceName(sharedSecret),
})

/** The generator and the object that stores its one password, in the storage namespace. */
export function storageObjects(sharedSecret: string, shape: PasswordShape, s: EsoSettings): ManagedObject[] {
  const name = resourceName(sharedSecret)
  const generator = object('Password', s.storageNamespace, sharedSecret, { ...shape })
  const store = s.strategy === 'generate'
    ? object('ExternalSecret', s.storageNamespace, sharedSecret, {
      // Generated once; immutable and orphaned so neither a re-sync, nor deleting and recreating this object,
      // replaces it: ESO's update of an immutable Secret is refused by the API server.
      refreshPolicy: 'CreatedOnce',
      target: { name, creationPolicy: 'Orphan', immutable: true },
      dataFrom: [{ sourceRef: { generatorRef: generatorRef(sharedSecret) } }],
    })
    : object('PushSecret', s.storageNamespace, sharedSecret, {
      // "0": push once, and again only if this object changes; secretwire never updates it, since every push
      // of a generator writes a new password (the admission policy on stored Secrets refuses that write too).
      refreshInterval: '0',
      // Written out even when it is ESO's default, so what a PushSecret does never depends on the CRD's defaulting.
      updatePolicy: s.pushUpdatePolicy ?? 'Replace',
      secretStoreRefs: [{ name: s.clusterSecretStore, kind: 'ClusterSecretStore' }],
      selector: { generatorRef: generatorRef(sharedSecret) },
      data: [{ match: { secretKey: passwordKey, remoteRef: { remoteKey: name, property: passwordKey } } }],
    })
  return [generator, store]
}

/** The ExternalSecret that copies the stored password into a plain Secret of the workload's namespace. */
export function consumerExternalSecret(sharedSecret: string, namespace: string, s: EsoSettings): ManagedObject {
  const name = resourceName(sharedSecret)
  return object('ExternalSecret', namespace, sharedSecret, {
    refreshPolicy: 'CreatedOnce',
    secretStoreRef: { name: s.clusterSecretStore, kind: 'ClusterSecretStore' },
    target: { name, creationPolicy: 'Owner' },
    data: [{ secretKey: passwordKey, remoteRef: { key: name, property: passwordKey } }],
  })
}

/** The env var injected into a container: a reference to the wired Secret, never a value. */
export function envVar(envName: string, sharedSecret: string) {
  return { name: envName, valueFrom: { secretKeyRef: { name: resourceName(sharedSecret), key: passwordKey } } }
}

/** Enough to name an object: what the API client reads by. */
export interface ObjectRef {
  readonly kind: ManagedKind
  readonly metadata: { readonly namespace: string, readonly name: string }
}

export function describe(o: ObjectRef): string {
  return `${o.kind} ${o.metadata.namespace}/${o.metadata.name}`
}
