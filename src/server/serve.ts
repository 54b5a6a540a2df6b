// `secretwire serve`: wires configuration, logger, metrics, certificate and Kubernetes client into the app and
// listens. The only module with process-level side effects (signals, listening, file watches).
import type { Server } from 'node:https'
import type { AddressInfo } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import pino from 'pino'
import { admit } from './admit.ts'
import { buildApp } from './app.ts'
import { CachedStore, startInformers } from '../kube/cache.ts'
import { loadConfig } from '../config/settings.ts'
import { deadline, withinDeadline } from '../util/deadline.ts'
import { KubeObjectStore, loadKubeConfig } from '../kube/client.ts'
import { createMetrics } from '../observe/metrics.ts'
import { watchPolicy } from '../config/policyfile.ts'
import { eventRecorder } from '../observe/events.ts'
import { startReconciler } from '../reconcile/loop.ts'
import { servingKeyPair, watchKeyPair } from './tls.ts'

export async function serve(env: NodeJS.ProcessEnv): Promise<void> {
  const config = loadConfig(env)
  // Asynchronous writes: a slow stdout pipe must not stall admissions; under load, lines batch into fewer writes.
  const logs = pino.destination({ dest: 1, sync: false })
  const logger = pino({ level: config.logLevel, base: { service: 'secretwire' } }, logs)
  const metrics = createMetrics()
  const kc = loadKubeConfig(config.kubeconfig)
  const keyPair = await servingKeyPair(config, logger)
  metrics.recordCertificate(keyPair.cert)
  // Admissions are served from the watch cache: ready only once it has listed what exists.
  const informers = await startInformers(kc, config.storageNamespace, logger)
  metrics.observeCache(() => informers.size())
  // Outside the instrumentation, so the metrics count only requests that reach the API server.
  const kube = new KubeObjectStore(kc)
  const store = new CachedStore(informers, metrics.instrument(kube))
  // Every replica watches; the one holding the Lease reconciles (src/reconcile).
  const reconciler = config.leaseNamespace === undefined ? undefined : startReconciler({
    kc, config, informers, store, kube, metrics, log: logger,
    events: eventRecorder(kc, process.env.POD_NAME ?? 'secretwire', logger),
  }, config.leaseNamespace)

  let serving = false
  const app = buildApp({
    logger, metrics,
    https: keyPair,
    ready: () => serving && informers.synced,
    admit: (request) => admit(request, { settings: config, store }),
  })
  const certificates = config.tls && watchKeyPair(config.tls, keyPair, (pair) => {
    // New connections get the new certificate; open ones keep theirs.
    (app.server as Server).setSecureContext(pair)
    metrics.recordCertificate(pair.cert)
  }, logger)
  if (config.policyFile === undefined) logger.warn('SECRETWIRE_CONFIG is not set: every namespace may use every shared secret')
  const policy = config.policyFile === undefined
    ? undefined
    : watchPolicy(config.policyFile, config.policy, logger, (ok) => metrics.recordPolicyReload(ok))

  // Not ready first, so endpoints drop this replica; then stop accepting and let in-flight admissions finish.
  const shutdown = async (signal: string) => {
    serving = false
    logger.info({ signal, delayMs: config.shutdownDelayMs }, 'shutting down: not ready, draining')
    await sleep(config.shutdownDelayMs)
    certificates?.stop()
    policy?.stop()
    // Stopping the reconciler waits for its Lease round and releases the Lease, each call bounded by the renew
    // deadline (10 s). An API server that does not answer must not keep this replica taking connections, nor
    // alive near the kubelet's kill, so closing does not wait for them, and exiting waits only so long (then the
    // Lease simply expires for the standbys).
    await Promise.all([
      app.close(),
      within(stopBudgetMs, reconciler?.stop(), () => logger.warn({ budgetMs: stopBudgetMs }, 'the reconciler did not stop in time; exiting without releasing its Lease')),
    ])
    await within(stopBudgetMs, informers.stop(), () => logger.warn({ budgetMs: stopBudgetMs }, 'the watches did not stop in time; exiting'))
    logger.info('stopped')
    logs.flushSync()
    process.exit(0)
  }
  process.once('SIGTERM', (s) => void shutdown(s)).once('SIGINT', (s) => void shutdown(s))

  await app.listen({ port: config.port, host: '::' })
  serving = true
  logger.info({
    // The port bound, read back from the socket: what a client (or a test) connects to.
    port: (app.server.address() as AddressInfo).port, strategy: config.strategy,
    ...(config.strategy === 'push' ? { pushUpdatePolicy: config.pushUpdatePolicy } : {}), inject: config.inject,
    storageNamespace: config.storageNamespace, clusterSecretStore: config.clusterSecretStore,
    policy: config.policyFile ?? 'none: every namespace may use every NAME',
  }, 'serving admissions')
}

/** How long exiting waits for the reconciler and the watches: well inside the Deployment's grace period. */
const stopBudgetMs = 5_000

/** Waits for `done` at most `ms`; past that, calls `late` and returns. */
async function within(ms: number, done: Promise<void> | undefined, late: () => void): Promise<void> {
  if (done === undefined) return
  const timedOut = new Error('late')
  await withinDeadline(done, deadline(ms), () => timedOut).catch((err: unknown) => {
    if (err !== timedOut) throw err
    late()
  })
}
