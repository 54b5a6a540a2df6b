// `secretwire delete NAME`: the one way a shared secret's password goes away for good. The reconciler never does
// this (a database may still hold that password); a person does, on purpose:
//   - refused while any workload or Pod still names NAME (their next Pod would get a new password);
//   - what goes, in order: each namespace's ExternalSecret (ESO deletes its copy), the stored secret's object,
//     the generator, then the stored Secret itself (orphaned by design, so deleted by name, never read);
//   - every delete is first sent as a server-side dry run, so the API server checks the caller's rights and the
//     guard policies (only the break-glass group may delete stored passwords) before anything changes: a refusal
//     changes nothing; `--dry-run` stops there.
// It runs with the caller's own kubeconfig and rights; secretwire's ServiceAccount cannot do this.
import { ApiException, CoreV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node'
import { resourceName } from '../core/contract.ts'
import { resources, type ManagedKind } from '../core/esoobjects.ts'
import { apiStatus } from '../kube/client.ts'
import type { SharedSecretStatus, Status } from './status.ts'
import { apiClient } from '../kube/connections.ts'

export interface Deletion {
  readonly kind: ManagedKind | 'Secret'
  readonly namespace: string
  readonly name: string
}

export type DeletionPlan =
  | { readonly refused: string }
  | { readonly deletions: readonly Deletion[] }

/** Pure: from the status of the cluster to what `delete NAME` deletes, or why it will not. */
export function deletionPlan(name: string, status: Status, storageNamespace: string): DeletionPlan {
  if (status.unreadable.length > 0) {
    return { refused: `cannot see every consumer with your rights (${status.unreadable.join('; ')}): nothing deleted` }
  }
  const secret: SharedSecretStatus | undefined = status.sharedSecrets.find((s) => s.name === name)
  const consumers = secret?.namespaces.flatMap((n) => n.consumers.map((c) => `${n.namespace}/${c}`)) ?? []
  if (consumers.length > 0) {
    return { refused: `shared secret ${name} is still named by ${consumers.join(', ')}: remove the annotation from those first (their next Pods would get a new password)` }
  }
  const object = resourceName(name)
  const deletions: Deletion[] = (secret?.namespaces ?? []).filter((n) => n.externalSecret !== undefined)
    .map((n) => ({ kind: 'ExternalSecret' as const, namespace: n.namespace, name: n.externalSecret!.name }))
  if (secret?.stored !== undefined) deletions.push({ kind: secret.stored.kind as ManagedKind, namespace: storageNamespace, name: object })
  if (secret?.generator === true) deletions.push({ kind: 'Password', namespace: storageNamespace, name: object })
  // Deleted by name whether or not it is there (the caller may not read Secrets, and need not).
  deletions.push({ kind: 'Secret', namespace: storageNamespace, name: object })
  return { deletions }
}

export interface DeletionResult {
  readonly deleted: readonly Deletion[]
  /** Already gone (404). */
  readonly absent: readonly Deletion[]
}

/**
 * Dry-runs every deletion, then (unless dryRun) deletes for real. Throws on the first refusal of the dry run,
 * with the API server's message: nothing has changed then.
 */
export async function runDeletions(kc: KubeConfig, deletions: readonly Deletion[], dryRun: boolean,
  progress: (d: Deletion, outcome: 'deleted' | 'absent') => void = () => undefined): Promise<DeletionResult> {
  const co = apiClient(kc, CustomObjectsApi)
  const core = apiClient(kc, CoreV1Api)
  const remove = async (d: Deletion, dry: boolean): Promise<'deleted' | 'absent'> => {
    const options = dry ? { dryRun: 'All' } : {}
    try {
      if (d.kind === 'Secret') await core.deleteNamespacedSecret({ namespace: d.namespace, name: d.name, ...options })
      else await co.deleteNamespacedCustomObject({ ...resources[d.kind], namespace: d.namespace, name: d.name, ...options })
      return 'deleted'
    } catch (err) {
      if (!(err instanceof ApiException)) throw new DeletionRefused(d, undefined, (err as Error).message, dry)
      if (err.code === 404) return 'absent'
      throw new DeletionRefused(d, err.code, apiStatus(err).message ?? err.message, dry)
    }
  }
  const outcomes: ('deleted' | 'absent')[] = []
  for (const d of deletions) outcomes.push(await remove(d, true))
  if (!dryRun) {
    // Each was allowed a moment ago; one refused now (a policy changed in between) stops here, and progress has
    // said what went before it.
    for (const [i, d] of deletions.entries()) {
      outcomes[i] = await remove(d, false)
      progress(d, outcomes[i]!)
    }
  }
  return {
    deleted: deletions.filter((_, i) => outcomes[i] === 'deleted'),
    absent: deletions.filter((_, i) => outcomes[i] === 'absent'),
  }
}

export class DeletionRefused extends Error {
  constructor(readonly deletion: Deletion, readonly code: number | undefined, reason: string, readonly dryRun: boolean) {
    super(`${dryRun ? 'the dry run of deleting' : 'deleting'} ${deletion.kind} ${deletion.namespace}/${deletion.name} was refused` +
      `${code === undefined ? '' : ` (HTTP ${code})`}: ${reason}${dryRun ? '; nothing was deleted' : ''}`)
  }
}
