// Kubernetes Events (events.k8s.io/v1) that tell the people looking at a workload what secretwire knows about
// its shared secrets: synced, waiting for ESO (with ESO's reason), failed. `kubectl describe` shows them beside
// the kubelet's CreateContainerConfigError, which alone says only that a Secret is missing. An Event never
// carries a secret value (secretwire never reads one). Failures to record are logged, never fatal.
import { randomBytes } from 'node:crypto'
import { EventsV1Api, V1MicroTime, type KubeConfig } from '@kubernetes/client-node'
import type { Logger } from 'pino'
import { apiClient } from '../kube/connections.ts'

export interface Regarding {
  readonly apiVersion: string
  readonly kind: string
  readonly namespace: string
  readonly name: string
  readonly uid?: string
}

export interface EventRecorder {
  record(regarding: Regarding, type: 'Normal' | 'Warning', reason: string, action: string, note: string): Promise<void>
}

export function eventRecorder(kc: KubeConfig, instance: string, log: Logger): EventRecorder {
  const api = apiClient(kc, EventsV1Api)
  return {
    async record(regarding, type, reason, action, note) {
      try {
        await api.createNamespacedEvent({
          namespace: regarding.namespace,
          body: {
            metadata: { name: `${regarding.name}.${randomBytes(8).toString('hex')}`, namespace: regarding.namespace },
            eventTime: new V1MicroTime(new Date()),
            reportingController: 'secretwire.io/reconciler',
            reportingInstance: instance,
            action,
            reason,
            type,
            // The API server refuses notes over 1 KiB.
            note: note.length > 1000 ? `${note.slice(0, 999)}…` : note,
            regarding,
          },
        })
      } catch (err) {
        log.warn({ regarding: `${regarding.kind} ${regarding.namespace}/${regarding.name}`, reason, err: (err as Error).message }, 'could not record an Event')
      }
    },
  }
}
