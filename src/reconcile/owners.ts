// Where the reconciler's Events about consumers go: the workloads. A Pod stands for its workload; a Pod wired by the
// in-apiserver injection while secretwire was down belongs to a workload secretwire never saw (unlabelled), so the
// consumer index holds only its Pods. People look at `kubectl describe deployment`, so the Event goes on the Pod's
// controller's controller (ReplicaSet → Deployment, Job → CronJob), read by metadata only.
import type { KubeConfig } from '@kubernetes/client-node'
import type { Consumer, ControllerRef } from '../core/consumers.ts'
import { apiVersionOf, resourcePath, workloadKinds } from '../core/workload.ts'
import { readMetadata } from '../kube/metawatch.ts'

export interface EventTarget {
  readonly apiVersion: string
  readonly kind: string
  readonly namespace: string
  readonly name: string
  readonly uid: string
}

/** The controllers that have controllers of their own. */
const intermediate = new Set(['ReplicaSet', 'Job'])

/**
 * The consumers' workloads, each once: the workload consumers themselves, or, when only Pods consume, the workloads
 * the Pods stand for (a Pod with no controller stands for itself). Each controller is read once per call.
 */
export async function eventTargets(kc: KubeConfig, consumers: readonly Consumer[]): Promise<EventTarget[]> {
  const workloads = consumers.filter((c) => c.kind !== 'Pod')
  if (workloads.length > 0) return workloads.map((c) => ({ ...targetOf(c), namespace: c.namespace }))
  const out = new Map<string, EventTarget>()
  const above = new Map<string, Promise<EventTarget>>()
  for (const pod of consumers) {
    const ref = pod.controller
    const target = ref === undefined
      ? { ...targetOf(pod), namespace: pod.namespace }
      : await (above.get(ref.uid) ?? above.set(ref.uid, topController(kc, pod.namespace, ref)).get(ref.uid)!)
    out.set(target.uid, target)
  }
  return [...out.values()]
}

function targetOf(c: Consumer): Omit<EventTarget, 'namespace'> {
  return { apiVersion: apiVersionOf(workloadKinds.find((k) => k.kind === c.kind)!), kind: c.kind, name: c.name, uid: c.uid }
}

async function topController(kc: KubeConfig, namespace: string, ref: ControllerRef): Promise<EventTarget> {
  const own = { ...ref, namespace }
  const kind = intermediate.has(ref.kind) ? workloadKinds.find((k) => k.kind === ref.kind && apiVersionOf(k) === ref.apiVersion) : undefined
  if (kind === undefined) return own
  // Gone, or not readable: the Event goes on the ReplicaSet or Job itself.
  const meta = await readMetadata(kc, `${resourcePath(kind, namespace)}/${ref.name}`).catch(() => undefined)
  const up = meta?.ownerReferences?.find((r) => r.controller === true)
  return up === undefined ? own : { apiVersion: up.apiVersion, kind: up.kind, name: up.name, uid: up.uid, namespace }
}
