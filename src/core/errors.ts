// Every way an admission can be refused, as typed errors. `toStatus` is the one place they become the status of a
// denial; nothing matches on error text. Messages name the annotation, value, object or namespace at fault and
// never carry a secret value (secretwire never reads one).

/** The `status` of a denied AdmissionResponse (a metav1.Status subset). */
export interface DenialStatus {
  readonly code: number
  readonly reason: string
  readonly message: string
}

export abstract class AdmissionError extends Error {
  abstract readonly code: number
  abstract readonly reason: string

  constructor(message: string) {
    super(message)
    this.name = new.target.name
  }
}

/** Longer user values are cut in messages: the API server shows the message to the user verbatim. */
const maxQuoted = 120

export function quote(value: string): string {
  return JSON.stringify(value.length > maxQuoted ? `${value.slice(0, maxQuoted)}…` : value)
}

/** A secretwire annotation whose value cannot be used. */
export class InvalidAnnotation extends AdmissionError {
  readonly code = 400
  readonly reason = 'BadRequest'
  constructor(readonly annotation: string, readonly value: string, problem: string) {
    super(`annotation ${annotation}: ${quote(value)}: ${problem}`)
  }
}

/** The admitted object itself is not something secretwire can wire (no namespace, containers missing, ...). */
export class InvalidObject extends AdmissionError {
  readonly code = 400
  readonly reason = 'BadRequest'
}

/** A selected container already sets the env var to something other than the shared secret. */
export class EnvConflict extends AdmissionError {
  readonly code = 400
  readonly reason = 'BadRequest'
  constructor(readonly container: string, readonly variable: string, sharedSecret: string) {
    super(`container ${quote(container)} already defines env var ${variable}, which secretwire would set from shared ` +
      `secret ${quote(sharedSecret)}: remove it, or choose another name with NAME=ENV_VAR`)
  }
}

/** The `file` form's volume name or mount path is already taken by something else in the Pod. */
export class MountConflict extends AdmissionError {
  readonly code = 400
  readonly reason = 'BadRequest'
  constructor(what: string, sharedSecret: string) {
    super(`${what}, which secretwire would use for the file of shared secret ${quote(sharedSecret)} (form file): ` +
      'remove it, or take the password in another form')
  }
}

/** The policy (SECRETWIRE_CONFIG) does not let this namespace use the shared secret. */
export class NamespaceNotAllowed extends AdmissionError {
  readonly code = 403
  readonly reason = 'Forbidden'
  constructor(readonly sharedSecret: string, readonly namespace: string, allowed: readonly string[]) {
    super(`shared secret ${quote(sharedSecret)} may not be used in namespace ${quote(namespace)}: the secretwire policy ` +
      (allowed.length === 0 ? 'allows it in no namespace' : `allows it only in ${allowed.map(quote).join(', ')}`))
  }
}

/** Workloads in the storage namespace would collide with the stored secrets. */
export class StorageNamespace extends AdmissionError {
  readonly code = 403
  readonly reason = 'Forbidden'
  constructor(readonly namespace: string) {
    super(`namespace ${quote(namespace)} is secretwire's storage namespace (SECRETWIRE_STORAGE_NAMESPACE): ` +
      'workloads there cannot use shared secrets')
  }
}

/** A namespace secretwire never wires (kube-system, its own, ...): the webhook is not even called for it. */
export class NamespaceExcluded extends AdmissionError {
  readonly code = 403
  readonly reason = 'Forbidden'
  constructor(readonly namespace: string) {
    super(`namespace ${quote(namespace)} is never wired by secretwire (the webhook configuration leaves it out)`)
  }
}

/** An object of the name secretwire would create exists without secretwire's labels: it is never adopted. */
export class ObjectInTheWay extends AdmissionError {
  readonly code = 409
  readonly reason = 'Conflict'
  constructor(readonly object: string, labels: string) {
    super(`${object} already exists and is not managed by secretwire (it lacks the labels ${labels}); ` +
      'secretwire never adopts or changes it: rename or remove it')
  }
}

/** A Secret named in the secret annotation is already made by secretwire from another entry (NAME, shape or user). */
export class NamedSecretTaken extends AdmissionError {
  readonly code = 409
  readonly reason = 'Conflict'
  constructor(readonly object: string, existing: string, wanted: string) {
    super(`${object} already makes its Secret as ${quote(existing)} for another object of this namespace; this one asks for ${quote(wanted)}: ` +
      'one Secret has one shape, so name another Secret')
  }
}

/** The Kubernetes API refused, failed or did not answer in time. */
export class KubernetesFailure extends AdmissionError {
  /** `httpStatus`: what the API server answered, if it answered at all. */
  constructor(readonly code: number, readonly reason: string, message: string, readonly httpStatus?: number) {
    super(message)
  }
}

/** The admission's time for API calls ran out while `doing` (reading ..., creating ...). */
export function apiTimedOut(doing: string): KubernetesFailure {
  return new KubernetesFailure(504, 'Timeout', `the Kubernetes API did not answer in time while ${doing}`)
}

/** A setting or policy file that cannot be used: secretwire refuses to start. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError'
}

export function toStatus(err: unknown): DenialStatus {
  if (err instanceof AdmissionError) return { code: err.code, reason: err.reason, message: err.message }
  return { code: 500, reason: 'InternalError', message: 'secretwire failed unexpectedly; its log has the details' }
}
