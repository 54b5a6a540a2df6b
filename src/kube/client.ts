// The Kubernetes adapter: the only module that talks to the API server. It reads and creates the ESO objects
// secretwire manages, each call bounded by the admission's deadline, and turns every failure into a typed
// KubernetesFailure that says what was attempted and why it failed.
import { ApiException, CustomObjectsApi, KubeConfig, Observable, PatchStrategy, type ConfigurationOptions, type RequestContext, type ResponseContext } from '@kubernetes/client-node'
import type { Deadline } from '../util/deadline.ts'
import { apiTimedOut, ConfigError, KubernetesFailure } from '../core/errors.ts'
import { describe, resources, type ManagedObject, type ObjectRef } from '../core/esoobjects.ts'
import { apiClient } from './connections.ts'

/** What ensure needs of a stored object: its labels, to tell secretwire's objects from anyone else's, and its shape annotation. */
export interface StoredObject {
  readonly metadata?: { readonly labels?: Readonly<Record<string, string>>, readonly annotations?: Readonly<Record<string, string>> }
}

export interface ObjectStore {
  /** The object, or undefined when it does not exist. */
  get(ref: ObjectRef, deadline: Deadline): Promise<StoredObject | undefined>
  /** 'exists' when a concurrent create won the race (HTTP 409). */
  create(object: ManagedObject, deadline: Deadline): Promise<'created' | 'exists'>
  /** Writes the object's annotations and spec over the stored one's (a JSON merge patch). */
  update(object: ManagedObject, deadline: Deadline): Promise<void>
  /** The object if known without a request (a watch cache), else undefined: it may exist all the same. */
  cached?(ref: ObjectRef): StoredObject | undefined
}

/** KUBECONFIG when given, else the in-cluster service account. Never the library's silent localhost:8080 fallback. */
export function loadKubeConfig(path: string | undefined): KubeConfig {
  const kc = new KubeConfig()
  if (path !== undefined) {
    try {
      kc.loadFromFile(path)
    } catch (err) {
      throw new ConfigError(`KUBECONFIG=${path}: ${(err as Error).message}`)
    }
  } else {
    kc.loadFromCluster()
  }
  const server = kc.getCurrentCluster()?.server ?? ''
  if (!/^https?:\/\/[^/]/.test(server) || server.includes('undefined')) {
    throw new ConfigError(path === undefined
      ? 'KUBECONFIG is not set and secretwire is not running in a cluster (no KUBERNETES_SERVICE_HOST)'
      : `KUBECONFIG=${path}: its current context names no API server`)
  }
  return kc
}

export class KubeObjectStore implements ObjectStore {
  private readonly api: CustomObjectsApi

  constructor(kc: KubeConfig) {
    this.api = apiClient(kc, CustomObjectsApi)
  }

  async get(ref: ObjectRef, { signal }: Deadline): Promise<StoredObject | undefined> {
    try {
      return await this.api.getNamespacedCustomObject(
        { ...resources[ref.kind], namespace: ref.metadata.namespace, name: ref.metadata.name }, abortable(signal)) as StoredObject
    } catch (err) {
      if (err instanceof ApiException && err.code === 404) {
        const s = apiStatus(err)
        if (s.reason === 'NotFound' && !missingResource(s)) return undefined
      }
      throw failure(err, `reading ${describe(ref)}`, signal)
    }
  }

  /**
   * Deletes the object if it is still the one seen (its uid: a precondition the API server checks), for the
   * reconciler. True when deleted; false when it was already gone or replaced.
   */
  async delete(ref: ObjectRef, uid: string, { signal }: Deadline): Promise<boolean> {
    try {
      await this.api.deleteNamespacedCustomObject({
        ...resources[ref.kind], namespace: ref.metadata.namespace, name: ref.metadata.name,
        body: { preconditions: { uid }, propagationPolicy: 'Background' },
      }, abortable(signal))
      return true
    } catch (err) {
      if (err instanceof ApiException && (err.code === 404 || err.code === 409)) return false
      throw failure(err, `deleting ${describe(ref)}`, signal)
    }
  }

  async create(object: ManagedObject, { signal }: Deadline): Promise<'created' | 'exists'> {
    try {
      await this.api.createNamespacedCustomObject(
        { ...resources[object.kind], namespace: object.metadata.namespace, body: object }, abortable(signal))
      return 'created'
    } catch (err) {
      if (err instanceof ApiException && err.code === 409) return 'exists'
      throw failure(err, `creating ${describe(object)}`, signal)
    }
  }

  async update(object: ManagedObject, { signal }: Deadline): Promise<void> {
    try {
      await this.api.patchNamespacedCustomObject({
        ...resources[object.kind], namespace: object.metadata.namespace, name: object.metadata.name,
        body: { metadata: { annotations: object.metadata.annotations ?? {} }, spec: object.spec },
      }, abortable(signal, { 'Content-Type': PatchStrategy.MergePatch }))
    } catch (err) {
      throw failure(err, `updating ${describe(object)}`, signal)
    }
  }
}

/** Per-call options that abort the request when the signal fires (an admission's deadline, a leader's stop). */
export function abortable(signal: AbortSignal, headers: Readonly<Record<string, string>> = {}): ConfigurationOptions {
  return {
    middleware: [{
      pre: (request: RequestContext) => {
        request.setSignal(signal)
        for (const [name, value] of Object.entries(headers)) request.setHeaderParam(name, value)
        return new Observable(Promise.resolve(request))
      },
      post: (response: ResponseContext) => new Observable(Promise.resolve(response)),
    }],
    middlewareMergeStrategy: 'append',
  }
}

export interface ApiStatus {
  reason?: string
  message?: string
  details?: { name?: string, kind?: string }
}

/** The API server's Status in an error's body ({} when there is none). */
export function apiStatus(err: ApiException<unknown>): ApiStatus {
  try {
    return typeof err.body === 'string' ? JSON.parse(err.body) as ApiStatus : (err.body as ApiStatus) ?? {}
  } catch {
    return {}
  }
}

/**
 * A 404 for the resource type itself (CRD not installed) rather than for the object. The object's 404 is a Status
 * naming it (details.name); for a kind it does not serve, the API server answers "404 page not found" as plain
 * text, or, for a served group, a Status naming no object ("the server could not find the requested resource").
 */
function missingResource(s: ApiStatus): boolean {
  return s.details?.name === undefined
}

function failure(err: unknown, doing: string, signal: AbortSignal): KubernetesFailure {
  if (signal.aborted) return apiTimedOut(doing)
  if (err instanceof ApiException) {
    const s = apiStatus(err)
    const message = s.message ?? `HTTP ${err.code}`
    const answered = (code: number, reason: string, text: string) => new KubernetesFailure(code, reason, text, err.code)
    if (err.code === 403) return answered(403, 'Forbidden', `secretwire was forbidden from ${doing}: ${message}`)
    if (err.code === 404 && missingResource(s)) {
      return answered(404, 'NotFound', `${doing}: the API server does not serve this kind (are the External Secrets Operator's CRDs installed?)`)
    }
    if (err.code === 404) return answered(404, 'NotFound', `${doing}: ${message}`)
    if (err.code >= 500) return answered(503, 'ServiceUnavailable', `the Kubernetes API failed while ${doing}: ${message}`)
    return answered(err.code, s.reason ?? 'BadRequest', `${doing}: ${message}`)
  }
  const code = (err as { code?: string }).code
  return new KubernetesFailure(503, 'ServiceUnavailable',
    `the Kubernetes API is unreachable (${code ?? (err as Error).message}) while ${doing}`)
}
