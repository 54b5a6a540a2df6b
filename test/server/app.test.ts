// Room: src/server/app.ts, src/core/review.ts
// The HTTP edge: anything that is not an AdmissionReview gets an HTTP 400 that says why (415 if it is not JSON,
// 413 if too large), never a 500 or a crash; a review always gets a review back with its uid, even when secretwire
// fails unexpectedly.
import pino from 'pino'
import t, { type Test } from 'tap'
import { admit } from '../../src/server/admit.ts'
import { buildApp, maxBodyBytes } from '../../src/server/app.ts'
import type { AdmissionRequest } from '../../src/core/review.ts'
import { KubeObjectStore, type ObjectStore } from '../../src/kube/client.ts'
import { loopbackCert } from '../helpers/certs.ts'
import { freshNamespace, kubeConfig } from '../helpers/cluster.ts'
import { annotated, pod, request, settings, type Manifest } from '../helpers/objects.ts'

async function app(t: Test, ready?: () => boolean, logger = pino({ level: 'silent' }), store?: ObjectStore) {
  const kc = await kubeConfig()
  const storage = await freshNamespace(t, kc, 'store')
  const config = settings({ SECRETWIRE_STORAGE_NAMESPACE: storage })
  // Every request as the admit function received it, to hold the HTTP edge to passing it on untouched.
  const seen: AdmissionRequest[] = []
  const instance = buildApp({
    logger,
    admit: (r) => {
      seen.push(structuredClone(r))
      return admit(r, { settings: config, store: store ?? new KubeObjectStore(kc) })
    },
    ...(ready && { ready }),
  })
  t.teardown(() => instance.close())
  return { instance, kc, storage, seen }
}

const review = (req: object) => ({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: req })

t.test('bodies that are not an AdmissionReview get HTTP 400 with a message, 415 when not JSON, 413 when too large', async (t) => {
  const { instance } = await app(t)
  const cases: { name: string, payload: string, status: number, message: RegExp }[] = [
    { name: 'malformed JSON', payload: '{"apiVersion": ', status: 400, message: /not valid JSON|Unexpected end/ },
    { name: 'empty body', payload: '', status: 400, message: /empty/i },
    { name: 'a JSON string', payload: '"hello"', status: 400, message: /^not an admission\.k8s\.io\/v1 AdmissionReview: body must be object$/ },
    { name: 'another kind', payload: JSON.stringify({ apiVersion: 'v1', kind: 'Pod' }), status: 400, message: /^not an admission\.k8s\.io\/v1 AdmissionReview: body/ },
    { name: 'admission v1beta1', payload: JSON.stringify({ ...review({}), apiVersion: 'admission.k8s.io/v1beta1' }), status: 400, message: /body\/apiVersion/ },
    { name: 'no request', payload: JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }), status: 400, message: /must have required property 'request'/ },
    { name: 'no uid', payload: JSON.stringify(review({ kind: { group: '', version: 'v1', kind: 'Pod' }, operation: 'CREATE' })), status: 400, message: /body\/request must have required property 'uid'/ },
    { name: 'operation unknown', payload: JSON.stringify(review({ uid: 'u', kind: { group: '', version: 'v1', kind: 'Pod' }, operation: 'PATCH' })), status: 400, message: /body\/request\/operation/ },
    { name: 'dryRun as a string', payload: JSON.stringify(review({ uid: 'u', kind: { group: '', version: 'v1', kind: 'Pod' }, operation: 'CREATE', dryRun: 'true' })), status: 400, message: /body\/request\/dryRun must be boolean/ },
    { name: 'object not an object', payload: JSON.stringify(review({ uid: 'u', kind: { group: '', version: 'v1', kind: 'Pod' }, operation: 'CREATE', object: [1] })), status: 400, message: /body\/request\/object/ },
  ]
  for (const c of cases) {
    const res = await instance.inject({ method: 'POST', url: '/mutate', headers: { 'content-type': 'application/json' }, payload: c.payload })
    t.equal(res.statusCode, c.status, `${c.name}: status`)
    t.match(res.json().message, c.message, c.name)
  }
  // An AdmissionReview is JSON only: any other content type is 415, text/plain included (fastify would parse it
  // into a string by default, which then failed as a 400 "body must be object").
  const valid = JSON.stringify(review(request(pod(), { uid: 'typed' })))
  for (const type of ['text/plain', 'text/plain; charset=utf-8', 'application/xml', 'application/x-www-form-urlencoded']) {
    const res = await instance.inject({ method: 'POST', url: '/mutate', headers: { 'content-type': type }, payload: valid })
    t.equal(res.statusCode, 415, `${type}: status`)
    t.same(res.json(), { statusCode: 415, code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE', error: 'Unsupported Media Type', message: 'Unsupported Media Type' }, `${type}: body`)
  }
  const charset = await instance.inject({ method: 'POST', url: '/mutate', headers: { 'content-type': 'application/json; charset=utf-8' }, payload: valid })
  t.same(charset.json().response, { uid: 'typed', allowed: true }, 'application/json with a charset is still JSON')
  const huge = await instance.inject({ method: 'POST', url: '/mutate', headers: { 'content-type': 'application/json' }, payload: `"${'x'.repeat(maxBodyBytes)}"` })
  t.equal(huge.statusCode, 413)
  t.match(huge.json().message, /body is too large/i)
  const get = await instance.inject({ method: 'GET', url: '/mutate' })
  t.equal(get.statusCode, 404)
})

t.test('a review gets a review back, uid echoed; the object is seen exactly as sent', async (t) => {
  const { instance, kc, storage, seen } = await app(t)
  // A namespace of this test's own, so no other test's objects change what the dry run would create.
  const namespace = await freshNamespace(t, kc, 'seen')
  const object = pod({ annotations: annotated('db'), containers: [{ name: 'app', image: 'x', env: [{ name: 'N', value: '007' }] }] })
  // Fields secretwire does not know must reach the planner untouched (no coercion, nothing removed, no defaults).
  const withExtras = { ...object, status: { phase: 'Pending' }, spec: { ...object.spec, unknownField: { a: 1 }, priority: '5', hostNetwork: 'false' } }
  const sent = { ...request(withExtras, { uid: 'abc-123', dryRun: true, namespace }), userInfo: { username: 'me' }, options: null }
  const res = await instance.inject({ method: 'POST', url: '/mutate', payload: review(sent) })
  t.equal(res.statusCode, 200)
  t.equal(seen.length, 1)
  // The whole request, not just its effect on the patch: '007', '5' and 'false' stay strings, null stays null.
  t.strictSame(seen[0], JSON.parse(JSON.stringify(sent)), 'admit received exactly the request that was sent')
  const body = res.json()
  t.equal(body.apiVersion, 'admission.k8s.io/v1')
  t.equal(body.kind, 'AdmissionReview')
  t.equal(body.response.uid, 'abc-123')
  t.equal(body.response.allowed, true)
  t.equal(body.response.patchType, 'JSONPatch')
  t.same(JSON.parse(Buffer.from(body.response.patch, 'base64').toString()), [
    { op: 'add', path: '/metadata/labels', value: { 'secretwire.io/consumer': 'true' } },
    { op: 'add', path: '/metadata/annotations/secretwire.io~1consumes', value: 'db' },
    { op: 'add', path: '/spec/containers/0/env/0', value: { name: 'DB', valueFrom: { secretKeyRef: { name: 'secretwire-db', key: 'password' } } } },
  ])
  t.strictSame(body.response.warnings, [
    `dry run: secretwire would create Password ${storage}/secretwire-db`,
    `dry run: secretwire would create ExternalSecret ${storage}/secretwire-db`,
    `dry run: secretwire would create ExternalSecret ${namespace}/secretwire-db`,
  ], 'exactly what a real create would make, nothing more')

  const untouched = await instance.inject({ method: 'POST', url: '/mutate', payload: review(request(pod(), { uid: 'u2' })) })
  t.same(untouched.json().response, { uid: 'u2', allowed: true }, 'no annotation: allowed, no patch, no warnings')

  const denied = await instance.inject({ method: 'POST', url: '/mutate', payload: review(request(pod({ annotations: annotated('BAD') }), { uid: 'u3' })) })
  t.equal(denied.statusCode, 200, 'a denial is a normal answer')
  t.same(denied.json().response, {
    uid: 'u3', allowed: false,
    status: { code: 400, reason: 'BadRequest', message: 'annotation secretwire.io/shared-secret: "BAD": "BAD" is not a valid NAME: it must be a DNS-1123 label: lower-case letters, digits and \'-\', starting and ending with a letter or digit' },
  })
})

t.test('a refused request is one info line with its status and what was wrong, never the body', async (t) => {
  const lines: Record<string, unknown>[] = []
  const raw: string[] = []
  const logger = pino({ level: 'info' }, { write: (line: string) => { raw.push(line); lines.push(JSON.parse(line)) } })
  const bare = buildApp({ logger, admit: async () => { throw new Error('not reached') } })
  t.teardown(() => bare.close())
  const secretish = 'hunter2-typed-by-hand'
  const send = (payload: string, type = 'application/json') => bare.inject({ method: 'POST', url: '/mutate', payload, headers: { 'content-type': type } })
  t.equal((await send(`{"password": ${secretish}}`)).statusCode, 400)
  t.equal((await send(JSON.stringify({ apiVersion: 'v1', kind: 'Pod', password: secretish }))).statusCode, 400)
  t.equal((await send(secretish, 'text/plain')).statusCode, 415)
  t.match(lines, [
    { level: 30, msg: 'request refused', method: 'POST', url: '/mutate', statusCode: 400, code: 'FST_ERR_CTP_INVALID_JSON_BODY' },
    { level: 30, msg: 'request refused', statusCode: 400, code: 'FST_ERR_VALIDATION', reason: /^not an admission\.k8s\.io\/v1 AdmissionReview: body/ },
    { level: 30, msg: 'request refused', statusCode: 415, code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE' },
  ])
  t.equal(lines.length, 3, 'one line each')
  t.equal(lines[0]!.reason, undefined, 'a JSON parse error\'s message quotes the body: not logged')
  t.notMatch(raw.join(''), secretish, 'nothing of the bodies is logged')
})

t.test('health and readiness', async (t) => {
  let ready = false
  const { instance } = await app(t, () => ready)
  t.equal((await instance.inject({ url: '/healthz' })).statusCode, 200)
  t.equal((await instance.inject({ url: '/readyz' })).statusCode, 503)
  ready = true
  t.equal((await instance.inject({ url: '/readyz' })).statusCode, 200)
})

t.test('info logs what changed the cluster or was refused; a routine patch is at debug', async (t) => {
  const lines: { level: number, msg: string, uid: string, created?: number }[] = []
  const logger = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line)) })
  const { instance, kc } = await app(t, undefined, logger)
  const namespace = await freshNamespace(t, kc, 'logs')
  const send = async (object: Manifest, uid: string) => (await instance.inject({ method: 'POST', url: '/mutate', payload: review(request(object, { uid, namespace })) })).json()
  const name = `logs-${Date.now().toString(36)}`
  const object = pod({ namespace, annotations: annotated(name) })
  const first = await send(object, 'first')
  t.equal(first.response.allowed, true)
  await send(object, 'again')
  const wired = pod({ namespace, annotations: annotated(name), containers: [{ name: 'app', image: 'busybox', env: [{ name: name.toUpperCase().replaceAll('-', '_'), valueFrom: { secretKeyRef: { name: `secretwire-${name}`, key: 'password' } } }] }] })
  // Wired before secretwire marked what it wires (contract.ts: consumerLabel): the marks, nothing else.
  const marks = JSON.parse(Buffer.from((await send(wired, 'unmarked')).response.patch, 'base64').toString()) as { path: string }[]
  t.same(marks.map((op) => op.path), ['/metadata/labels', '/metadata/annotations/secretwire.io~1consumes'], 'wired but unmarked: marked only')
  const marked = { ...wired, metadata: { ...wired.metadata, labels: { 'secretwire.io/consumer': 'true' }, annotations: { ...annotated(name), 'secretwire.io/consumes': name } } }
  t.same((await send(marked, 'wired')).response, { uid: 'wired', allowed: true }, 'already wired and marked: nothing to do')
  await send(pod({ namespace, annotations: annotated('BAD') }), 'bad')
  const level = (uid: string) => lines.filter((l) => l.uid === uid).map((l) => `${l.level} ${l.msg}`)
  t.same(level('first'), ['30 admitted'], 'objects created: info')
  t.equal(lines.find((l) => l.uid === 'first')?.created, 3)
  t.same(level('again'), ['20 admitted'], 'patched, nothing created: debug')
  t.same(level('wired'), ['20 admitted unchanged'], 'nothing changed: debug')
  t.same(level('bad'), ['30 denied'], 'denied: info')
  logger.level = 'info'
  lines.length = 0
  await send(object, 'quiet')
  t.same(lines, [], 'at the default level a routine patch writes nothing')
})

t.test('a real create warns with exactly the objects created and when Pods start; the next admission warns nothing', async (t) => {
  const { instance, kc, storage } = await app(t)
  const namespace = await freshNamespace(t, kc, 'warn')
  const send = async (uid: string) => (await instance.inject({ method: 'POST', url: '/mutate', payload: review(request(pod({ namespace, annotations: annotated('a, b=PW') }), { uid, namespace })) })).json()
  const first = await send('first')
  t.equal(first.response.allowed, true)
  t.strictSame(first.response.warnings, [
    `secretwire created Password ${storage}/secretwire-a`,
    `secretwire created ExternalSecret ${storage}/secretwire-a`,
    `secretwire created Password ${storage}/secretwire-b`,
    `secretwire created ExternalSecret ${storage}/secretwire-b`,
    `secretwire created ExternalSecret ${namespace}/secretwire-a`,
    `secretwire created ExternalSecret ${namespace}/secretwire-b`,
    'Pods start once ESO has synced Secret secretwire-a, secretwire-b',
  ])
  const again = await send('again')
  t.equal(again.response.patchType, 'JSONPatch', 'still patched')
  t.equal(again.response.warnings, undefined, 'nothing created, nothing to warn about')
})

t.test('an unexpected failure (a bug) is a denial with 500 and one error line, without the object\'s contents', async (t) => {
  // The object carries values no log may hold; the bug's own message names none of them.
  const secretish = 'hunter2-typed-by-hand'
  const object = pod({ name: 'web', annotations: { ...annotated('db'), note: secretish }, containers: [{ name: 'app', image: 'x', env: [{ name: 'TOKEN', value: secretish }] }] })
  const expected = {
    allowed: false,
    status: { code: 500, reason: 'InternalError', message: 'secretwire failed unexpectedly; its log has the details' },
  }
  const capture = () => {
    const lines: Record<string, unknown>[] = []
    const raw: string[] = []
    const logger = pino({ level: 'info' }, { write: (line: string) => { raw.push(line); lines.push(JSON.parse(line)) } })
    return { lines, raw, logger }
  }

  // A bug inside admit: the store (the only part injected) throws a plain TypeError instead of a typed failure.
  // The real store behind it still answers first, so everything before the bug runs as in production.
  const inAdmit = capture()
  const kc = await kubeConfig()
  const real = new KubeObjectStore(kc)
  const buggy: ObjectStore = {
    async get(ref, d) {
      await real.get(ref, d)
      throw new TypeError('Cannot read properties of undefined (reading \'labels\')')
    },
    create: (o, d) => real.create(o, d),
    update: (o, d) => real.update(o, d),
  }
  const { instance } = await app(t, undefined, inAdmit.logger, buggy)
  const res = await instance.inject({ method: 'POST', url: '/mutate', payload: review(request(object, { uid: 'bug-1', namespace: 'apps' })) })
  t.equal(res.statusCode, 200, 'a review comes back, not an HTTP 500 (which failurePolicy Ignore would turn into an unwired admission)')
  t.strictSame(res.json().response, { uid: 'bug-1', ...expected })
  t.equal(inAdmit.lines.length, 1, 'one line')
  const line = inAdmit.lines[0]!
  t.match(line, {
    level: 50, msg: 'admission failed unexpectedly',
    uid: 'bug-1', kind: 'Pod', namespace: 'apps', name: 'web', operation: 'CREATE', dryRun: false, allowed: false,
    code: 500, reason: 'secretwire failed unexpectedly; its log has the details',
    sharedSecrets: ['db'], patched: true, durationMs: Number,
    err: { type: 'TypeError', message: 'Cannot read properties of undefined (reading \'labels\')', stack: String },
  })
  t.strictSame(Object.keys(line).sort(), ['allowed', 'code', 'dryRun', 'durationMs', 'err', 'hostname', 'kind', 'level', 'msg',
    'name', 'namespace', 'operation', 'patched', 'pid', 'reason', 'sharedSecrets', 'time', 'uid'], 'those fields and no others')
  t.notMatch(inAdmit.raw.join(''), secretish, 'nothing of the object\'s contents is logged')

  // A bug around admit (the function handed to the app throws): the same answer and the same single line.
  const around = capture()
  const bare = buildApp({ logger: around.logger, admit: async () => { throw new Error('wrapper bug') } })
  t.teardown(() => bare.close())
  const res2 = await bare.inject({ method: 'POST', url: '/mutate', payload: review(request(object, { uid: 'bug-2', namespace: 'apps' })) })
  t.equal(res2.statusCode, 200)
  t.strictSame(res2.json().response, { uid: 'bug-2', ...expected })
  t.equal(around.lines.length, 1, 'one line')
  t.match(around.lines[0], {
    level: 50, msg: 'admission failed unexpectedly', uid: 'bug-2', kind: 'Pod', namespace: 'apps', name: 'web', allowed: false,
    code: 500, err: { type: 'Error', message: 'wrapper bug' },
  })
  t.notMatch(around.raw.join(''), secretish, 'nothing of the object\'s contents is logged')
})
