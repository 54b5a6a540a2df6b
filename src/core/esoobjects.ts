// The External Secrets Operator objects that make up one shared secret: the seed's recipe as pure data.
//
//   storage namespace:  Password secretwire-NAME        (the generator)
//                       ExternalSecret secretwire-NAME  (strategy generate, the default: generates the password
//                                                        once into an immutable, orphaned Secret)
//                    or PushSecret secretwire-NAME      (strategy push: pushes one password into the store)
//                       → Secret secretwire-NAME, key `password` (the stored secret)
//   each workload namespace:
//                       ExternalSecret secretwire-NAME → Secret secretwire-NAME, read through the
//                       ClusterSecretStore: key `password`, and `password-url` (its percent-encoded form)
//                       ExternalSecret SECRET → Secret SECRET, for each Secret named in a secret annotation:
//                       the same keys, or `username` and `password` of type kubernetes.io/basic-auth
import {
  consumerShapeAnnotation, fileMode, fileMountRoot, managedBy, namedSecretsAnnotation, passwordForms, passwordKey, resourceName, secretShapes,
  sharedSecretLabel, type PasswordForm, type PasswordShape, type PushUpdatePolicy, type Strategy,
} from './contract.ts'
import { formatNamedSecret, type NamedSecretEntry } from './annotations.ts'

export type ManagedKind = 'Password' | 'PushSecret' | 'ExternalSecret'

export interface ManagedObject {
  readonly apiVersion: string
  readonly kind: ManagedKind
  readonly metadata: {
    readonly name: string
    readonly namespace: string
    readonly labels: Readonly<Record<string, string>>
    readonly annotations?: Readonly<Record<string, string>>
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

/**
 * The ExternalSecret that copies the stored password into a plain Secret of the workload's namespace, in every
 * form (contract.ts passwordForms): ESO's template engine writes `password` byte for byte and `password-url`
 * through `urlquery`. OnChange: synced once, and again only when secretwire changes this spec (a newer shape).
 */
export function consumerExternalSecret(sharedSecret: string, namespace: string, s: EsoSettings): ManagedObject {
  const name = resourceName(sharedSecret)
  const consumer = object('ExternalSecret', namespace, sharedSecret, {
    refreshPolicy: 'OnChange',
    secretStoreRef: { name: s.clusterSecretStore, kind: 'ClusterSecretStore' },
    target: {
      name,
      creationPolicy: 'Owner',
      template: {
        engineVersion: 'v2',
        mergePolicy: 'Replace',
        data: {
          [passwordForms.raw.key]: `{{ .${passwordKey} }}`,
          [passwordForms.url.key]: `{{ .${passwordKey} | urlquery }}`,
        },
      },
    },
    data: [{ secretKey: passwordKey, remoteRef: { key: name, property: passwordKey } }],
  })
  return { ...consumer, metadata: { ...consumer.metadata, annotations: { [consumerShapeAnnotation.key]: consumerShapeAnnotation.value } } }
}

/**
 * The ExternalSecret that makes Secret SECRET in the workload's namespace (the secret annotation): named SECRET too,
 * so one Secret has one maker and a second request for it in another shape is a conflict (ensure.ts). Its
 * namedSecretsAnnotation holds the entry it was made for.
 */
export function namedExternalSecret(entry: NamedSecretEntry, namespace: string, s: EsoSettings): ManagedObject {
  const data: Record<string, string> = entry.shape === 'basic-auth'
    // A template's literal text is copied as is: the username is escaped as a Go template string.
    ? { username: `{{ ${JSON.stringify(entry.username)} }}`, [passwordKey]: `{{ .${passwordKey} }}` }
    : { [passwordForms.raw.key]: `{{ .${passwordKey} }}`, [passwordForms.url.key]: `{{ .${passwordKey} | urlquery }}` }
  const es = object('ExternalSecret', namespace, entry.sharedSecret, {
    refreshPolicy: 'OnChange',
    secretStoreRef: { name: s.clusterSecretStore, kind: 'ClusterSecretStore' },
    target: {
      name: entry.secret,
      creationPolicy: 'Owner',
      template: { type: secretShapes[entry.shape].type, engineVersion: 'v2', mergePolicy: 'Replace', data },
    },
    data: [{ secretKey: passwordKey, remoteRef: { key: resourceName(entry.sharedSecret), property: passwordKey } }],
  })
  return { ...es, metadata: { ...es.metadata, name: entry.secret, annotations: { [namedSecretsAnnotation]: formatNamedSecret(entry) } } }
}

/** Where the `file` form mounts NAME's Secret, and the file the env var names. */
export function fileMount(sharedSecret: string): { volume: string, directory: string, path: string } {
  const directory = `${fileMountRoot}/${sharedSecret}`
  return { volume: resourceName(sharedSecret), directory, path: `${directory}/${passwordKey}` }
}

/**
 * The env var injected into a container: a reference to the wired Secret (never a value), or for the `file` form
 * the path of the mounted file.
 */
export function envVar(envName: string, sharedSecret: string, form: PasswordForm = 'raw'): EnvVar {
  if (form === 'file') return { name: envName, value: fileMount(sharedSecret).path }
  return { name: envName, valueFrom: { secretKeyRef: { name: resourceName(sharedSecret), key: passwordForms[form].key } } }
}

export type EnvVar =
  | { readonly name: string, readonly value: string }
  | { readonly name: string, readonly valueFrom: { readonly secretKeyRef: { readonly name: string, readonly key: string } } }

/** The Pod volume of the `file` form: one key, owner-read only. */
export function fileVolume(sharedSecret: string) {
  return {
    name: fileMount(sharedSecret).volume,
    secret: { secretName: resourceName(sharedSecret), items: [{ key: passwordKey, path: passwordKey }], defaultMode: fileMode },
  }
}

/** The container's read-only mount of that volume. */
export function fileVolumeMount(sharedSecret: string) {
  const { volume, directory } = fileMount(sharedSecret)
  return { name: volume, mountPath: directory, readOnly: true }
}

/** Enough to name an object: what the API client reads by. */
export interface ObjectRef {
  readonly kind: ManagedKind
  readonly metadata: { readonly namespace: string, readonly name: string }
}

export function describe(o: ObjectRef): string {
  return `${o.kind} ${o.metadata.namespace}/${o.metadata.name}`
}
