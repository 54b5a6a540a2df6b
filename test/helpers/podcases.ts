// Annotated Pods for holding two implementations of the injection equal (the webhook's planner and the
// MutatingAdmissionPolicy): the hand-written cases of the render and plan tests, cases the webhook denies, and a
// seeded generator of more (SECRETWIRE_FUZZ_SEED picks another seed; a failure names the case and its seed).
import type { V1Container, V1Pod, V1Volume } from '@kubernetes/client-node'

export interface PodCase {
  readonly name: string
  readonly pod: V1Pod
}

const secret = 'secretwire.io/shared-secret'
const containersKey = 'secretwire.io/containers'
const named = 'secretwire.io/secret'
const ref = (name: string, key = 'password') => ({ valueFrom: { secretKeyRef: { name: `secretwire-${name}`, key } } })
const app = (extra: Partial<V1Container> = {}): V1Container => ({ name: 'app', image: 'busybox', ...extra })

function pod(annotations: Record<string, string>, spec: { containers?: V1Container[], initContainers?: V1Container[], volumes?: V1Volume[] } = {},
  labels?: Record<string, string>): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'case', annotations, ...(labels && { labels }) },
    spec: { containers: spec.containers ?? [app()], ...(spec.initContainers && { initContainers: spec.initContainers }), ...(spec.volumes && { volumes: spec.volumes }) },
  }
}

const dbVolume: V1Volume = { name: 'secretwire-db', secret: { secretName: 'secretwire-db', items: [{ key: 'password', path: 'password' }], defaultMode: 0o400 } }
const dbMount = { name: 'secretwire-db', mountPath: '/var/run/secretwire/db', readOnly: true }
const other: V1Volume = { name: 'scratch', emptyDir: {} }
const sixteen = Array.from({ length: 16 }, (_, i) => `s${i}`)

/** Pods the webhook wires. */
export const wiredCases: readonly PodCase[] = [
  { name: 'raw, the default env var', pod: pod({ [secret]: 'db' }) },
  { name: 'an env var named', pod: pod({ [secret]: 'db=PGPASSWORD' }) },
  { name: 'url form', pod: pod({ [secret]: 'db:url' }) },
  { name: 'file form', pod: pod({ [secret]: 'db:file' }) },
  { name: 'raw written out', pod: pod({ [secret]: 'db:raw' }) },
  { name: 'three NAMEs, three forms', pod: pod({ [secret]: 'db, grafana-db:url=GF_DATABASE_URL_PASSWORD, cache:file' }) },
  { name: 'one NAME in every form', pod: pod({ [secret]: 'db, db:url, db:file=DB_PATH' }) },
  { name: 'a repeated entry', pod: pod({ [secret]: 'db,db, db' }) },
  { name: 'spaces everywhere', pod: pod({ [secret]: '  db : url = DB_U ,  cache ,' }) },
  { name: 'sixteen NAMEs', pod: pod({ [secret]: sixteen.join(',') }) },
  { name: 'every container, not init containers', pod: pod({ [secret]: 'db' }, { containers: [app(), app({ name: 'side' })], initContainers: [app({ name: 'setup' })] }) },
  { name: 'containers selected', pod: pod({ [secret]: 'db', [containersKey]: 'side' }, { containers: [app(), app({ name: 'side' })] }) },
  { name: 'an init container selected', pod: pod({ [secret]: 'db:file', [containersKey]: 'setup, app' }, { containers: [app()], initContainers: [app({ name: 'setup' })] }) },
  { name: 'a selection repeated', pod: pod({ [secret]: 'db', [containersKey]: 'app,app' }) },
  { name: 'env vars of its own, after the injected', pod: pod({ [secret]: 'db, cache' }, { containers: [app({ env: [{ name: 'X', value: '1' }, { name: 'Y', value: '$(DB)' }] })] }) },
  { name: 'partly wired already', pod: pod({ [secret]: 'cache, db' }, { containers: [app({ env: [{ name: 'DB', ...ref('db') }, { name: 'X', value: '1' }] })] }) },
  {
    name: 'wired already, markers too',
    pod: pod({ [secret]: 'db', 'secretwire.io/consumes': 'db' }, { containers: [app({ env: [{ name: 'DB', ...ref('db') }] })] }, { 'secretwire.io/consumer': 'true' }),
  },
  { name: 'a stale marker', pod: pod({ [secret]: 'db, cache', 'secretwire.io/consumes': 'db' }, {}, { app: 'web', 'secretwire.io/consumer': 'false' }) },
  { name: 'labels of its own', pod: pod({ [secret]: 'db' }, {}, { app: 'web' }) },
  { name: 'a named Secret only', pod: pod({ [named]: 'db=app-db' }) },
  { name: 'named Secrets, basic-auth', pod: pod({ [named]: 'db:basic-auth:app=app-creds, cache=cache-secret, db:basic-auth:app=app-creds' }) },
  { name: 'env vars and a named Secret', pod: pod({ [secret]: 'db:url', [named]: ' db : basic-auth : app = pg-app ' }) },
  { name: 'file form beside volumes and mounts of its own', pod: pod({ [secret]: 'db:file' }, { containers: [app({ volumeMounts: [{ name: 'scratch', mountPath: '/scratch' }] })], volumes: [other] }) },
  {
    name: 'file form wired already',
    pod: pod({ [secret]: 'db:file' }, { containers: [app({ env: [{ name: 'DB_FILE', value: '/var/run/secretwire/db/password' }], volumeMounts: [dbMount] })], volumes: [dbVolume] }),
  },
  { name: 'file form, the volume there but not the mount', pod: pod({ [secret]: 'db:file, cache:file' }, { volumes: [other, dbVolume] }) },
  { name: 'a containers annotation with only named Secrets', pod: pod({ [named]: 'db=x', [containersKey]: 'nowhere' }) },
]

/** Pods the webhook denies: the policy must leave them as written. */
export const deniedCases: readonly PodCase[] = [
  { name: 'NAME not a DNS label', pod: pod({ [secret]: 'DB' }) },
  { name: 'an unknown FORM', pod: pod({ [secret]: 'db:bogus' }) },
  { name: 'ENV_VAR not a C identifier', pod: pod({ [secret]: 'db=1X' }) },
  { name: 'an empty ENV_VAR', pod: pod({ [secret]: 'db=' }) },
  { name: 'a default env var that is not a C identifier', pod: pod({ [secret]: '1db' }) },
  { name: 'one env var two ways', pod: pod({ [secret]: 'db=X, cache=X' }) },
  { name: 'names no shared secret', pod: pod({ [secret]: ' , ' }) },
  { name: 'NAME too long', pod: pod({ [secret]: 'a'.repeat(53) }) },
  { name: 'seventeen NAMEs', pod: pod({ [secret]: [...sixteen, 's16'].join(',') }) },
  { name: 'a container that is not there', pod: pod({ [secret]: 'db', [containersKey]: 'missing' }) },
  { name: 'a container name that is not a name', pod: pod({ [secret]: 'db', [containersKey]: 'App' }) },
  { name: 'an env var of its own in the way', pod: pod({ [secret]: 'db' }, { containers: [app({ env: [{ name: 'DB', value: 'typed-by-hand' }] })] }) },
  { name: 'a mount in the way', pod: pod({ [secret]: 'db:file' }, { containers: [app({ volumeMounts: [{ name: 'scratch', mountPath: '/var/run/secretwire/db' }] })], volumes: [other] }) },
  { name: 'a volume in the way', pod: pod({ [secret]: 'db:file' }, { volumes: [{ name: 'secretwire-db', emptyDir: {} }] }) },
  { name: 'a named entry with no Secret', pod: pod({ [named]: 'db' }) },
  { name: 'a named Secret of secretwire\'s', pod: pod({ [named]: 'db=secretwire-db' }) },
  { name: 'basic-auth without USERNAME', pod: pod({ [named]: 'db:basic-auth=x' }) },
  { name: 'one Secret two ways', pod: pod({ [named]: 'db=x, cache=x' }) },
  { name: 'an annotation too long', pod: pod({ [secret]: `db,${' '.repeat(2048)}` }) },
]

/** A small PRNG (mulberry32): the same seed gives the same cases on every machine. */
function random(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6D2B79F5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/**
 * Generated Pods: entries from a few NAMEs, forms and env vars, padded with spaces; containers and init containers,
 * some selected; some env vars, volumes and mounts already there (wired or not); labels or none. Some come out
 * invalid: the caller sorts them by what the webhook's planner says.
 */
export function fuzzedCases(seed: number, count: number): PodCase[] {
  const r = random(seed)
  const pick = <T>(items: readonly T[]): T => items[Math.floor(r() * items.length)]!
  const chance = (p: number) => r() < p
  const pad = (s: string) => `${chance(0.2) ? ' ' : ''}${s}${chance(0.2) ? ' ' : ''}`
  const names = ['db', 'grafana-db', 'x1', 'cache', 'a-b-c']
  const envs = ['PGPASSWORD', 'DB_PASS', 'GF_SECURITY_ADMIN_PASSWORD', 'P_1']
  const out: PodCase[] = []
  for (let i = 0; i < count; i++) {
    const entries = Array.from({ length: 1 + Math.floor(r() * 4) }, () => {
      const name = pick(names)
      const form = chance(0.5) ? '' : `${pad(':')}${pick(['raw', 'url', 'file'])}`
      const env = chance(0.6) ? '' : `${pad('=')}${pick(envs)}`
      return pad(`${name}${form}${env}`)
    })
    const containers = [app(), ...(chance(0.4) ? [app({ name: 'side' })] : [])]
    const inits = chance(0.3) ? [app({ name: 'setup' })] : undefined
    const annotations: Record<string, string> = {}
    if (chance(0.9)) annotations[secret] = entries.join(',')
    if (chance(0.25) || annotations[secret] === undefined) {
      annotations[named] = Array.from({ length: 1 + Math.floor(r() * 2) }, () =>
        `${pick(names)}${chance(0.5) ? `:basic-auth:${pick(['app', 'grafana'])}` : ''}=${pick(['app-db', 'creds', 'pg.app'])}`).join(', ')
    }
    if (chance(0.3)) {
      const all = [...containers, ...(inits ?? [])].map((c) => c.name)
      annotations[containersKey] = all.filter(() => chance(0.6)).join(',') || all[0]!
    }
    const first = containers[0]!
    if (chance(0.3)) {
      const name = pick(names)
      first.env = [{ name: chance(0.5) ? name.toUpperCase().replaceAll('-', '_') : 'OWN', ...ref(name) }, { name: 'X', value: '1' }]
    }
    const volumes = chance(0.3) ? [other, ...(chance(0.3) ? [dbVolume] : [])] : undefined
    if (volumes !== undefined && chance(0.5)) first.volumeMounts = [{ name: 'scratch', mountPath: '/scratch' }]
    const labels = chance(0.3) ? { app: 'web', ...(chance(0.3) && { 'secretwire.io/consumer': 'true' }) } : undefined
    out.push({ name: `fuzz seed ${seed} #${i}: ${JSON.stringify(annotations)}`, pod: pod(annotations, { containers, initContainers: inits, volumes }, labels) })
  }
  return out
}
