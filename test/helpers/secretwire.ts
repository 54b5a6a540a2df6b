// Runs the real secretwire app in the test process, serving HTTPS on 127.0.0.1, registered with the local API
// server as the mutating webhook for the test's namespaces, talking to that API server for its ensures.
import type { AddressInfo } from 'node:net'
import type { KubeConfig } from '@kubernetes/client-node'
import pino from 'pino'
import type { Test } from 'tap'
import type { AdmissionRequest } from '../../src/core/review.ts'
import { admit, type Admission } from '../../src/server/admit.ts'
import { buildApp } from '../../src/server/app.ts'
import type { Config } from '../../src/config/settings.ts'
import { CachedStore, startInformers } from '../../src/kube/cache.ts'
import { KubeObjectStore, type ObjectStore } from '../../src/kube/client.ts'
import { loopbackCert } from './certs.ts'
import { freshNamespace } from './cluster.ts'
import { settings as loadSettings } from './objects.ts'
import { untilSecretwireAnswers } from '../../tools/cluster/webhook.ts'
import { registerSecretwireWebhook } from './webhook.ts'

export interface Secretwire {
  readonly settings: Config
  readonly url: string
  /** The CA bundle that makes the API server trust `url`. */
  readonly caBundle: string
  /** Every admission secretwire answered, in order. */
  readonly admissions: { request: AdmissionRequest, admission: Admission }[]
}

export interface SecretwireOptions {
  /** Namespaces the webhook is registered for. */
  readonly namespaces: readonly string[]
  /** Settings as environment variables; SECRETWIRE_STORAGE_NAMESPACE defaults to a fresh namespace. */
  readonly env?: Record<string, string>
  readonly files?: Record<string, string>
  /** Who secretwire talks to the API server as; default the test's admin. */
  readonly identity?: KubeConfig
  readonly store?: ObjectStore
  readonly webhookName?: string
  /** False: register no webhook (the caller points one at `url`, e.g. deploy/'s own configuration). */
  readonly register?: boolean
}

export async function startSecretwire(t: Test, kc: KubeConfig, opts: SecretwireOptions): Promise<Secretwire> {
  const env = { ...opts.env }
  env.SECRETWIRE_STORAGE_NAMESPACE ??= await freshNamespace(t, kc, 'store')
  const settings = loadSettings(env, opts.files)
  const logger = pino({ level: 'silent' })
  // As `secretwire serve` wires it: the watch cache in front of the API.
  const informers = await startInformers(opts.identity ?? kc, settings.storageNamespace, logger)
  t.teardown(() => informers.stop())
  const store = opts.store ?? new CachedStore(informers, new KubeObjectStore(opts.identity ?? kc))
  const admissions: Secretwire['admissions'] = []
  const tls = await loopbackCert()
  const app = buildApp({
    logger,
    https: tls,
    admit: async (request) => {
      const admission = await admit(request, { settings, store })
      admissions.push({ request, admission })
      return admission
    },
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  const url = `https://127.0.0.1:${(app.server.address() as AddressInfo).port}/mutate`

  if (opts.register !== false) {
    await registerSecretwireWebhook(t, kc, {
      name: opts.webhookName ?? `test-${opts.namespaces[0]}`,
      namespaces: opts.namespaces, url, caBundle: tls.caBundle,
    })
    for (const namespace of opts.namespaces) await untilSecretwireAnswers(kc, namespace)
  }
  return { settings, url, caBundle: tls.caBundle, admissions }
}
