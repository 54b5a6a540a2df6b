// Registers webhooks with the local API server, scoped to one test namespace so parallel test files never see
// each other's webhooks.
import { AdmissionregistrationV1Api, type KubeConfig, type V1MutatingWebhook } from '@kubernetes/client-node'
import type { Test } from 'tap'
import { webhookConfiguration } from '../../src/manifests/webhook.ts'

export interface WebhookRegistration {
  /** Configuration name; webhooks run in name order. Default: test-NAMESPACE. */
  readonly name?: string
  /** The webhook sees only objects in these namespaces. */
  readonly namespaces: readonly string[]
  readonly url: string
  readonly caBundle: string
  readonly rules?: V1MutatingWebhook['rules']
  readonly timeoutSeconds?: number
  readonly failurePolicy?: 'Fail' | 'Ignore'
}

export const podCreate: V1MutatingWebhook['rules'] = [
  { apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'] },
]

export interface SecretwireRegistration {
  /** Configuration name; default secretwire-NAMESPACE. */
  readonly name?: string
  readonly namespaces: readonly string[]
  readonly url: string
  readonly caBundle: string
  /** Default Fail, unlike the shipped Ignore: a test must see a webhook that failed, not an object let through unwired. */
  readonly failurePolicy?: 'Fail' | 'Ignore'
}

/**
 * Registers secretwire as deploy/ does: the webhook generated from the contract (src/manifests/webhook.ts, the
 * same object deploy/ ships), so its rules and matchConditions are exercised as shipped. Only where it is sent
 * (a URL on loopback instead of the Service) and the namespaces it covers (this test's) differ.
 */
export async function registerSecretwireWebhook(t: Test, kc: KubeConfig, reg: SecretwireRegistration): Promise<string> {
  const shipped = webhookConfiguration().object.webhooks![0]!
  return register(t, kc, reg.name ?? `secretwire-${reg.namespaces[0]}`, {
    ...shipped,
    failurePolicy: reg.failurePolicy ?? 'Fail',
    clientConfig: { url: reg.url, caBundle: reg.caBundle },
    namespaceSelector: onlyNamespaces(reg.namespaces),
  })
}

export async function registerMutatingWebhook(t: Test, kc: KubeConfig, reg: WebhookRegistration): Promise<string> {
  return register(t, kc, reg.name ?? `test-${reg.namespaces[0]}`, {
    name: 'mutate.secretwire.test',
    admissionReviewVersions: ['v1'],
    sideEffects: 'NoneOnDryRun',
    failurePolicy: reg.failurePolicy ?? 'Fail',
    timeoutSeconds: reg.timeoutSeconds ?? 5,
    reinvocationPolicy: 'IfNeeded',
    clientConfig: { url: reg.url, caBundle: reg.caBundle },
    namespaceSelector: onlyNamespaces(reg.namespaces),
    rules: reg.rules ?? podCreate,
  })
}

const onlyNamespaces = (namespaces: readonly string[]) =>
  ({ matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'In', values: [...namespaces] }] })

/** Creates a configuration of one webhook, deleted by the test's teardown. */
async function register(t: Test, kc: KubeConfig, name: string, webhook: V1MutatingWebhook): Promise<string> {
  const api = kc.makeApiClient(AdmissionregistrationV1Api)
  await api.createMutatingWebhookConfiguration({ body: { metadata: { name }, webhooks: [webhook] } })
  t.teardown(async () => { await api.deleteMutatingWebhookConfiguration({ name }).catch(() => undefined) })
  return name
}
