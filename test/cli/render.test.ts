// Room: src/cli/render.ts
// render: the webhook's planner applied to manifests, with no cluster.
import t from 'tap'
import { InvalidAnnotation, InvalidObject } from '../../src/core/errors.ts'
import { plan } from '../../src/core/plan.ts'
import { render } from '../../src/cli/render.ts'
import { annotated, pod, request, settings, workload } from '../helpers/objects.ts'

const s = settings()

t.test('documents come back as admission would store them, with each ESO object once', async (t) => {
  const service = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web' }, spec: { ports: [{ port: 80 }] } }
  const docs = [
    workload('Deployment', { name: 'web', namespace: 'shop', annotations: annotated('db') }),
    service,
    null,
    workload('CronJob', { name: 'backup', namespace: 'shop', annotations: annotated('db=PGPASSWORD') }),
    pod({ name: 'debug', annotations: annotated('db') }),
  ]
  const out = render(docs, 'default', s)
  const env = (name: string) => [{ name, valueFrom: { secretKeyRef: { name: 'secretwire-db', key: 'password' } } }]
  const [deployment, svc, nothing, cron, debug] = out.documents as typeof docs
  t.same(deployment?.spec.template.spec.containers[0].env, env('DB'))
  t.same(cron?.spec.jobTemplate.spec.template.spec.containers[0].env, env('PGPASSWORD'))
  t.same(debug?.spec.containers[0].env, env('DB'))
  t.same(svc, service, 'other kinds pass through')
  t.equal(nothing, null)
  t.same(docs[0]?.spec.template.spec.containers[0].env, undefined, 'the input is not modified')
  t.same(out.ensure.map((o) => `${o.kind} ${o.metadata.namespace}/${o.metadata.name}`), [
    'Password eso-secret-storage/secretwire-db', 'ExternalSecret eso-secret-storage/secretwire-db',
    'ExternalSecret shop/secretwire-db', 'ExternalSecret default/secretwire-db',
  ], 'namespace from the manifest, else the one given')
})

t.test('the same denial as the webhook', async (t) => {
  const bad = workload('Deployment', { annotations: annotated('db', 'missing') })
  const thrown = (f: () => unknown) => {
    try {
      f()
    } catch (err) {
      return err as Error
    }
    return undefined
  }
  const webhook = thrown(() => plan(request(bad), s))
  const rendered = thrown(() => render([bad], 'default', s))
  t.type(webhook, InvalidAnnotation, 'the webhook denies it')
  t.type(rendered, InvalidAnnotation, 'render too')
  t.equal(rendered?.message, webhook?.message, 'with the same message')
  t.equal(rendered?.message, 'annotation secretwire.io/containers: "missing": this Deployment has no container or init container named "missing"')
  // Exact type and message: tap's `{ message: '...' }` pattern only checks that the message contains the string.
  for (const [i, doc] of [{ kind: 'Pod' }, 'text'].entries()) {
    const err = thrown(() => render([{ apiVersion: 'v1', kind: 'Service' }, doc], 'default', s))
    t.type(err, InvalidObject, `document ${i + 1}: an InvalidObject (400 in the webhook)`)
    t.equal(err?.message, 'document 2 is not a Kubernetes object (it needs apiVersion and kind)', 'numbered from 1, in the input\'s order')
  }
})
