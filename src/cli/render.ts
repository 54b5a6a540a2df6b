// `secretwire render`: what admission would do to a manifest, with no cluster. It runs the webhook's own
// planner on a CREATE of each document and applies the resulting patch, so the preview cannot drift from
// the webhook.
import jsonpatch from 'fast-json-patch'
import type { AdmissionRequest } from '../core/review.ts'
import { InvalidObject } from '../core/errors.ts'
import { describe, type ManagedObject } from '../core/esoobjects.ts'
import { plan, type PlanSettings } from '../core/plan.ts'

export interface Rendered {
  /** The input documents as admission would store them. */
  readonly documents: readonly unknown[]
  /** The ESO objects admission would ensure, each once. */
  readonly ensure: readonly ManagedObject[]
  readonly warnings: readonly string[]
}

export function render(documents: readonly unknown[], namespace: string, settings: PlanSettings): Rendered {
  const ensure = new Map<string, ManagedObject>()
  const warnings: string[] = []
  const out = documents.map((doc, i) => {
    if (doc === null || doc === undefined) return doc
    const request = asCreate(doc, i, namespace)
    const decided = plan(request, settings)
    if (!decided.wire) return doc
    for (const o of decided.ensure) ensure.set(describe(o), o)
    warnings.push(...decided.warnings)
    return jsonpatch.applyPatch(structuredClone(doc), jsonpatch.deepClone(decided.patch), true).newDocument
  })
  return { documents: out, ensure: [...ensure.values()], warnings }
}

function asCreate(doc: unknown, index: number, namespace: string): AdmissionRequest {
  const { apiVersion, kind, metadata } = doc as { apiVersion?: unknown, kind?: unknown, metadata?: { namespace?: unknown } }
  if (typeof apiVersion !== 'string' || typeof kind !== 'string' || typeof doc !== 'object' || Array.isArray(doc)) {
    throw new InvalidObject(`document ${index + 1} is not a Kubernetes object (it needs apiVersion and kind)`)
  }
  const slash = apiVersion.indexOf('/')
  return {
    uid: `render-${index + 1}`,
    kind: { group: slash === -1 ? '' : apiVersion.slice(0, slash), version: apiVersion.slice(slash + 1), kind },
    operation: 'CREATE',
    namespace: typeof metadata?.namespace === 'string' && metadata.namespace !== '' ? metadata.namespace : namespace,
    object: doc as Record<string, unknown>,
    dryRun: true,
  }
}
