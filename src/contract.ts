// The user contract in one place: every annotation users write, every label secretwire writes, every setting,
// each with its default and a one-line doc. The README's tables are held to this module by a test.

/** Annotations read from a Pod's or workload's metadata, and for workloads also from spec.template.metadata. */
export const annotations = {
  sharedSecret: {
    key: 'shared-secret',
    example: 'grafana-db, metrics-token=TOKEN',
    doc: 'Comma-separated entries NAME or NAME=ENV_VAR; each injects ENV_VAR (default: NAME upper-cased, - as _) ' +
      'holding the shared password NAME. Required to opt in.',
  },
  containers: {
    key: 'containers',
    example: 'grafana,migrate',
    doc: 'Comma-separated container names that get the env vars (init containers only when named). ' +
      'Default: every container in containers.',
  },
} as const

/** Labels on every object secretwire creates; an object without them is never adopted or changed. */
export const managedBy = { key: 'app.kubernetes.io/managed-by', value: 'secretwire' } as const
/** Under the annotation prefix: `secretwire.io/shared-secret: NAME` on every object secretwire creates. */
export const sharedSecretLabel = 'shared-secret'

/** The key that holds the password in the stored Secret and in every wired Secret (the Password generator's output key). */
export const passwordKey = 'password'

/** Every object and Secret for shared secret NAME is named `secretwire-NAME`, in the storage and workload namespaces. */
export const namePrefix = 'secretwire-'
/** NAME is a DNS-1123 label short enough that `secretwire-NAME` is one too. */
export const maxNameLength = 63 - namePrefix.length

export function resourceName(sharedSecret: string): string {
  return namePrefix + sharedSecret
}

/** NAME → GRAFANA_DB style default for the env var. */
export function defaultEnvVar(sharedSecret: string): string {
  return sharedSecret.toUpperCase().replaceAll('-', '_')
}

export type Strategy = 'push' | 'generate'
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
  /** The default as users read it in the README; '' when unset means "not set". */
  readonly default: string
  readonly doc: string
}

/** Settings, read from the environment once at start (see config.ts). */
export const settings = {
  port: { env: 'PORT', default: '8443', doc: 'HTTPS port serving /mutate, /healthz, /readyz and /metrics.' },
  tlsCertFile: {
    env: 'TLS_CERT_FILE', default: '',
    doc: 'PEM serving certificate, reloaded when it changes (no restart). Unset: a self-signed certificate in memory, with a warning.',
  },
  tlsKeyFile: { env: 'TLS_KEY_FILE', default: '', doc: 'PEM private key of TLS_CERT_FILE.' },
  kubeconfig: { env: 'KUBECONFIG', default: '', doc: 'Kubeconfig to reach the API server. Unset: the in-cluster service account.' },
  annotationPrefix: {
    env: 'SECRETWIRE_ANNOTATION_PREFIX', default: 'secretwire.io',
    doc: 'Prefix of the annotations read and of the shared-secret label written.',
  },
  storageNamespace: {
    env: 'SECRETWIRE_STORAGE_NAMESPACE', default: 'eso-secret-storage',
    doc: 'Namespace holding the Password generators and the stored secrets (the ClusterSecretStore\'s remoteNamespace).',
  },
  clusterSecretStore: {
    env: 'SECRETWIRE_CLUSTER_SECRET_STORE', default: 'eso-cluster-secret-store',
    doc: 'ClusterSecretStore (Kubernetes provider over the storage namespace) that stored secrets are pushed to and read from.',
  },
  strategy: {
    env: 'SECRETWIRE_STRATEGY', default: 'push',
    doc: '`push`: a PushSecret pushes the generated password into the store; `generate`: an ExternalSecret generates it in place.',
  },
  inject: {
    env: 'SECRETWIRE_INJECT', default: 'templates',
    doc: '`templates`: env vars go into workload pod templates; `pods`: templates stay untouched (no GitOps drift), env vars go into Pods.',
  },
  config: { env: 'SECRETWIRE_CONFIG', default: '', doc: 'YAML policy file: per shared secret, allowed namespaces and generator shape.' },
  apiTimeoutMs: {
    env: 'SECRETWIRE_API_TIMEOUT_MS', default: '3000',
    doc: 'Budget for the Kubernetes API calls of one admission; past it the admission is denied. Keep it under the webhook timeout.',
  },
  shutdownDelayMs: {
    env: 'SECRETWIRE_SHUTDOWN_DELAY_MS', default: '5000',
    doc: 'On SIGTERM, how long /readyz fails before the server stops taking connections; in-flight admissions always finish.',
  },
  logLevel: { env: 'LOG_LEVEL', default: 'info', doc: 'pino log level (fatal, error, warn, info, debug, trace, silent); info: objects created, denials, failures; debug: every admission.' },
} as const satisfies Record<string, SettingDoc>
