// `secretwire serve`: wires configuration, logger, certificate and Kubernetes client into the app and listens.
// The only module with process-level side effects (signals, listening).
import pino from 'pino'
import { admit } from './admit.ts'
import { buildApp } from './app.ts'
import { loadConfig } from './config.ts'
import { KubeObjectStore, loadKubeConfig } from './kube.ts'
import { servingKeyPair } from './tls.ts'

export async function serve(env: NodeJS.ProcessEnv): Promise<void> {
  const config = loadConfig(env)
  const logger = pino({ level: config.logLevel, base: { service: 'secretwire' } })
  const store = new KubeObjectStore(loadKubeConfig(config.kubeconfig))
  const app = buildApp({
    logger,
    https: await servingKeyPair(config, logger),
    admit: (request) => admit(request, { settings: config, store }),
  })
  const stop = async (signal: string) => {
    logger.info({ signal }, 'shutting down')
    await app.close()
    process.exit(0)
  }
  process.once('SIGTERM', stop).once('SIGINT', stop)
  await app.listen({ port: config.port, host: '::' })
  logger.info({ port: config.port, strategy: config.strategy, inject: config.inject, storageNamespace: config.storageNamespace }, 'serving admissions')
}
