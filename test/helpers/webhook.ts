// Registers webhooks with the local API server, scoped to one test namespace so parallel test files never see
// each other's webhooks.
import { AdmissionregistrationV1Api, type KubeConfig, type V1MutatingWebhook } from '@kubernetes/client-node'
import type { Test } from 'tap'

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

/** What deploy/ registers secretwire for: Pods at creation, workloads at creation and update. */
export const secretwireRules: V1MutatingWebhook['rules'] = [
  ...podCreate!,
  { apiGroups: ['apps'], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['deployments', 'statefulsets', 'daemonsets', 'replicasets'] },
  { apiGroups: ['batch'], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['jobs', 'cronjobs'] },
]

export async function registerMutatingWebhook(t: Test, kc: KubeConfig, reg: WebhookRegistration): Promise<string> {
  const api = kc.makeApiClient(AdmissionregistrationV1Api)
  const name = reg.name ?? `test-${reg.namespaces[0]}`
  await api.createMutatingWebhookConfiguration({
    body: {
      metadata: { name },
      webhooks: [{
        name: 'mutate.secretwire.test',
        admissionReviewVersions: ['v1'],
        sideEffects: 'NoneOnDryRun',
        failurePolicy: reg.failurePolicy ?? 'Fail',
        timeoutSeconds: reg.timeoutSeconds ?? 5,
        reinvocationPolicy: 'IfNeeded',
        clientConfig: { url: reg.url, caBundle: reg.caBundle },
        namespaceSelector: {
          matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'In', values: [...reg.namespaces] }],
        },
        rules: reg.rules ?? podCreate,
      }],
    },
  })
  t.teardown(async () => { await api.deleteMutatingWebhookConfiguration({ name }).catch(() => undefined) })
  return name
}
