// The user contract in one place: every annotation users write, every label secretwire writes, every setting,
// each with its default and a one-line doc, the identities and limits the API server enforces. The docs' tables
// are held to this module by a test, and the webhook configuration and admission policies in deploy/webhook are
// generated from it (src/manifests, `npm run generate`).

/**
 * The prefix of every annotation secretwire reads and label it writes. Fixed: the webhook's matchConditions and
 * the admission policies that guard secretwire's objects inside the API server name these keys.
 */
export const annotationPrefix = 'secretwire.io'

/** Annotations read from a Pod's or workload's metadata, and for workloads also from spec.template.metadata. */
export const annotations = {
  sharedSecret: {
    key: 'shared-secret',
    example: 'grafana-db, grafana-db:url=DB_PASS, metrics-token=TOKEN',
    doc: 'Comma-separated entries NAME[:FORM][=ENV_VAR]; each injects ENV_VAR holding the shared password NAME in FORM: ' +
      '`raw` (the default; ENV_VAR defaults to NAME upper-cased, - as _), `url` (percent-encoded for a URL; default ' +
      'NAME_URLENCODED) or `file` (a read-only file, mode 0400; ENV_VAR, default NAME_FILE, holds its path). It or secretwire.io/secret opts in.',
  },
  containers: {
    key: 'containers',
    example: 'grafana,migrate',
    doc: 'Comma-separated container names that get the env vars (init containers only when named). ' +
      'Default: every container in containers.',
  },
  secret: {
    key: 'secret',
    example: 'grafana-db=grafana-db-credentials, app-db:basic-auth:app=cluster-app-user',
    doc: 'Comma-separated entries NAME[:basic-auth:USERNAME]=SECRET, for software told a Secret\'s name (a Helm chart\'s ' +
      '`existingSecret`, an operator\'s bootstrap Secret): Secret SECRET in the object\'s namespace holds the shared password ' +
      'NAME, with keys `password` and `password-url` (type Opaque), or with `basic-auth` type `kubernetes.io/basic-auth` ' +
      'with keys `username` (USERNAME) and `password`. Nothing is injected; on its own it opts in too.',
  },
} as const

/** The full key of an annotation: `secretwire.io/shared-secret`. */
export function annotationKey(annotation: { readonly key: string }): string {
  return `${annotationPrefix}/${annotation.key}`
}

/** Labels on every object secretwire creates; an object without them is never adopted or changed. */
export const managedBy = { key: 'app.kubernetes.io/managed-by', value: 'secretwire' } as const
/** `secretwire.io/shared-secret: NAME` on every object secretwire creates. */
export const sharedSecretLabel = `${annotationPrefix}/shared-secret`

/**
 * Written at admission on each object secretwire wires (its own metadata: a Pod, and a workload whose template
 * secretwire patches): the label lets the reconciler watch consumers alone, the annotation says which NAMEs they
 * consume (a metadata-only watch sees no pod template).
 */
export const consumerLabel = { key: `${annotationPrefix}/consumer`, value: 'true' } as const
export const consumerAnnotation = `${annotationPrefix}/consumes`

/**
 * Limits on one admitted object, so a single annotation cannot make secretwire create objects without bound
 * or run past the webhook's timeout (where failurePolicy Ignore would let the object through unwired).
 */
export const limits = {
  /** Distinct shared secrets one object may name. */
  sharedSecretsPerObject: 16,
  /** Characters in one secretwire annotation value. */
  annotationLength: 2048,
  /** Kubernetes API calls one admission may have in flight at once. */
  concurrentApiCalls: 8,
} as const

/**
 * How long the API server waits for secretwire's answer (the webhook configuration's timeoutSeconds). Past it,
 * failurePolicy Ignore admits the object unwired, so SECRETWIRE_API_TIMEOUT_MS must leave room under it.
 */
export const webhookTimeoutSeconds = 5
/** What an admission needs besides its API calls (decode, plan, answer), kept free under the webhook timeout. */
export const admissionHeadroomMs = 1000

/** Who may change what secretwire guards (see the admission policies in deploy/webhook). */
export const identities = {
  /** secretwire's ServiceAccount, as deploy/webhook creates it: the only identity that may reach the store. */
  secretwire: { namespace: 'secretwire', name: 'secretwire' },
  /**
   * Members of this group may change or delete secretwire's objects and stored passwords, which anyone else,
   * cluster admins included, is refused. For incidents; a fork of a password is then possible, so say why.
   */
  breakGlassGroup: 'secretwire:break-glass',
  /**
   * ESO's controller, as ESO's Helm chart names its ServiceAccount (release external-secrets in namespace
   * external-secrets): it may update secretwire's objects, which ESO does to add its finalizer, writing back the
   * spec with its own defaults filled in (from ESO 0.17). It is trusted already: it reads every Secret.
   */
  esoController: { namespace: 'external-secrets', name: 'external-secrets' },
} as const

export function serviceAccountUser(sa: { readonly namespace: string, readonly name: string }): string {
  return `system:serviceaccount:${sa.namespace}:${sa.name}`
}

/**
 * Namespaces secretwire never wires: the cluster's own and secretwire's. The webhook is not called for them,
 * and a review that names one anyway (sent by something other than the API server) is denied.
 */
export const excludedNamespaces: readonly string[] = ['kube-system', 'kube-public', 'kube-node-lease', identities.secretwire.namespace]

/**
 * Written at admission beside `consumes` on an object with the secret annotation: its entries as secretwire read
 * them (NAME[:basic-auth:USERNAME]=SECRET, in annotation order), for the reconciler, which sees metadata only.
 */
export const namedSecretsAnnotation = `${annotationPrefix}/secrets`

/** The shapes a named Secret takes (the secret annotation): Opaque with every password form, or basic-auth. */
export const secretShapes = {
  /** Type Opaque, keys `password` and `password-url`, like the Secret secretwire-NAME. */
  opaque: { type: 'Opaque' },
  /** Type kubernetes.io/basic-auth, keys `username` and `password`: CloudNativePG's bootstrap Secret, for one. */
  'basic-auth': { type: 'kubernetes.io/basic-auth' },
} as const
export type SecretShape = keyof typeof secretShapes

/** The key that holds the password in the stored Secret and in every wired Secret (the Password generator's output key). */
export const passwordKey = 'password'

/**
 * The forms a workload takes a password in (`NAME:FORM` in the shared-secret annotation). Each wired Secret holds
 * the raw password and its percent-encoded copy, made by ESO's template engine from the stored password.
 */
export const passwordForms = {
  /** The password as generated, in an env var (`secretKeyRef` to key `password`). */
  raw: { key: passwordKey, envSuffix: '' },
  /**
   * Percent-encoded (ESO's `urlquery`: every byte but A-Z a-z 0-9 - _ . ~), for `scheme://user:$(VAR)@host`: a raw
   * `@` or `$` in a URL's userinfo breaks libpq and other strict parsers. In an env var, from key `password-url`.
   */
  url: { key: 'password-url', envSuffix: '_URLENCODED' },
  /**
   * A file (key `password`, mode 0400, the volume read-only) at `/var/run/secretwire/NAME/password`; the env var
   * holds its path, for images that read `*_FILE`. A non-root user reads it through the Pod's fsGroup.
   */
  file: { key: passwordKey, envSuffix: '_FILE' },
} as const
export type PasswordForm = keyof typeof passwordForms
export const passwordFormNames = Object.keys(passwordForms) as PasswordForm[]

/** Where the `file` form mounts NAME's Secret (one directory per NAME, so two NAMEs never share a mount). */
export const fileMountRoot = '/var/run/secretwire'
/** Mode of the password file: owner-read only (the kubelet adds group read when the Pod sets fsGroup). */
export const fileMode = 0o400

/**
 * Written on every ExternalSecret secretwire makes in a workload namespace: the version of its spec. One made by
 * an older secretwire (without the `url` key) is brought up to date at the next admission that needs it.
 */
export const consumerShapeAnnotation = { key: `${annotationPrefix}/shape`, value: '2' } as const

/** Every object and Secret for shared secret NAME is named `secretwire-NAME`, in the storage and workload namespaces. */
export const namePrefix = 'secretwire-'
/** NAME is a DNS-1123 label short enough that `secretwire-NAME` is one too. */
export const maxNameLength = 63 - namePrefix.length

export function resourceName(sharedSecret: string): string {
  return namePrefix + sharedSecret
}

/** NAME → GRAFANA_DB style default for the env var (GRAFANA_DB_URLENCODED, GRAFANA_DB_FILE for the other forms). */
export function defaultEnvVar(sharedSecret: string, form: PasswordForm = 'raw'): string {
  return sharedSecret.toUpperCase().replaceAll('-', '_') + passwordForms[form].envSuffix
}

export type Strategy = 'push' | 'generate'
/** PushSecret `spec.updatePolicy`: ESO's Kubernetes provider implements IfNotExists from ESO 2.1 only. */
export type PushUpdatePolicy = 'Replace' | 'IfNotExists'
export type InjectMode = 'templates' | 'pods'

/** The Password generator's shape (generators.external-secrets.io/v1alpha1 Password spec). */
export interface PasswordShape {
  readonly length: number
  readonly digits: number
  readonly symbols: number
  readonly symbolCharacters: string
  readonly noUpper: boolean
  readonly allowRepeat: boolean
}

/** The seed's generator: 42 characters, 5 digits, 5 symbols from -_$@, repeats allowed. */
export const defaultPassword: PasswordShape = Object.freeze({
  length: 42, digits: 5, symbols: 5, symbolCharacters: '-_$@', noUpper: false, allowRepeat: true,
})

interface SettingDoc {
  readonly env: string
  /** The default as users read it in the docs; '' when unset means "not set". */
  readonly default: string
  readonly doc: string
}

/** Settings, read from the environment once at start (see config.ts). */
export const settings = {
  port: { env: 'PORT', default: '8443', doc: 'HTTPS port serving /mutate, /healthz, /readyz and /metrics; 0: one the OS picks (the `serving admissions` log line gives it).' },
  tlsCertFile: {
    env: 'TLS_CERT_FILE', default: '',
    doc: 'PEM serving certificate, reloaded when it changes (no restart). Unset: a self-signed certificate in memory for localhost and 127.0.0.1, valid one year, with a warning.',
  },
  tlsKeyFile: { env: 'TLS_KEY_FILE', default: '', doc: 'PEM private key of TLS_CERT_FILE.' },
  kubeconfig: { env: 'KUBECONFIG', default: '', doc: 'Kubeconfig to reach the API server. Unset: the in-cluster service account.' },
  storageNamespace: {
    env: 'SECRETWIRE_STORAGE_NAMESPACE', default: 'eso-secret-storage',
    doc: 'Namespace holding the Password generators and the stored secrets (the ClusterSecretStore\'s remoteNamespace).',
  },
  clusterSecretStore: {
    env: 'SECRETWIRE_CLUSTER_SECRET_STORE', default: 'eso-cluster-secret-store',
    doc: 'ClusterSecretStore (Kubernetes provider over the storage namespace) that stored secrets are pushed to and read from.',
  },
  strategy: {
    env: 'SECRETWIRE_STRATEGY', default: 'generate',
    doc: '`generate`: an ExternalSecret generates the password once into an immutable stored Secret; `push`: a PushSecret pushes it into the store (needs write access for the store: deploy/components/push-strategy).',
  },
  pushUpdatePolicy: {
    env: 'SECRETWIRE_PUSH_UPDATE_POLICY', default: 'Replace',
    doc: 'The push strategy\'s PushSecret `updatePolicy`. `IfNotExists`: ESO never overwrites a stored password (needs ESO >= 2.1; older ESO refuses to push, see docs/operations.md); `Replace`: what every ESO supports. Only with `SECRETWIRE_STRATEGY=push`.',
  },
  inject: {
    env: 'SECRETWIRE_INJECT', default: 'templates',
    doc: '`templates`: env vars go into workload pod templates; `pods`: templates stay untouched (no GitOps drift), env vars go into Pods.',
  },
  config: {
    env: 'SECRETWIRE_CONFIG', default: '',
    doc: 'YAML policy file: per shared secret, allowed namespaces and generator shape; reloaded when it changes. Unset: every namespace may use every NAME.',
  },
  apiTimeoutMs: {
    env: 'SECRETWIRE_API_TIMEOUT_MS', default: '3000',
    doc: 'Budget for the Kubernetes API calls of one admission; past it the admission is denied. At most 4000: a second under the webhook\'s 5 s timeout.',
  },
  gracePeriodSeconds: {
    env: 'SECRETWIRE_GRACE_PERIOD_SECONDS', default: '3600',
    doc: 'How long a namespace\'s ExternalSecret (and its copy of the password) outlives the last workload or Pod there that named its NAME, before the reconciler deletes it.',
  },
  reconcileIntervalSeconds: {
    env: 'SECRETWIRE_RECONCILE_INTERVAL_SECONDS', default: '10',
    doc: 'How often the reconciler (the replica holding the Lease) checks every shared secret; it also acts a second after a consumer appears or goes.',
  },
  leaseNamespace: {
    env: 'SECRETWIRE_LEASE_NAMESPACE', default: 'secretwire',
    doc: 'Namespace of the Lease secretwire-reconciler: of all replicas, the one holding it reconciles. `none`: this replica does not reconcile.',
  },
  shutdownDelayMs: {
    env: 'SECRETWIRE_SHUTDOWN_DELAY_MS', default: '5000',
    doc: 'On SIGTERM, how long /readyz fails before the server stops taking connections; in-flight admissions always finish.',
  },
  logLevel: { env: 'LOG_LEVEL', default: 'info', doc: 'pino log level (fatal, error, warn, info, debug, trace, silent); info: objects created, denials, failures; debug: every admission.' },
} as const satisfies Record<string, SettingDoc>

/** Settings that secretwire no longer reads: set, they stop it at start with this reason (never silently ignored). */
export const removedSettings: Readonly<Record<string, string>> = {
  SECRETWIRE_ANNOTATION_PREFIX: `the annotation prefix is fixed to ${annotationPrefix}: the shipped webhook configuration and admission policies name its keys`,
}
