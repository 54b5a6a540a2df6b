// Where the reconciler's Events about Pods go: the workload they stand for. A Pod wired by the in-apiserver
// injection while secretwire was down belongs to a workload secretwire never saw (unlabelled), so the consumer
// index holds only its Pods; people look at `kubectl describe deployment`, so the Event goes on the Pod's
// controller's controller (ReplicaSet → Deployment, Job → CronJob), read by metadata only.
import type { KubeConfig } from '@kubernetes/client-node'
import type { Consumer, ControllerRef } from '../core/consumers.ts'
import { readMetadata } from '../kube/metawatch.ts'

export interface EventTarget {
  readonly apiVersion: string
  readonly kind: string
  readonly namespace: string
  readonly name: string
  readonly uid: string
}

/** The controllers that have controllers of their own: their path, to read that one from. */
const intermediate: Readonly<Record<string, string>> = { 'apps/v1 ReplicaSet': 'apis/apps/v1', 'batch/v1 Job': 'apis/batch/v1' }

/** The workloads the Pods stand for, each once; a Pod with no controller stands for itself. */
export async function workloadsOf(kc: KubeConfig, pods: readonly Consumer[]): Promise<EventTarget[]> {
  const out = new Map<string, EventTarget>()
  for (const pod of pods) {
    const target = pod.controller === undefined
      ? { apiVersion: 'v1', kind: pod.kind, namespace: pod.namespace, name: pod.name, uid: pod.uid }
      : await topController(kc, pod.namespace, pod.controller)
    out.set(target.uid, target)
  }
  return [...out.values()]
}

async function topController(kc: KubeConfig, namespace: string, ref: ControllerRef): Promise<EventTarget> {
  const own = { ...ref, namespace }
  const base = intermediate[`${ref.apiVersion} ${ref.kind}`]
  if (base === undefined) return own
  const plural = `${ref.kind.toLowerCase()}s`
  // Gone, or not readable: the Event goes on the ReplicaSet or Job itself.
  const meta = await readMetadata(kc, `/${base}/namespaces/${namespace}/${plural}/${ref.name}`).catch(() => undefined)
  const up = meta?.ownerReferences?.find((r) => r.controller === true)
  return up === undefined ? own : { apiVersion: up.apiVersion, kind: up.kind, name: up.name, uid: up.uid, namespace }
}
