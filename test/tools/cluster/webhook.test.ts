// Room: tools/cluster/webhook.ts
// The API server calls a webhook over HTTPS at https://127.0.0.1:PORT and applies the patch it returns.
import { createServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import { CoreV1Api, type V1Pod } from '@kubernetes/client-node'
import t from 'tap'
import { loopbackCert } from '../../helpers/certs.ts'
import { freshNamespace, kubeConfig } from '../../helpers/cluster.ts'
import { untilWebhookAnswers } from '../../../tools/cluster/webhook.ts'
import { registerMutatingWebhook } from '../../helpers/webhook.ts'

t.test('a Pod created through the API server comes back mutated by a registered webhook', async (t) => {
  const kc = await kubeConfig()
  const core = kc.makeApiClient(CoreV1Api)
  const namespace = await freshNamespace(t, kc)
  const tls = await loopbackCert()

  const seen: Array<{ uid: string, dryRun: boolean, name: string }> = []
  const server = createServer({ cert: tls.cert, key: tls.key }, (req, res) => {
    let body = ''
    req.setEncoding('utf8').on('data', (chunk: string) => { body += chunk }).on('end', () => {
      const review = JSON.parse(body) as { request: { uid: string, dryRun: boolean, object: V1Pod } }
      seen.push({ uid: review.request.uid, dryRun: review.request.dryRun, name: review.request.object.metadata?.name ?? '' })
      const patch = [{ op: 'add', path: '/metadata/labels', value: { mutated: 'yes' } }]
      res.setHeader('content-type', 'application/json')
      res.end(JSON.stringify({
        apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview',
        response: { uid: review.request.uid, allowed: true, patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify(patch)).toString('base64') },
      }))
    })
  })
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res))
  t.teardown(() => new Promise<void>((res) => server.close(() => res())))
  const { port } = server.address() as AddressInfo

  await registerMutatingWebhook(t, kc, { namespaces: [namespace], url: `https://127.0.0.1:${port}/mutate`, caBundle: tls.caBundle })
  const pod = (name: string): V1Pod => ({ metadata: { name }, spec: { containers: [{ name: 'c', image: 'busybox' }] } })
  await untilWebhookAnswers(async () => {
    const probe = await core.createNamespacedPod({ namespace, body: pod('probe'), dryRun: 'All' })
    return probe.metadata?.labels?.mutated === 'yes'
  })

  await core.createNamespacedPod({ namespace, body: pod('real') })
  const stored = await core.readNamespacedPod({ namespace, name: 'real' })
  t.same(stored.metadata?.labels, { mutated: 'yes' }, 'the stored Pod carries the patch')
  const call = seen.find((s) => s.name === 'real')
  t.ok(call, 'the webhook saw the Pod')
  t.equal(call?.dryRun, false)
  t.ok(seen.some((s) => s.name === 'probe' && s.dryRun), 'dry-run probes reached it marked dryRun')
})
