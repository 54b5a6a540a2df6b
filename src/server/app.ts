// The HTTP edge, built apart from listening so tests drive it with inject() or a real HTTPS port: decode the
// AdmissionReview (anything else is a 400 that says why; 415 if not JSON, 413 if too large), hand the request to
// `admit`, write the review back.
import Fastify, { type FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import { AdmissionReviewResponseSchema, AdmissionReviewSchema, denied, reviewResponse, type AdmissionReview } from '../core/review.ts'
import type { AdmissionRequest } from '../core/review.ts'
import type { Admission } from './admit.ts'
import { AdmissionError, toStatus } from '../core/errors.ts'
import type { Metrics } from '../observe/metrics.ts'
import { drainOnClose } from './drain.ts'

/** object + oldObject of the largest object etcd stores (1.5 MiB each), with room for the envelope. */
export const maxBodyBytes = 6 * 1024 * 1024

export interface AppOptions {
  readonly admit: (request: AdmissionRequest) => Promise<Admission>
  readonly logger: Logger
  readonly https?: { readonly key: string | Buffer, readonly cert: string | Buffer }
  /** Whether admissions can be served (readiness); defaults to always. */
  readonly ready?: () => boolean
  /** Recorded per admission and served on /metrics when given. */
  readonly metrics?: Metrics
}

export function buildApp(opts: AppOptions): FastifyInstance {
  const serverOptions = {
    // No logger for fastify itself: secretwire writes one line per admission (the route, below) and one per refused
    // request (the onError hook). Given a logger, fastify makes a pino child and two response listeners for every
    // request, to log lines secretwire turns off: about 4 µs of an admission's CPU (bench/profile.ts).
    bodyLimit: maxBodyBytes,
    // Validation must never change the admitted object: no coercion, nothing removed, no defaults added.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: false } },
    schemaErrorFormatter: (errors: { instancePath?: string, message?: string }[], dataVar: string) => new Error(
      `not an admission.k8s.io/v1 AdmissionReview: ${dataVar}${errors[0]?.instancePath ?? ''} ${errors[0]?.message ?? 'is invalid'}`),
  }
  // One instance type for both: routes and tests do not care whether TLS terminates here.
  const app = (opts.https === undefined
    ? Fastify(serverOptions)
    : Fastify({ ...serverOptions, https: { key: opts.https.key, cert: opts.https.cert } })) as unknown as FastifyInstance

  // Closing answers what is in flight and then waits on no connection (see drain.ts).
  drainOnClose(app)

  // Fastify parses text/plain into a string by default, which then failed the schema with a 400 ("body must be
  // object"); an AdmissionReview is only ever JSON, so every other content type gets 415 Unsupported Media Type.
  app.removeContentTypeParser('text/plain')

  // What fastify's own logger wrote for a refused request (a 4xx: not JSON, too large, not an AdmissionReview;
  // a 5xx: a bug), now written here. Runs only when a request fails.
  app.addHook('onError', async (req, _reply, error) => {
    // The hook runs before fastify sets the status; this is how it will (fastify's setErrorStatusCode).
    const given = (error as { statusCode?: number }).statusCode ?? 0
    const status = given >= 400 ? given : 500
    if (status >= 500) {
      opts.logger.error({ method: req.method, url: req.url, statusCode: status, err: error }, 'request failed')
      return
    }
    // Of a refused body, what is wrong, never what it held: a schema error names the field; a JSON parse error's
    // message quotes the body, so only its code is kept.
    const reason = (error as { validation?: unknown }).validation !== undefined ? error.message : undefined
    opts.logger.info({ method: req.method, url: req.url, statusCode: status, code: (error as { code?: string }).code, ...(reason && { reason }) }, 'request refused')
  })

  app.post<{ Body: AdmissionReview }>('/mutate', { schema: { body: AdmissionReviewSchema, response: { 200: AdmissionReviewResponseSchema } } }, async (req) => {
    const started = process.hrtime.bigint()
    const { request } = req.body
    const admission = await admitted(opts.admit, request)
    const ms = Number(process.hrtime.bigint() - started) / 1e6
    opts.metrics?.recordAdmission(request, admission, ms / 1000)
    logAdmission(opts.logger, request, admission, ms)
    return reviewResponse(admission.response)
  })

  const { metrics } = opts
  if (metrics !== undefined) {
    app.get('/metrics', async (_req, reply) => reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()))
  }

  app.get('/healthz', async () => 'ok')
  app.get('/readyz', async (_req, reply) => {
    if (opts.ready !== undefined && !opts.ready()) return reply.code(503).send('not ready')
    return 'ok'
  })
  return app
}

/**
 * `admit` answers every failure with a denial itself; this catches what escapes it anyway (a bug in the caller's
 * wrapper), so the API server still gets a review with its uid and secretwire's generic 500 denial, and the
 * failure is logged at error like any other, instead of fastify's 500 page carrying the error's message.
 */
async function admitted(admit: AppOptions['admit'], request: AdmissionRequest): Promise<Admission> {
  try {
    return await admit(request)
  } catch (error) {
    return { response: denied(request.uid, toStatus(error)), error }
  }
}

function logAdmission(log: Logger, request: AdmissionRequest, admission: Admission, durationMs: number): void {
  const { response, plan, ensured, error, waived } = admission
  const unexpected = error !== undefined && !(error instanceof AdmissionError)
  // Info is for what changes the cluster or needs a person: objects created, denials, failures; warn for a
  // denial waived on an update (the workload is drifting from what secretwire would admit). A routine patch is
  // at debug, as in controller-runtime: at cluster scale it is a line per Pod, the API server's audit log
  // records every webhook patch, and secretwire_admissions_total counts them.
  const level = unexpected ? 'error' : waived !== undefined ? 'warn'
    : !response.allowed || (ensured?.created.length ?? 0) + (ensured?.updated.length ?? 0) > 0 ? 'info' : 'debug'
  if (!log.isLevelEnabled(level)) return
  const metadata = (request.object?.metadata ?? {}) as { name?: string, generateName?: string }
  const entry = {
    uid: request.uid,
    kind: request.kind.kind,
    namespace: request.namespace,
    name: request.name || metadata.name || metadata.generateName,
    operation: request.operation,
    dryRun: request.dryRun === true,
    allowed: response.allowed,
    ...(response.status && { code: response.status.code, reason: response.status.message }),
    ...(waived && { waived: { code: waived.code, reason: waived.message } }),
    ...(plan?.wire && { sharedSecrets: plan.sharedSecrets, patched: plan.patch.length > 0 }),
    ...(ensured && { created: ensured.created.length, ...(ensured.updated.length > 0 && { updated: ensured.updated.length }) }),
    durationMs: Math.round(durationMs * 100) / 100,
    ...(unexpected && { err: error }),
  }
  const message = unexpected ? 'admission failed unexpectedly' : waived !== undefined ? 'admitted despite a denial: the update changes no shared secret'
    : !response.allowed ? 'denied' : response.patch === undefined ? 'admitted unchanged' : 'admitted'
  log[level](entry, message)
}
