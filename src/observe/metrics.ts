// Prometheus metrics. Label values come from small closed sets (admitted kinds, outcomes, ESO kinds, HTTP codes),
// never from user input, so series cannot grow without bound.
import { X509Certificate } from 'node:crypto'
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import type { AdmissionRequest } from '../core/review.ts'
import { AdmissionError, KubernetesFailure, ObjectInTheWay } from '../core/errors.ts'
import { resources, type ManagedKind, type ObjectRef } from '../core/esoobjects.ts'
import type { ObjectStore } from '../kube/client.ts'
import { PlainCounter, PlainHistogram, type CounterSeries, type HistogramSeries } from './series.ts'
import { workloadKind } from '../core/workload.ts'

/** What the metrics read of one admission (the handler's outcome, admit.ts `Admission`). */
export interface AdmissionRecord {
  readonly response: { readonly allowed: boolean, readonly patch?: string }
  readonly ensured?: { readonly created: readonly { readonly kind: ManagedKind }[] }
  readonly error?: unknown
  readonly waived?: AdmissionError
}

export interface Metrics {
  readonly registry: Registry
  recordAdmission(request: AdmissionRequest, admission: AdmissionRecord, seconds: number): void
  recordCertificate(certPem: string): void
  recordPolicyReload(ok: boolean): void
  /** Whether this replica holds the reconciler's Lease. */
  recordLeading(leading: boolean): void
  recordReconciled(action: 'recreated' | 'collected'): void
  /** A reconcile round has ended (leader only). */
  recordRound(): void
  /** Consumer ExternalSecrets by ESO's sync state, as of the last reconcile. */
  recordSharedSecrets(states: Readonly<Record<'synced' | 'pending' | 'failed', number>>): void
  /** The store, with every API request counted and timed. */
  instrument(store: ObjectStore): ObjectStore
  /** Reports the watch cache's size on every scrape. */
  observeCache(size: () => Readonly<Record<string, number>>): void
}

const latencyBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]

export function createMetrics(): Metrics {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
  // Recorded on every admission: plain numbers until a scrape (series.ts).
  const admissions = new PlainCounter('secretwire_admissions_total',
    'Admission requests answered, by kind, operation and outcome (allowed, patched, denied, error; waived: an update that changed no secretwire annotation, admitted despite a denial).',
    registry)
  const admissionDuration = new PlainHistogram('secretwire_admission_duration_seconds',
    'Time from a decoded AdmissionReview to its answer, ensure included.', registry, latencyBuckets)
  const creates = new Counter({
    name: 'secretwire_ensure_creates_total',
    help: 'ESO objects created by ensure, by kind.',
    labelNames: ['kind'] as const,
    registers: [registry],
  })
  const ensureErrors = new Counter({
    name: 'secretwire_ensure_errors_total',
    help: 'Admissions denied because ensure failed, by reason (Forbidden, Timeout, ServiceUnavailable, Conflict, ...).',
    labelNames: ['reason'] as const,
    registers: [registry],
  })
  const apiRequests = new Counter({
    name: 'secretwire_kube_api_requests_total',
    help: 'Requests to the Kubernetes API, by verb, resource and HTTP status code (0: no answer).',
    labelNames: ['verb', 'resource', 'code'] as const,
    registers: [registry],
  })
  const apiDuration = new Histogram({
    name: 'secretwire_kube_api_request_duration_seconds',
    help: 'Latency of requests to the Kubernetes API, by verb and resource.',
    labelNames: ['verb', 'resource'] as const,
    buckets: latencyBuckets,
    registers: [registry],
  })
  let cacheSize: () => Readonly<Record<string, number>> = () => ({})
  new Gauge({
    name: 'secretwire_cache_objects',
    help: 'Managed objects held by the watch cache, by kind.',
    labelNames: ['kind'] as const,
    registers: [registry],
    collect() {
      for (const [kind, n] of Object.entries(cacheSize())) this.set({ kind }, n)
    },
  })
  const certExpiry = new Gauge({
    name: 'secretwire_tls_certificate_expiry_timestamp_seconds',
    help: 'When the serving certificate in use expires (Unix time).',
    registers: [registry],
  })

  const policyReloads = new Counter({
    name: 'secretwire_policy_reloads_total',
    help: 'Changes of the policy file seen, by result (ok: in force; error: unusable, the previous policy stays).',
    labelNames: ['result'] as const,
    registers: [registry],
  })

  const leading = new Gauge({
    name: 'secretwire_reconciler_leading',
    help: '1 while this replica holds the Lease secretwire-reconciler and reconciles, else 0.',
    registers: [registry],
  })
  const reconciled = new Counter({
    name: 'secretwire_reconciled_objects_total',
    help: 'Objects the reconciler acted on, by action (recreated: missing for a live consumer; collected: deleted after the grace period).',
    labelNames: ['action'] as const,
    registers: [registry],
  })
  // A leader whose rounds stop is otherwise silent (95e6cbb: one that led before its watches listed never ran one).
  const lastRound = new Gauge({
    name: 'secretwire_reconciler_last_round_timestamp_seconds',
    help: 'Unix time the last reconcile round on this replica ended; with secretwire_reconciler_leading 1, it should stay within a few SECRETWIRE_RECONCILE_INTERVAL_SECONDS of now.',
    registers: [registry],
  })
  const sharedSecrets = new Gauge({
    name: 'secretwire_consumer_externalsecrets',
    help: 'The ExternalSecrets secretwire made in workload namespaces, by ESO\'s sync state (synced, pending, failed), as of the last reconcile (leader only).',
    labelNames: ['state'] as const,
    registers: [registry],
  })

  const perLabels = new Map<string, { count: CounterSeries, duration: HistogramSeries }>()

  async function timed<T>(verb: string, ref: ObjectRef, call: () => Promise<T>, code: (result: T) => number): Promise<T> {
    const resource = resources[ref.kind].plural
    const end = apiDuration.startTimer({ verb, resource })
    try {
      const result = await call()
      apiRequests.inc({ verb, resource, code: code(result) })
      return result
    } catch (err) {
      apiRequests.inc({ verb, resource, code: err instanceof KubernetesFailure ? err.httpStatus ?? 0 : 0 })
      throw err
    } finally {
      end()
    }
  }

  return {
    registry,
    recordAdmission(request, admission, seconds) {
      const kind = workloadKind(request.kind.group, request.kind.kind)?.kind ?? 'other'
      const { response, ensured, error, waived } = admission
      const outcome = error !== undefined && !(error instanceof AdmissionError)
        ? 'error'
        : !response.allowed ? 'denied' : waived !== undefined ? 'waived' : response.patch !== undefined ? 'patched' : 'allowed'
      // Label sets are few and closed: each one's series is looked up by a key of our own, made once.
      const key = `${kind} ${request.operation} ${outcome}`
      let series = perLabels.get(key)
      if (series === undefined) {
        series = { count: admissions.series({ kind, operation: request.operation, outcome }), duration: admissionDuration.series({ kind }) }
        perLabels.set(key, series)
      }
      series.count.inc()
      series.duration.observe(seconds)
      for (const o of ensured?.created ?? []) creates.inc({ kind: o.kind })
      const failed = error ?? waived
      if (failed instanceof KubernetesFailure || failed instanceof ObjectInTheWay) ensureErrors.inc({ reason: failed.reason })
    },
    recordCertificate(certPem) {
      certExpiry.set(Math.floor(new Date(new X509Certificate(certPem).validTo).getTime() / 1000))
    },
    recordLeading(value) {
      leading.set(value ? 1 : 0)
    },
    recordReconciled(action) {
      reconciled.inc({ action })
    },
    recordRound() {
      lastRound.set(Date.now() / 1000)
    },
    recordSharedSecrets(states) {
      for (const [state, n] of Object.entries(states)) sharedSecrets.set({ state }, n)
    },
    recordPolicyReload(ok) {
      policyReloads.inc({ result: ok ? 'ok' : 'error' })
    },
    observeCache(size) {
      cacheSize = size
    },
    instrument(store) {
      return {
        get: (ref, deadline) => timed('get', ref, () => store.get(ref, deadline), (found) => (found === undefined ? 404 : 200)),
        create: (object, deadline) => timed('create', object, () => store.create(object, deadline), (r) => (r === 'created' ? 201 : 409)),
        update: (object, deadline) => timed('patch', object, () => store.update(object, deadline), () => 200),
      }
    },
  }
}
