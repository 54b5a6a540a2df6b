// `secretwire status`: every shared secret in the cluster, as the caller's own rights let them see it: its
// generator and stored secret, the namespaces and workloads that consume it, ESO's sync state of each
// ExternalSecret, and what the reconciler will do next. It reads ESO objects, workloads' and Pods' metadata and the
// policy ConfigMap; never a Secret. A table, or -o json / -o yaml; `failing` (exit status 1) when ESO reports a
// failure or a consumer has no ExternalSecret.
import { AppsV1Api, BatchV1Api, CoreV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node'
import { consumerLabel, identities, managedBy, sharedSecretLabel } from '../core/contract.ts'
import { resources, type ManagedKind } from '../core/esoobjects.ts'
import { openPolicy, parsePolicy, type Policy } from '../core/policy.ts'
import { consumedNames } from '../core/consumers.ts'
import { syncStateOf, type SyncState } from '../core/reconcileplan.ts'

export interface ObjectState {
  readonly kind: string
  readonly namespace: string
  readonly name: string
  readonly state: SyncState
  readonly detail?: string
}

export interface NamespaceStatus {
  readonly namespace: string
  readonly externalSecret: ObjectState | undefined
  readonly consumers: readonly string[]
  /** What the reconciler does next here, or undefined when nothing. */
  readonly next: string | undefined
}

export interface SharedSecretStatus {
  readonly name: string
  readonly generator: boolean
  readonly stored: ObjectState | undefined
  readonly namespaces: readonly NamespaceStatus[]
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

/** Reads the cluster (the caller's rights) and builds the status. */
export async function clusterStatus(kc: KubeConfig, s: StatusSettings): Promise<Status> {
  const unreadable: string[] = []
  const attempt = async <T>(what: string, read: () => Promise<T>, fallback: T): Promise<T> =>
    read().catch((err: { code?: number, message?: string }) => { unreadable.push(`${what} (${err.code ?? err.message})`); return fallback })
  const co = kc.makeApiClient(CustomObjectsApi)
  const managed = async (kind: ManagedKind) => attempt(`${kind}s`, async () =>
    ((await co.listClusterCustomObject({ ...resources[kind], labelSelector: `${managedBy.key}=${managedBy.value}` })) as { items: Obj[] }).items, [] as Obj[])
  const selector = { labelSelector: `${consumerLabel.key}=${consumerLabel.value}` }
  const apps = kc.makeApiClient(AppsV1Api)
  const batch = kc.makeApiClient(BatchV1Api)
  const core = kc.makeApiClient(CoreV1Api)
  const consumerLists: [string, () => Promise<{ items: { metadata?: unknown }[] }>][] = [
    ['Deployment', () => apps.listDeploymentForAllNamespaces(selector)],
    ['StatefulSet', () => apps.listStatefulSetForAllNamespaces(selector)],
    ['DaemonSet', () => apps.listDaemonSetForAllNamespaces(selector)],
    ['ReplicaSet', () => apps.listReplicaSetForAllNamespaces(selector)],
    ['Job', () => batch.listJobForAllNamespaces(selector)],
    ['CronJob', () => batch.listCronJobForAllNamespaces(selector)],
    ['Pod', () => core.listPodForAllNamespaces(selector)],
  ]
  const [passwords, pushSecrets, externalSecrets, ...consumerItems] = await Promise.all([
    managed('Password'), managed('PushSecret'), managed('ExternalSecret'),
    ...consumerLists.map(([kind, list]) => attempt(`${kind}s`, async () => (await list()).items.map((i) => ({ kind, ...(i.metadata as Obj['metadata']) })), [])),
  ])
  const policyText = await attempt('ConfigMap secretwire/secretwire-policy', async () =>
    (await core.readNamespacedConfigMap({ namespace: identities.secretwire.namespace, name: 'secretwire-policy' })).data?.['policy.yaml'], undefined)
  const policy = policyText === undefined ? undefined : parsePolicy(policyText, 'ConfigMap secretwire/secretwire-policy')
  const consumers = consumerItems.flat().map((c) => ({
    kind: c.kind, namespace: c.namespace, name: c.name,
    names: consumedNames(c.annotations),
  }))
  return { ...statusModel({ passwords, pushSecrets, externalSecrets, consumers, policy, storageNamespace: s.storageNamespace }), unreadable }
}

export interface StatusInput {
  readonly passwords: readonly Obj[]
  readonly pushSecrets: readonly Obj[]
  readonly externalSecrets: readonly Obj[]
  readonly consumers: readonly { kind: string, namespace: string, name: string, names: readonly string[] }[]
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
  const names = new Set([
    ...input.passwords.map(nameOf), ...input.pushSecrets.map(nameOf), ...input.externalSecrets.map(nameOf), ...input.consumers.flatMap((c) => c.names),
  ].filter((n) => n !== ''))
  let failing = false
  const sharedSecrets = [...names].sort().map((name): SharedSecretStatus => {
    const inStorage = (o: Obj) => o.metadata.namespace === input.storageNamespace && nameOf(o) === name
    const storedObject = input.pushSecrets.find(inStorage) ?? input.externalSecrets.find(inStorage)
    const stored = storedObject && state(input.pushSecrets.includes(storedObject) ? 'PushSecret' : 'ExternalSecret', storedObject, true)
    if (stored?.state === 'failed') failing = true
    const byNamespace = new Map<string, NamespaceStatus>()
    const namespaces = new Set([
      ...input.externalSecrets.filter((o) => nameOf(o) === name && o.metadata.namespace !== input.storageNamespace).map((o) => o.metadata.namespace),
      ...input.consumers.filter((c) => c.names.includes(name)).map((c) => c.namespace),
    ])
    for (const namespace of [...namespaces].sort()) {
      const es = input.externalSecrets.find((o) => o.metadata.namespace === namespace && nameOf(o) === name)
      const users = input.consumers.filter((c) => c.namespace === namespace && c.names.includes(name)).map((c) => `${c.kind}/${c.name}`)
      const externalSecret = es && state('ExternalSecret', es)
      const allowed = (input.policy ?? openPolicy).forSecret(name).allows(namespace)
      let next: string | undefined
      if (users.length === 0) next = 'delete the ExternalSecret (and its copy of the password) once the grace period has passed'
      else if (!allowed && input.policy !== undefined) { next = 'nothing: the policy no longer allows this NAME here; new Pods are refused'; failing = true }
      else if (externalSecret === undefined) { next = 'create the ExternalSecret'; failing = true }
      if (externalSecret?.state === 'failed') failing = true
      byNamespace.set(namespace, { namespace, externalSecret, consumers: users, next })
    }
    return { name, generator: input.passwords.some(inStorage), stored, namespaces: [...byNamespace.values()] }
  })
  return { sharedSecrets, failing }
}

/** The table `secretwire status` prints by default. */
export function statusTable(status: Status): string {
  const rows: string[][] = [['SHARED SECRET', 'NAMESPACE', 'CONSUMERS', 'ESO', 'NEXT']]
  for (const s of status.sharedSecrets) {
    const stored = s.stored ? `${s.stored.state}${s.stored.detail ? `: ${s.stored.detail}` : ''}` : 'missing'
    rows.push([s.name, '(stored)', s.generator ? 'generator present' : 'generator missing', `${s.stored?.kind ?? 'stored secret'} ${stored}`, ''])
    for (const n of s.namespaces) {
      const eso = n.externalSecret ? `${n.externalSecret.state}${n.externalSecret.detail ? `: ${n.externalSecret.detail}` : ''}` : 'no ExternalSecret'
      rows.push(['', n.namespace, n.consumers.join(', ') || '(none)', eso, n.next ?? '-'])
    }
  }
  const widths = rows[0]!.map((_, i) => Math.min(60, Math.max(...rows.map((r) => r[i]!.length))))
  const lines = rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd())
  if (status.unreadable.length > 0) lines.push('', `not readable with your rights: ${status.unreadable.join('; ')}`)
  lines.push('', status.failing ? 'FAILING: see ESO and NEXT above' : 'ok')
  return `${lines.join('\n')}\n`
}
