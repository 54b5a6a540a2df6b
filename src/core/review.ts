// admission.k8s.io/v1 AdmissionReview, declared once (@kubernetes/client-node has no types for it): the schema
// that decides what counts as an AdmissionReview at the HTTP edge, the types the handler reads, and the response
// constructors. Only what secretwire reads is required; everything else passes through unvalidated.
import { Type, type Static } from '@sinclair/typebox'
import type { Operation } from 'fast-json-patch'
import type { DenialStatus } from './errors.ts'

const GroupVersionKind = Type.Object({
  group: Type.String(),
  version: Type.String(),
  kind: Type.String({ minLength: 1 }),
})

/** Any JSON object, kept whole: the admitted object must reach the planner exactly as the API server sent it. */
const AnyObject = Type.Record(Type.String(), Type.Unknown())

export const AdmissionRequestSchema = Type.Object({
  /** Echoed in the response; the API server matches on it. */
  uid: Type.String({ minLength: 1 }),
  /** The kind of `object` (after conversion to the version the webhook asked for). */
  kind: GroupVersionKind,
  operation: Type.Union([Type.Literal('CREATE'), Type.Literal('UPDATE'), Type.Literal('DELETE'), Type.Literal('CONNECT')]),
  /** Namespace of the object; for a Pod created without metadata.namespace this is the only place it appears. */
  namespace: Type.Optional(Type.String()),
  name: Type.Optional(Type.String()),
  object: Type.Optional(Type.Union([AnyObject, Type.Null()])),
  /** The object as stored before an UPDATE (null or absent otherwise). */
  oldObject: Type.Optional(Type.Union([AnyObject, Type.Null()])),
  /** True for `kubectl --dry-run=server` and `kubectl diff`: nothing may be created. */
  dryRun: Type.Optional(Type.Boolean()),
})

export const AdmissionReviewSchema = Type.Object({
  apiVersion: Type.Literal('admission.k8s.io/v1'),
  kind: Type.Literal('AdmissionReview'),
  request: AdmissionRequestSchema,
})

/** For fast serialization of the answer (fast-json-stringify): it must list every field a response can carry. */
export const AdmissionReviewResponseSchema = Type.Object({
  apiVersion: Type.Literal('admission.k8s.io/v1'),
  kind: Type.Literal('AdmissionReview'),
  response: Type.Object({
    uid: Type.String(),
    allowed: Type.Boolean(),
    patchType: Type.Optional(Type.Literal('JSONPatch')),
    patch: Type.Optional(Type.String()),
    status: Type.Optional(Type.Object({ code: Type.Integer(), reason: Type.String(), message: Type.String() })),
    warnings: Type.Optional(Type.Array(Type.String())),
  }),
})

export type AdmissionRequest = Readonly<Static<typeof AdmissionRequestSchema>>
export type AdmissionReview = Readonly<Static<typeof AdmissionReviewSchema>>

export interface AdmissionResponse {
  readonly uid: string
  readonly allowed: boolean
  readonly patchType?: 'JSONPatch'
  /** Base64 of the JSON patch. */
  readonly patch?: string
  readonly status?: DenialStatus
  /** Shown by kubectl as "Warning: ..."; for what a user should know but need not fix. */
  readonly warnings?: readonly string[]
}

export interface AdmissionReviewResponse {
  readonly apiVersion: 'admission.k8s.io/v1'
  readonly kind: 'AdmissionReview'
  readonly response: AdmissionResponse
}

function withWarnings(warnings: readonly string[]): { warnings?: readonly string[] } {
  return warnings.length > 0 ? { warnings } : {}
}

export function allowed(uid: string, warnings: readonly string[] = []): AdmissionResponse {
  return { uid, allowed: true, ...withWarnings(warnings) }
}

export function patched(uid: string, patch: readonly Operation[], warnings: readonly string[] = []): AdmissionResponse {
  if (patch.length === 0) return allowed(uid, warnings)
  return {
    uid, allowed: true, patchType: 'JSONPatch',
    patch: Buffer.from(JSON.stringify(patch)).toString('base64'), ...withWarnings(warnings),
  }
}

export function denied(uid: string, status: DenialStatus, warnings: readonly string[] = []): AdmissionResponse {
  return { uid, allowed: false, status, ...withWarnings(warnings) }
}

export function reviewResponse(response: AdmissionResponse): AdmissionReviewResponse {
  return { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response }
}
