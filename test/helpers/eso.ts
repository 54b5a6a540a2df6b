// Reading back the ESO objects secretwire ensured, through the real API server.
import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node'
import { resources, type ManagedKind } from '../../src/core/esoobjects.ts'

export interface Stored {
  metadata: { name: string, namespace: string, labels?: Record<string, string>, annotations?: Record<string, string>, uid: string, resourceVersion: string }
  spec: Record<string, unknown>
}

export async function list(kc: KubeConfig, kind: ManagedKind, namespace: string): Promise<Stored[]> {
  const co = kc.makeApiClient(CustomObjectsApi)
  const res = await co.listNamespacedCustomObject({ ...resources[kind], namespace }) as { items: Stored[] }
  return res.items
}

/** "Kind namespace/name" of every Password, PushSecret and ExternalSecret in the namespaces, sorted. */
export async function inventory(kc: KubeConfig, ...namespaces: string[]): Promise<string[]> {
  const out: string[] = []
  for (const namespace of namespaces) {
    for (const kind of Object.keys(resources) as ManagedKind[]) {
      for (const o of await list(kc, kind, namespace)) out.push(`${kind} ${namespace}/${o.metadata.name}`)
    }
  }
  return out.sort()
}
