// The kinds secretwire admits and where each keeps its pod template. A Pod is its own template.

export interface WorkloadKind {
  readonly kind: string
  /** Path from the object to the {metadata, spec} holding the pod's annotations and containers. */
  readonly templatePath: readonly string[]
  readonly operations: readonly string[]
}

const workloadOps = ['CREATE', 'UPDATE'] as const
const template = ['spec', 'template'] as const

const kinds: ReadonlyMap<string, WorkloadKind> = new Map([
  ['/Pod', { kind: 'Pod', templatePath: [], operations: ['CREATE'] }],
  ['apps/Deployment', { kind: 'Deployment', templatePath: template, operations: workloadOps }],
  ['apps/StatefulSet', { kind: 'StatefulSet', templatePath: template, operations: workloadOps }],
  ['apps/DaemonSet', { kind: 'DaemonSet', templatePath: template, operations: workloadOps }],
  ['apps/ReplicaSet', { kind: 'ReplicaSet', templatePath: template, operations: workloadOps }],
  ['batch/Job', { kind: 'Job', templatePath: template, operations: workloadOps }],
  ['batch/CronJob', { kind: 'CronJob', templatePath: ['spec', 'jobTemplate', 'spec', 'template'], operations: workloadOps }],
])

export function workloadKind(group: string, kind: string): WorkloadKind | undefined {
  return kinds.get(`${group}/${kind}`)
}

/** The admitted kinds, as MutatingWebhookConfiguration rules would list them: for docs and tests. */
export const admittedKinds: readonly string[] = [...kinds.keys()]
