// The admission handler, free of HTTP: request → plan → ensure → response. Every error becomes a denial here
// and nowhere else, so whatever goes wrong the API server gets an answer within the deadline.
import { allowed, denied, patched, type AdmissionRequest, type AdmissionResponse } from '../core/review.ts'
import { deadline } from '../util/deadline.ts'
import { ensureObjects, type EnsureOutcome } from '../kube/ensure.ts'
import { AdmissionError, toStatus } from '../core/errors.ts'
import { describe } from '../core/esoobjects.ts'
import { passwordForms } from '../core/contract.ts'
import type { ObjectStore } from '../kube/client.ts'
import { plan, wiringUnchanged, type Plan, type PlanSettings } from '../core/plan.ts'

export interface AdmitDeps {
  readonly settings: PlanSettings & { readonly apiTimeoutMs: number }
  readonly store: ObjectStore
}

/** The response, and what happened, for logs and metrics. */
export interface Admission {
  readonly response: AdmissionResponse
  readonly plan?: Plan
  readonly ensured?: EnsureOutcome
  readonly error?: unknown
  /** A denial secretwire did not give: the UPDATE changed nothing it wires (see `waive`). */
  readonly waived?: AdmissionError
}

export async function admit(request: AdmissionRequest, deps: AdmitDeps): Promise<Admission> {
  let decided: Plan | undefined
  try {
    decided = plan(request, deps.settings)
    if (!decided.wire) return { response: allowed(request.uid), plan: decided }
    const ensured = await ensureObjects(decided.ensure, deps.store, {
      dryRun: request.dryRun === true,
      deadline: deadline(deps.settings.apiTimeoutMs),
    })
    const warnings = [...decided.warnings, ...ensureWarnings(ensured)]
    return { response: patched(request.uid, decided.patch, warnings), plan: decided, ensured }
  } catch (error) {
    if (error instanceof AdmissionError && wiringUnchanged(request)) return waive(request, error, decided)
    return { response: denied(request.uid, toStatus(error)), ...(decided && { plan: decided }), error }
  }
}

/**
 * An UPDATE that leaves secretwire's annotations as they were (a scale to zero, a label, a controller's write
 * during an incident) is admitted even when secretwire would now refuse the object: the policy was tightened, an
 * object cannot be created right now, the namespace is terminating. Blocking it would only stop people from
 * operating the workload; new Pods still meet the refusal at their creation. The reason goes back as a warning.
 */
function waive(request: AdmissionRequest, error: AdmissionError, decided: Plan | undefined): Admission {
  const patch = decided?.wire === true ? decided.patch : []
  const warnings = [...(decided?.wire === true ? decided.warnings : []),
    `secretwire admitted this update because it does not change the shared secrets this object names, but: ${error.message}`]
  return { response: patched(request.uid, patch, warnings), ...(decided && { plan: decided }), waived: error }
}

function ensureWarnings(outcome: EnsureOutcome): string[] {
  const warnings = outcome.wouldCreate.map((o) => `dry run: secretwire would create ${describe(o)}`)
  for (const o of outcome.created) warnings.push(`secretwire created ${describe(o)}`)
  for (const o of outcome.updated) warnings.push(`secretwire brought ${describe(o)} to its current shape (it adds key ${passwordForms.url.key})`)
  const secrets = [...new Set(outcome.created.map((o) => o.metadata.name))]
  if (secrets.length > 0) warnings.push(`Pods start once ESO has synced Secret ${secrets.join(', ')}`)
  return warnings
}
