// Small builders that keep tests reading like the contract: pod({annotations}), workload('Deployment', ...).
import type { V1EnvVar, V1ObjectMeta } from '@kubernetes/client-node'
import type { AdmissionRequest } from '../../src/core/review.ts'
import { loadConfig, type Config } from '../../src/config/settings.ts'

export interface ContainerSpec {
  name: string
  image?: string
  env?: V1EnvVar[]
}

/**
 * A manifest as the builders make it. `spec` is loosely typed on purpose: the same object goes to the typed API
 * clients (V1Deployment, V1CronJob, ...) and to the planner.
 */
export interface Manifest {
  apiVersion: string
  kind: string
  metadata: V1ObjectMeta
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  spec: any
}

export interface PodOptions {
  name?: string
  namespace?: string
  annotations?: Record<string, string>
  containers?: ContainerSpec[]
  initContainers?: ContainerSpec[]
}

export const annotated = (value: string, containers?: string): Record<string, string> => ({
  'secretwire.io/shared-secret': value,
  ...(containers !== undefined && { 'secretwire.io/containers': containers }),
})

function podSpec(o: PodOptions, restartPolicy?: string) {
  return {
    containers: o.containers ?? [{ name: 'app', image: 'busybox' }],
    ...(o.initContainers && { initContainers: o.initContainers }),
    ...(restartPolicy && { restartPolicy }),
  }
}

export function pod(o: PodOptions = {}): Manifest {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: o.name ?? 'app', ...(o.namespace && { namespace: o.namespace }), ...(o.annotations && { annotations: o.annotations }) },
    spec: podSpec(o),
  }
}

export type WorkloadKindName = 'Deployment' | 'StatefulSet' | 'DaemonSet' | 'ReplicaSet' | 'Job' | 'CronJob'

export interface WorkloadOptions extends PodOptions {
  /** Annotations on the workload's own metadata (PodOptions.annotations go on the pod template). */
  ownAnnotations?: Record<string, string>
}

/** A minimal valid workload of each kind, its pod template annotated as asked. */
export function workload(kind: WorkloadKindName, o: WorkloadOptions = {}): Manifest {
  const name = o.name ?? kind.toLowerCase()
  const labels = { app: name }
  const template = (restartPolicy?: string) => ({
    metadata: { labels, ...(o.annotations && { annotations: o.annotations }) },
    spec: podSpec(o, restartPolicy),
  })
  const metadata = { name, ...(o.namespace && { namespace: o.namespace }), ...(o.ownAnnotations && { annotations: o.ownAnnotations }) }
  const apps = { apiVersion: 'apps/v1', kind, metadata }
  switch (kind) {
    case 'Deployment':
    case 'ReplicaSet':
    case 'DaemonSet':
      return { ...apps, spec: { selector: { matchLabels: labels }, template: template() } }
    case 'StatefulSet':
      return { ...apps, spec: { selector: { matchLabels: labels }, serviceName: name, template: template() } }
    case 'Job':
      return { apiVersion: 'batch/v1', kind, metadata, spec: { template: template('Never') } }
    case 'CronJob':
      return { apiVersion: 'batch/v1', kind, metadata, spec: { schedule: '0 * * * *', jobTemplate: { spec: { template: template('Never') } } } }
  }
}

export const workloadKinds: readonly WorkloadKindName[] = ['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job', 'CronJob']

export interface RequestOptions {
  operation?: 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT'
  namespace?: string
  dryRun?: boolean
  uid?: string
}

/** The AdmissionRequest the API server would send for this object. */
export function request(object: { apiVersion: string, kind: string }, o: RequestOptions = {}): AdmissionRequest {
  const [group, version] = object.apiVersion.includes('/') ? object.apiVersion.split('/') : ['', object.apiVersion]
  return {
    uid: o.uid ?? 'uid-1',
    kind: { group: group!, version: version!, kind: object.kind },
    operation: o.operation ?? 'CREATE',
    namespace: o.namespace ?? 'apps',
    object: object as unknown as Record<string, unknown>,
    dryRun: o.dryRun ?? false,
  }
}

/** Settings as secretwire would load them from this environment. */
export function settings(env: Record<string, string> = {}, files: Record<string, string> = {}): Config {
  return loadConfig(env, (path) => {
    const text = files[path]
    if (text === undefined) throw new Error(`ENOENT: no such file ${path}`)
    return text
  })
}
