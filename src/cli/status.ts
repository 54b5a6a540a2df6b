// `secretwire status`: every shared secret in the cluster, as the caller's own rights let them see it: its
// generator and stored secret, the namespaces and workloads that consume it, ESO's sync state of each
// ExternalSecret, and what the reconciler will do next. It reads ESO objects, workloads' and Pods' metadata and the
// policy ConfigMap; never a Secret. A table, or -o json / -o yaml; `failing` (exit status 1) when ESO reports a
// failure or a consumer has no ExternalSecret.
import { AppsV1Api, BatchV1Api, CoreV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node'
import { consumerLabel, identities, managedBy, namedSecretsAnnotation, resourceName, sharedSecretLabel } from '../core/contract.ts'
import { parseNamedSecretsMarker } from '../core/annotations.ts'
import { resources, type ManagedKind } from '../core/esoobjects.ts'
import { openPolicy, parsePolicy, type Policy } from '../core/policy.ts'
import { consumedNames } from '../core/consumers.ts'
import { syncStateOf, type SyncState } from '../core/reconcileplan.ts'
import { apiClient } from '../kube/connections.ts'

export interface ObjectState {
  readonly kind: string
  readonly namespace: string
  readonly name: string
  readonly state: SyncState
  readonly detail?: string
}

export interface NamespaceStatus {
  readonly namespace: string
  /** The Secret this row is about: secretwire-NAME, or one a secret annotation names. */
  readonly secret: string
  readonly externalSecret: ObjectState | undefined
  readonly consumers: readonly string[]
  /** What the reconciler does next here, or undefined when nothing. */
  readonly next: string | undefined
  /** What is wrong here, in words; undefined when nothing is. */
  readonly problem: string | undefined
}

export interface SharedSecretStatus {
  readonly name: string
  readonly generator: boolean
  readonly stored: ObjectState | undefined
  readonly namespaces: readonly NamespaceStatus[]
  /** What is wrong with the stored password, in words; undefined when nothing is. */
  readonly problem: string | undefined
}

export interface Status {
  readonly sharedSecrets: readonly SharedSecretStatus[]
  readonly failing: boolean
  /** What could not be read with the caller's rights (the status is partial then). */
  readonly unreadable: readonly string[]
}

interface Obj {
  metadata: { name: string, namespace: string, labels?: Record<string, string>, annotations?: Record<string, string> }
  status?: { conditions?: { type: string, status: string, reason?: string, message?: string }[] }
}

export interface StatusSettings {
  readonly storageNamespace: string
}

/** What `status` looks at: every shared secret (the default), or those of one NAME, of one namespace, or both. */
export interface StatusScope {
  readonly name?: string
  /** Only this namespace's consumers and ExternalSecrets (read there and in the storage namespace alone). */
  readonly namespace?: string
}

/** Reads the cluster (the caller's rights) and builds the status. */
export async function clusterStatus(kc: KubeConfig, s: StatusSettings, scope: StatusScope = {}): Promise<Status> {
  const unreadable: string[] = []
  const attempt = async <T>(what: string, read: () => Promise<T>, fallback: T): Promise<T> =>
    read().catch((err: { code?: number, message?: string }) => { unreadable.push(`${what} (${err.code ?? err.message})`); return fallback })
  const co = apiClient(kc, CustomObjectsApi)
  const managedSelector = `${managedBy.key}=${managedBy.value}${scope.name !== undefined ? `,${sharedSecretLabel}=${scope.name}` : ''}`
  const list = async (kind: ManagedKind, namespace?: string) => ((namespace === undefined
    ? await co.listClusterCustomObject({ ...resources[kind], labelSelector: managedSelector })
    : await co.listNamespacedCustomObject({ ...resources[kind], namespace, labelSelector: managedSelector })) as { items: Obj[] }).items
  // With -n, a team member with rights in their namespace alone can still see its rows; the storage namespace's
  // objects are read there (and said to be unreadable when the caller may not).
  const managed = async (kind: ManagedKind, where: 'storage' | 'consumers') => attempt(`${kind}s`, async () => {
    if (scope.namespace === undefined) return list(kind)
    if (where === 'storage') return list(kind, s.storageNamespace)
    return [...await list(kind, s.storageNamespace), ...(scope.namespace === s.storageNamespace ? [] : await list(kind, scope.namespace))]
  }, [] as Obj[])
  const selector = { labelSelector: `${consumerLabel.key}=${consumerLabel.value}` }
  const apps = apiClient(kc, AppsV1Api)
  const batch = apiClient(kc, BatchV1Api)
  const core = apiClient(kc, CoreV1Api)
  // Each kind's list of every namespace, or of the one asked for (-n).
  const ns = scope.namespace
  const either = <T>(all: (o: typeof selector) => Promise<T>, one: (o: typeof selector & { namespace: string }) => Promise<T>) =>
    () => ns === undefined ? all(selector) : one({ namespace: ns, ...selector })
  const consumerLists: [string, () => Promise<{ items: { metadata?: unknown }[] }>][] = [
    ['Deployment', either((o) => apps.listDeploymentForAllNamespaces(o), (o) => apps.listNamespacedDeployment(o))],
    ['StatefulSet', either((o) => apps.listStatefulSetForAllNamespaces(o), (o) => apps.listNamespacedStatefulSet(o))],
    ['DaemonSet', either((o) => apps.listDaemonSetForAllNamespaces(o), (o) => apps.listNamespacedDaemonSet(o))],
    ['ReplicaSet', either((o) => apps.listReplicaSetForAllNamespaces(o), (o) => apps.listNamespacedReplicaSet(o))],
    ['Job', either((o) => batch.listJobForAllNamespaces(o), (o) => batch.listNamespacedJob(o))],
    ['CronJob', either((o) => batch.listCronJobForAllNamespaces(o), (o) => batch.listNamespacedCronJob(o))],
    ['Pod', either((o) => core.listPodForAllNamespaces(o), (o) => core.listNamespacedPod(o))],
  ]
  const [passwords, pushSecrets, externalSecrets, ...consumerItems] = await Promise.all([
    managed('Password', 'storage'), managed('PushSecret', 'storage'), managed('ExternalSecret', 'consumers'),
    ...consumerLists.map(([kind, list]) => attempt(`${kind}s`, async () => (await list()).items.map((i) => ({ kind, ...(i.metadata as Obj['metadata']) })), [])),
  ])
  // No ConfigMap (404): no policy is installed, so every namespace is allowed; that is known, not unreadable.
  const policyText = await attempt('ConfigMap secretwire/secretwire-policy', async () =>
    (await core.readNamespacedConfigMap({ namespace: identities.secretwire.namespace, name: 'secretwire-policy' })
      .catch((err: { code?: number }) => { if (err.code === 404) return { data: undefined }; throw err })).data?.['policy.yaml'], undefined)
  const policy = policyText === undefined ? undefined : parsePolicy(policyText, 'ConfigMap secretwire/secretwire-policy')
  const consumers = consumerItems.flat().map((c) => ({
    kind: c.kind, namespace: c.namespace, name: c.name,
    names: consumedNames(c.annotations),
    secrets: parseNamedSecretsMarker(c.annotations?.[namedSecretsAnnotation]).map((e) => ({ sharedSecret: e.sharedSecret, secret: e.secret })),
  }))
  return { ...scoped(statusModel({ passwords, pushSecrets, externalSecrets, consumers, policy, storageNamespace: s.storageNamespace }), scope), unreadable }
}

/** Pure: the status of the NAME and namespace asked for; `failing` counts only what is shown. */
export function scoped(status: Omit<Status, 'unreadable'>, scope: StatusScope): Omit<Status, 'unreadable'> {
  if (scope.name === undefined && scope.namespace === undefined) return status
  const sharedSecrets = status.sharedSecrets
    .filter((s) => scope.name === undefined || s.name === scope.name)
    .map((s) => scope.namespace === undefined ? s : { ...s, namespaces: s.namespaces.filter((n) => n.namespace === scope.namespace) })
    .filter((s) => scope.namespace === undefined || s.namespaces.length > 0)
  return { sharedSecrets, failing: sharedSecrets.some(isFailing) }
}

export interface StatusInput {
  readonly passwords: readonly Obj[]
  readonly pushSecrets: readonly Obj[]
  readonly externalSecrets: readonly Obj[]
  readonly consumers: readonly {
    kind: string, namespace: string, name: string, names: readonly string[],
    /** The Secrets its secret annotation names (contract.ts namedSecretsAnnotation). */
    secrets?: readonly { sharedSecret: string, secret: string }[]
  }[]
  /** The policy in the cluster's ConfigMap, when readable. */
  readonly policy: Policy | undefined
  readonly storageNamespace: string
}

/** Pure: the objects read, in; the status, out. */
export function statusModel(input: StatusInput): Omit<Status, 'unreadable'> {
  const state = (kind: string, o: Obj, stored = false): ObjectState => {
    return { kind, namespace: o.metadata.namespace, name: o.metadata.name, ...syncStateOf(o, stored) }
  }
  const nameOf = (o: Obj) => o.metadata.labels?.[sharedSecretLabel] ?? ''
  const named = (o: Obj) => o.metadata.annotations?.[namedSecretsAnnotation] !== undefined
  const names = new Set([
    ...input.passwords.map(nameOf), ...input.pushSecrets.map(nameOf), ...input.externalSecrets.map(nameOf), ...input.consumers.flatMap((c) => c.names),
    ...input.consumers.flatMap((c) => (c.secrets ?? []).map((e) => e.sharedSecret)),
  ].filter((n) => n !== ''))
  const sharedSecrets = [...names].sort().map((name): SharedSecretStatus => {
    const inStorage = (o: Obj) => o.metadata.namespace === input.storageNamespace && nameOf(o) === name
    const storedObject = input.pushSecrets.find(inStorage) ?? input.externalSecrets.find(inStorage)
    const stored = storedObject && state(input.pushSecrets.includes(storedObject) ? 'PushSecret' : 'ExternalSecret', storedObject, true)
    const own = resourceName(name)
    // One row per Secret: secretwire-NAME where something takes NAME as env vars or files, and each named one.
    const secretOf = (o: Obj) => (named(o) ? o.metadata.name : own)
    const rows = new Map<string, { namespace: string, secret: string }>()
    const add = (namespace: string, secret: string) => rows.set(`${namespace}\u0000${secret}`, { namespace, secret })
    for (const o of input.externalSecrets) if (nameOf(o) === name && o.metadata.namespace !== input.storageNamespace) add(o.metadata.namespace, secretOf(o))
    for (const c of input.consumers) {
      if (c.names.includes(name)) add(c.namespace, own)
      for (const e of c.secrets ?? []) if (e.sharedSecret === name) add(c.namespace, e.secret)
    }
    const byNamespace: NamespaceStatus[] = []
    for (const { namespace, secret } of [...rows.values()].sort((a, b) => a.namespace.localeCompare(b.namespace) || a.secret.localeCompare(b.secret))) {
      const es = input.externalSecrets.find((o) => o.metadata.namespace === namespace && nameOf(o) === name && secretOf(o) === secret)
      const users = input.consumers.filter((c) => c.namespace === namespace &&
        (secret === own ? c.names.includes(name) : (c.secrets ?? []).some((e) => e.sharedSecret === name && e.secret === secret)))
        .map((c) => `${c.kind}/${c.name}`).sort()
      const externalSecret = es && state('ExternalSecret', es)
      const allowed = (input.policy ?? openPolicy).forSecret(name).allows(namespace)
      let next: string | undefined
      let problem: string | undefined
      if (users.length === 0) next = 'delete the ExternalSecret (and its copy of the password) once the grace period has passed'
      else if (!allowed && input.policy !== undefined) {
        next = 'nothing: the policy does not allow this NAME here; new Pods are refused'
        problem = `the policy does not allow ${name} in ${namespace}`
      } else if (externalSecret === undefined) {
        next = 'create the ExternalSecret'
        problem = 'no ExternalSecret: the consumers have no Secret to read'
      }
      if (externalSecret?.state === 'failed') problem ??= `ESO cannot sync the ExternalSecret${externalSecret.detail ? `: ${externalSecret.detail}` : ''}`
      byNamespace.push({ namespace, secret, externalSecret, consumers: users, next, problem })
    }
    const problem = stored?.state === 'failed' ? `ESO cannot sync the stored password${stored.detail ? `: ${stored.detail}` : ''}` : undefined
    return { name, generator: input.passwords.some(inStorage), stored, namespaces: byNamespace, problem }
  })
  return { sharedSecrets, failing: sharedSecrets.some(isFailing) }
}

function isFailing(s: SharedSecretStatus): boolean {
  return s.problem !== undefined || s.namespaces.some((n) => n.problem !== undefined)
}

/** The table `secretwire status` prints by default. */
export function statusTable(status: Status): string {
  const rows: string[][] = [['SHARED SECRET', 'NAMESPACE', 'CONSUMERS', 'ESO', 'NEXT']]
  for (const s of status.sharedSecrets) {
    const stored = s.stored ? `${s.stored.state}${s.stored.detail ? `: ${s.stored.detail}` : ''}` : 'missing'
    rows.push([s.name, '(stored)', s.generator ? 'generator present' : 'generator missing', `${s.stored?.kind ?? 'stored secret'} ${stored}`, ''])
    for (const n of s.namespaces) {
      const eso = n.externalSecret ? `${n.externalSecret.state}${n.externalSecret.detail ? `: ${n.externalSecret.detail}` : ''}` : 'no ExternalSecret'
      const where = n.secret === resourceName(s.name) ? n.namespace : `${n.namespace} (Secret ${n.secret})`
      rows.push(['', where, n.consumers.join(', ') || '(none)', eso, n.next ?? '-'])
    }
  }
  const widths = rows[0]!.map((_, i) => Math.min(60, Math.max(...rows.map((r) => r[i]!.length))))
  const lines = rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd())
  if (status.unreadable.length > 0) lines.push('', `not readable with your rights: ${status.unreadable.join('; ')}`)
  const problems = status.sharedSecrets.flatMap((s) => [
    ...(s.problem !== undefined ? [`  ${s.name}: ${s.problem}`] : []),
    ...s.namespaces.flatMap((n) => n.problem !== undefined ? [`  ${s.name} in ${n.namespace}: ${n.problem}`] : []),
  ])
  lines.push('', status.failing ? ['FAILING:', ...problems].join('\n') : 'ok')
  return `${lines.join('\n')}\n`
}
