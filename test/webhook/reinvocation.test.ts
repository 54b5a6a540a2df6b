// Room: src/core/plan.ts through the API server
// Re-invocation: when a webhook after secretwire changes the object, the API server calls secretwire again
// (reinvocationPolicy: IfNeeded). The second call must not wire anything twice and must create nothing; it wires
// only what is new (here a sidecar container, since by default every container is wired).
import { createServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import { CoreV1Api } from '@kubernetes/client-node'
import t from 'tap'
import { loopbackCert } from '../helpers/certs.ts'
import { freshNamespace, kubeConfig } from '../helpers/cluster.ts'
import { annotated, pod } from '../helpers/objects.ts'
import { startSecretwire } from '../helpers/secretwire.ts'
import { untilWebhookAnswers } from '../../tools/cluster/webhook.ts'
import { podCreate, registerMutatingWebhook } from '../helpers/webhook.ts'

t.test('secretwire called again after another webhook mutates the Pod', async (t) => {
  const kc = await kubeConfig()
  const namespace = await freshNamespace(t, kc)
  // Webhooks run in configuration name order: secretwire ("a-...") first, the sidecar injector ("b-...") after.
  const sw = await startSecretwire(t, kc, { namespaces: [namespace], webhookName: `a-secretwire-${namespace}` })

  // Another injector, like Istio's or Vault's, adds a sidecar container.
  const tls = await loopbackCert()
  const sidecar = createServer({ cert: tls.cert, key: tls.key }, (req, res) => {
    let body = ''
    req.setEncoding('utf8').on('data', (c: string) => { body += c }).on('end', () => {
      const review = JSON.parse(body) as { request: { uid: string, object: { spec: { containers: { name: string }[] } } } }
      const has = review.request.object.spec.containers.some((c) => c.name === 'sidecar')
      const patch = has ? [] : [{ op: 'add', path: '/spec/containers/-', value: { name: 'sidecar', image: 'proxy' } }]
      res.setHeader('content-type', 'application/json')
      res.end(JSON.stringify({
        apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview',
        response: { uid: review.request.uid, allowed: true, ...(has ? {} : { patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify(patch)).toString('base64') }) },
      }))
    })
  })
  await new Promise<void>((res) => sidecar.listen(0, '127.0.0.1', res))
  t.teardown(() => new Promise<void>((res) => sidecar.close(() => res())))
  await registerMutatingWebhook(t, kc, {
    name: `b-sidecar-${namespace}`, namespaces: [namespace], rules: podCreate,
    url: `https://127.0.0.1:${(sidecar.address() as AddressInfo).port}/`, caBundle: tls.caBundle,
  })
  const core = kc.makeApiClient(CoreV1Api)
  await untilWebhookAnswers(async () => {
    const probe = await core.createNamespacedPod({ namespace, dryRun: 'All', body: pod({ name: 'probe' }) })
    return probe.spec?.containers.some((c) => c.name === 'sidecar') === true
  })

  const before = sw.admissions.length
  const stored = await core.createNamespacedPod({ namespace, body: pod({ name: 'web', annotations: annotated('db'), containers: [{ name: 'web', image: 'x' }] }) })
  const calls = sw.admissions.slice(before).filter((a) => a.request.object?.metadata && (a.request.object.metadata as { name?: string }).name === 'web')
  t.equal(calls.length, 2, 'secretwire was invoked twice for the Pod')
  t.ok(calls[0]?.admission.response.patch, 'the first call patched')
  const env = [{ name: 'DB', valueFrom: { secretKeyRef: { name: 'secretwire-db', key: 'password' } } }]
  const second = JSON.parse(Buffer.from(calls[1]?.admission.response.patch ?? '', 'base64').toString()) as unknown
  t.same(second, [{ op: 'add', path: '/spec/containers/1/env', value: env }], 'the second call wired only the new sidecar')
  t.same(calls[1]?.admission.ensured?.created, [], 'and created nothing')
  t.same(stored.spec?.containers.map((c) => [c.name, c.env]), [['web', env], ['sidecar', env]], 'each container wired once')

  const restricted = await core.createNamespacedPod({ namespace, body: pod({ name: 'only-web', annotations: annotated('db', 'web'), containers: [{ name: 'web', image: 'x' }] }) })
  t.same(restricted.spec?.containers.map((c) => [c.name, c.env]), [['web', env], ['sidecar', undefined]],
    'with secretwire.io/containers the injected sidecar stays unwired')
})
