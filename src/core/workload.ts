// The kinds secretwire admits and where each keeps its pod template. A Pod is its own template.

export interface WorkloadKind {
  readonly group: string
  readonly kind: string
  /** The resource (plural) the API server serves it as, for webhook rules. */
  readonly resource: string
  /** Path from the object to the {metadata, spec} holding the pod's annotations and containers. */
  readonly templatePath: readonly string[]
  readonly operations: readonly string[]
  /** The API server refuses any change to the pod template after creation (a Job's): only CREATE can wire it. */
  readonly templateImmutable?: boolean
}

const workloadOps = ['CREATE', 'UPDATE'] as const
const template = ['spec', 'template'] as const

/** Every kind secretwire admits: the webhook's rules are generated from this list (src/manifests/webhook.ts). */
export const workloadKinds: readonly WorkloadKind[] = [
  { group: '', kind: 'Pod', resource: 'pods', templatePath: [], operations: ['CREATE'] },
  { group: 'apps', kind: 'Deployment', resource: 'deployments', templatePath: template, operations: workloadOps },
  { group: 'apps', kind: 'StatefulSet', resource: 'statefulsets', templatePath: template, operations: workloadOps },
  { group: 'apps', kind: 'DaemonSet', resource: 'daemonsets', templatePath: template, operations: workloadOps },
  { group: 'apps', kind: 'ReplicaSet', resource: 'replicasets', templatePath: template, operations: workloadOps },
  { group: 'batch', kind: 'Job', resource: 'jobs', templatePath: template, operations: workloadOps, templateImmutable: true },
  { group: 'batch', kind: 'CronJob', resource: 'cronjobs', templatePath: ['spec', 'jobTemplate', 'spec', 'template'], operations: workloadOps },
]

const byGroupKind: ReadonlyMap<string, WorkloadKind> = new Map(workloadKinds.map((k) => [`${k.group}/${k.kind}`, k]))

export function workloadKind(group: string, kind: string): WorkloadKind | undefined {
  return byGroupKind.get(`${group}/${kind}`)
}

/** The apiVersion of a kind's objects (all are served at v1). */
export function apiVersionOf(k: WorkloadKind): string {
  return k.group === '' ? 'v1' : `${k.group}/v1`
}

/** The API path of a kind's objects: every namespace's, or one namespace's. */
export function resourcePath(k: WorkloadKind, namespace?: string): string {
  return `/${k.group === '' ? 'api' : 'apis'}/${apiVersionOf(k)}${namespace === undefined ? '' : `/namespaces/${namespace}`}/${k.resource}`
}
