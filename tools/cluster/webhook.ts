// Waiting for a webhook to be in effect: the API server learns of a new webhook configuration through an
// informer, a moment after the create returns, and the server behind it may still be starting.
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node'

/** Polls `probe` (typically a dry-run create that should come back mutated) until it says the webhook answers. */
export async function untilWebhookAnswers(probe: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (await probe()) return
    if (Date.now() > deadline) throw new Error(`webhook not in effect after ${timeoutMs} ms`)
    await new Promise((res) => setTimeout(res, 100))
  }
}

/**
 * Until secretwire answers for pods in the namespace: an invalid annotation is refused before any policy or API
 * call, the surest sign it is secretwire that answered.
 */
export async function untilSecretwireAnswers(kc: KubeConfig, namespace: string, prefix = 'secretwire.io', timeoutMs?: number): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api)
  await untilWebhookAnswers(() => core.createNamespacedPod({
    namespace, dryRun: 'All',
    body: { metadata: { name: 'probe', annotations: { [`${prefix}/shared-secret`]: 'Not-A-Name' } }, spec: { containers: [{ name: 'c', image: 'x' }] } },
  }).then(() => false, (err: { body?: string }) => String(err.body).includes('is not a valid NAME')), timeoutMs)
}
