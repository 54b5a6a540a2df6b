// Room: src/core/plan.ts, src/core/workload.ts, src/core/errors.ts
import jsonpatch from 'fast-json-patch'
import t from 'tap'
import { EnvConflict, InvalidAnnotation, InvalidObject, NamespaceNotAllowed, StorageNamespace } from '../../src/core/errors.ts'
import { plan, wiringUnchanged, type Plan } from '../../src/core/plan.ts'
import { parsePolicy } from '../../src/core/policy.ts'
import { annotated, pod, request, settings, workload, workloadKinds, type Manifest } from '../helpers/objects.ts'

const defaults = settings()
const wired = (p: Plan) => {
  if (!p.wire) throw new Error(`expected wiring, got: ${p.reason}`)
  return p
}
const apply = <T extends object>(object: T, p: Plan): T =>
  jsonpatch.applyPatch(structuredClone(object), jsonpatch.deepClone(wired(p).patch), true).newDocument
/** The patch's operations on the containers (the consumer label and annotation are checked on their own). */
const envOps = (p: Plan) => wired(p).patch.filter((o) => !o.path.startsWith('/metadata'))
const ref = (name: string, env: string) => ({ name: env, valueFrom: { secretKeyRef: { name: `secretwire-${name}`, key: 'password' } } })

t.test('objects without the annotation are allowed untouched, whatever else they contain', async (t) => {
  const weird = { ...pod(), spec: { containers: 'not a list' }, metadata: { annotations: { 'secretwire.io/other': 'x' } } }
  t.same(plan(request(weird), defaults), { wire: false, reason: 'not annotated' })
  t.same(plan(request(workload('Deployment')), defaults), { wire: false, reason: 'not annotated' })
})

t.test('kinds and operations outside the contract are not touched', async (t) => {
  const service = { apiVersion: 'v1', kind: 'Service', metadata: { annotations: annotated('a') } }
  t.match(plan(request(service), defaults), { wire: false, reason: /kind Service/ })
  const annotatedPod = pod({ annotations: annotated('a') })
  t.match(plan(request(annotatedPod, { operation: 'UPDATE' }), defaults), { wire: false, reason: /UPDATE of Pod/ })
  t.match(plan(request(workload('Deployment', { annotations: annotated('a') }), { operation: 'DELETE' }), defaults), { wire: false })
  const fakeGroup = { ...workload('Deployment', { annotations: annotated('a') }), apiVersion: 'example.com/v1' }
  t.match(plan(request(fakeGroup), defaults), { wire: false }, 'a Deployment of another group')
})

t.test('a Pod gets the env vars first in every container, nothing else changes', async (t) => {
  const object = pod({
    annotations: annotated('grafana-db, metrics=TOKEN'),
    containers: [
      { name: 'web', image: 'x', env: [{ name: 'URL', value: 'postgres://u:$(GRAFANA_DB)@db' }] },
      { name: 'sidecar', image: 'y' },
    ],
    initContainers: [{ name: 'init', image: 'z' }],
  })
  const p = wired(plan(request(object), defaults))
  t.same(envOps(p), [
    { op: 'add', path: '/spec/containers/0/env/0', value: ref('grafana-db', 'GRAFANA_DB') },
    { op: 'add', path: '/spec/containers/0/env/1', value: ref('metrics', 'TOKEN') },
    { op: 'add', path: '/spec/containers/1/env', value: [ref('grafana-db', 'GRAFANA_DB'), ref('metrics', 'TOKEN')] },
  ], 'readable add operations, no index-shifting replaces')
  const after = apply(object, p)
  t.same((after.spec.containers[0]?.env as { name: string }[]).map((e) => e.name), ['GRAFANA_DB', 'TOKEN', 'URL'])
  t.same(after.spec.initContainers, object.spec.initContainers, 'init containers only when named')
  t.same({ ...after, spec: undefined }, {
    ...object, spec: undefined,
    metadata: { ...object.metadata, labels: { 'secretwire.io/consumer': 'true' }, annotations: { ...object.metadata.annotations, 'secretwire.io/consumes': 'grafana-db,metrics' } },
  }, 'metadata: only the consumer label and annotation, for the reconciler')
  t.same(p.sharedSecrets, ['grafana-db', 'metrics'])
  t.equal(p.namespace, 'apps')
})

t.test('idempotent: admitting the patched object again yields no patch', async (t) => {
  for (const object of [
    pod({ annotations: annotated('a, b=B2'), containers: [{ name: 'c', env: [{ name: 'X', value: '1' }] }, { name: 'd' }] }),
    ...workloadKinds.map((kind) => workload(kind, { annotations: annotated('a') })),
  ]) {
    const once = apply(object, plan(request(object), defaults))
    const again = wired(plan(request(once), defaults))
    t.same(again.patch, [], `${object.kind}: no patch the second time`)
    t.same(again.ensure, wired(plan(request(object), defaults)).ensure, 'the same objects to ensure')
  }
})

t.test('an env var secretwire already set, anywhere in the list, is left as is', async (t) => {
  const object = pod({ annotations: annotated('a'), containers: [{ name: 'c', env: [{ name: 'X', value: '1' }, { ...ref('a', 'A'), valueFrom: { secretKeyRef: { name: 'secretwire-a', key: 'password', optional: false } } }] }] })
  t.same(envOps(plan(request(object), defaults)), [])
})

t.test('every workload kind: the pod template is wired (a Job only at creation: see below)', async (t) => {
  const paths: Record<string, string> = {
    Deployment: '/spec/template/spec', StatefulSet: '/spec/template/spec', DaemonSet: '/spec/template/spec',
    ReplicaSet: '/spec/template/spec', Job: '/spec/template/spec', CronJob: '/spec/jobTemplate/spec/template/spec',
  }
  for (const kind of workloadKinds) {
    for (const operation of kind === 'Job' ? ['CREATE'] as const : ['CREATE', 'UPDATE'] as const) {
      const p = wired(plan(request(workload(kind, { annotations: annotated('a') }), { operation }), defaults))
      t.same(envOps(p), [{ op: 'add', path: `${paths[kind]}/containers/0/env`, value: [ref('a', 'A')] }], `${kind} ${operation}`)
    }
  }
})

t.test('a workload annotated on its own metadata only is wired too', async (t) => {
  const object = workload('Deployment', { ownAnnotations: annotated('a') })
  t.equal(envOps(plan(request(object), defaults)).length, 1)
})

t.test('the containers annotation selects containers and init containers', async (t) => {
  const object = pod({
    annotations: annotated('a', 'migrate, web'),
    containers: [{ name: 'web' }, { name: 'other' }],
    initContainers: [{ name: 'migrate' }],
  })
  t.same(envOps(plan(request(object), defaults)).map((o) => o.path), ['/spec/initContainers/0/env', '/spec/containers/0/env'])
})

t.test('denials', async (t) => {
  const cases: { name: string, object: Manifest, opts?: object, env?: Record<string, string>, error: unknown, match: RegExp }[] = [
    {
      name: 'unknown container',
      object: pod({ annotations: annotated('a', 'web,db'), containers: [{ name: 'web' }] }),
      error: InvalidAnnotation,
      match: /^annotation secretwire\.io\/containers: "web,db": this Pod has no container or init container named "db"$/,
    },
    {
      name: 'env var defined differently',
      object: pod({ annotations: annotated('a=DB'), containers: [{ name: 'web', env: [{ name: 'DB', value: 'hunter2' }] }] }),
      error: EnvConflict,
      match: /^container "web" already defines env var DB, which secretwire would set from shared secret "a"/,
    },
    {
      name: 'env var from another secret',
      object: pod({ annotations: annotated('a=DB'), containers: [{ name: 'web', env: [ref('b', 'DB')] }] }),
      error: EnvConflict,
      match: /container "web" already defines env var DB/,
    },
    {
      name: 'storage namespace',
      object: pod({ annotations: annotated('a') }),
      opts: { namespace: 'eso-secret-storage' },
      error: StorageNamespace,
      match: /namespace "eso-secret-storage" is secretwire's storage namespace/,
    },
    {
      name: 'no namespace',
      object: pod({ annotations: annotated('a') }),
      opts: { namespace: '' },
      error: InvalidObject,
      match: /Pod has no namespace/,
    },
    {
      name: 'no containers',
      object: { ...workload('Deployment', { annotations: annotated('a') }), spec: { template: { metadata: { annotations: annotated('a') } } } },
      error: InvalidObject,
      match: /Deployment has no containers/,
    },
    {
      name: 'no object',
      object: pod(),
      opts: { object: null },
      error: InvalidObject,
      match: /carries no object to CREATE/,
    },
  ]
  for (const c of cases) {
    const req = { ...request(c.object, c.opts), ...c.opts }
    t.throws(() => plan(req, settings(c.env)), c.error as Error, c.name)
    t.throws(() => plan(req, settings(c.env)), { message: c.match }, c.name)
  }
})

t.test('the namespace of the object counts when the request has none', async (t) => {
  const object = pod({ annotations: annotated('a'), namespace: 'team' })
  t.equal(wired(plan({ ...request(object), namespace: undefined }, defaults)).namespace, 'team')
})

t.test('policy: namespaces allowed per shared secret', async (t) => {
  const policy = settings({ SECRETWIRE_CONFIG: 'p.yaml' }, {
    'p.yaml': 'sharedSecrets:\n  grafana-db:\n    namespaces: [grafana, "db-*"]\n  closed:\n    namespaces: []\n',
  })
  const object = pod({ annotations: annotated('grafana-db') })
  t.ok(wired(plan(request(object, { namespace: 'grafana' }), policy)))
  t.ok(wired(plan(request(object, { namespace: 'db-main' }), policy)))
  t.throws(() => plan(request(object, { namespace: 'web' }), policy), NamespaceNotAllowed)
  t.throws(() => plan(request(object, { namespace: 'web' }), policy), {
    code: 403,
    message: 'shared secret "grafana-db" may not be used in namespace "web": the secretwire policy allows it only in "grafana", "db-*"',
  })
  t.throws(() => plan(request(pod({ annotations: annotated('closed') })), policy), { message: /allows it in no namespace/ })
  t.ok(wired(plan(request(pod({ annotations: annotated('unlisted') }), { namespace: 'web' }), policy)), 'unlisted: every namespace')
})

t.test('strategy push: generator and PushSecret in storage, ExternalSecret in the workload namespace', async (t) => {
  const p = wired(plan(request(pod({ annotations: annotated('grafana-db') }), { namespace: 'grafana' }), settings({ SECRETWIRE_STRATEGY: 'push' })))
  t.same(p.ensure.map((o) => `${o.kind} ${o.metadata.namespace}/${o.metadata.name}`), [
    'Password eso-secret-storage/secretwire-grafana-db',
    'PushSecret eso-secret-storage/secretwire-grafana-db',
    'ExternalSecret grafana/secretwire-grafana-db',
  ])
  const labels = { 'app.kubernetes.io/managed-by': 'secretwire', 'secretwire.io/shared-secret': 'grafana-db' }
  for (const o of p.ensure) t.same(o.metadata.labels, labels, `${o.kind} labels`)
  t.same(p.ensure[0]!.spec, { length: 42, digits: 5, symbols: 5, symbolCharacters: '-_$@', noUpper: false, allowRepeat: true })
  t.same(p.ensure[1]!.spec, {
    refreshInterval: '0',
    updatePolicy: 'Replace',
    secretStoreRefs: [{ name: 'eso-cluster-secret-store', kind: 'ClusterSecretStore' }],
    selector: { generatorRef: { apiVersion: 'generators.external-secrets.io/v1alpha1', kind: 'Password', name: 'secretwire-grafana-db' } },
    data: [{ match: { secretKey: 'password', remoteRef: { remoteKey: 'secretwire-grafana-db', property: 'password' } } }],
  })
  t.same(p.ensure[2]!.spec, {
    refreshPolicy: 'OnChange',
    secretStoreRef: { name: 'eso-cluster-secret-store', kind: 'ClusterSecretStore' },
    target: {
      name: 'secretwire-grafana-db',
      creationPolicy: 'Owner',
      template: { engineVersion: 'v2', mergePolicy: 'Replace', data: { 'password': '{{ .password }}', 'password-url': '{{ .password | urlquery }}' } },
    },
    data: [{ secretKey: 'password', remoteRef: { key: 'secretwire-grafana-db', property: 'password' } }],
  })
  t.same(p.ensure[2]!.metadata.annotations, { 'secretwire.io/shape': '2' }, 'the consumer ExternalSecret says which shape it has')
})

t.test('strategy push with SECRETWIRE_PUSH_UPDATE_POLICY=IfNotExists: the PushSecret says so, nothing else changes', async (t) => {
  const review = request(pod({ annotations: annotated('grafana-db') }), { namespace: 'grafana' })
  const replace = wired(plan(review, settings({ SECRETWIRE_STRATEGY: 'push' })))
  const ifNotExists = wired(plan(review, settings({ SECRETWIRE_STRATEGY: 'push', SECRETWIRE_PUSH_UPDATE_POLICY: 'IfNotExists' })))
  t.equal(ifNotExists.ensure[1]!.spec.updatePolicy, 'IfNotExists')
  t.same(ifNotExists.ensure.map((o) => ({ ...o, spec: { ...o.spec, updatePolicy: undefined } })), replace.ensure.map((o) => ({ ...o, spec: { ...o.spec, updatePolicy: undefined } })))
  t.same(ifNotExists.patch, replace.patch)
})

t.test('strategy generate (the default): an immutable, orphaned, created-once ExternalSecret stores the password', async (t) => {
  t.equal(defaults.strategy, 'generate')
  const s = settings({ SECRETWIRE_STORAGE_NAMESPACE: 'vault', SECRETWIRE_CLUSTER_SECRET_STORE: 'css' })
  const p = wired(plan(request(pod({ annotations: annotated('a') })), s))
  t.same(p.ensure.map((o) => `${o.kind} ${o.metadata.namespace}/${o.metadata.name}`), [
    'Password vault/secretwire-a', 'ExternalSecret vault/secretwire-a', 'ExternalSecret apps/secretwire-a',
  ])
  t.same(p.ensure[1]!.spec, {
    refreshPolicy: 'CreatedOnce',
    target: { name: 'secretwire-a', creationPolicy: 'Orphan', immutable: true },
    dataFrom: [{ sourceRef: { generatorRef: { apiVersion: 'generators.external-secrets.io/v1alpha1', kind: 'Password', name: 'secretwire-a' } } }],
  })
  t.match(p.ensure[2]!.spec, { secretStoreRef: { name: 'css' } })
})

t.test('several shared secrets: all storage objects first, each once', async (t) => {
  const p = wired(plan(request(pod({ annotations: annotated('a, b, a=A2') })), defaults))
  t.same(p.ensure.map((o) => `${o.kind}/${o.metadata.namespace}/${o.metadata.name}`), [
    'Password/eso-secret-storage/secretwire-a', 'ExternalSecret/eso-secret-storage/secretwire-a',
    'Password/eso-secret-storage/secretwire-b', 'ExternalSecret/eso-secret-storage/secretwire-b',
    'ExternalSecret/apps/secretwire-a', 'ExternalSecret/apps/secretwire-b',
  ])
})

t.test('inject=pods: templates untouched with a warning, Pods patched', async (t) => {
  const s = settings({ SECRETWIRE_INJECT: 'pods' })
  const p = wired(plan(request(workload('Deployment', { annotations: annotated('a') })), s))
  t.same(p.patch, [])
  t.equal(p.ensure.length, 3, 'objects are still ensured at workload admission')
  t.same(p.warnings, ["SECRETWIRE_INJECT=pods: this Deployment's pod template is left as is; A are added to its Pods when they are created"])
  t.equal(envOps(plan(request(pod({ annotations: annotated('a') })), s)).length, 1)
  t.throws(() => plan(request(workload('Deployment', { annotations: annotated('a', 'nope') })), s), InvalidAnnotation,
    'a workload whose Pods would be denied is denied at once')
})

t.test('namespaces secretwire never wires are denied, whoever sends the review', async (t) => {
  for (const namespace of ['kube-system', 'kube-public', 'kube-node-lease', 'secretwire']) {
    t.throws(() => plan(request(pod({ annotations: annotated('a') }), { namespace }), settings()),
      { code: 403, message: `namespace "${namespace}" is never wired by secretwire (the webhook configuration leaves it out)` })
  }
})

t.test('a reloaded policy is used from the next admission on, whole', async (t) => {
  const s = settings({ SECRETWIRE_CONFIG: 'p.yaml' }, { 'p.yaml': 'sharedSecrets:\n  db:\n    namespaces: [apps]\n' })
  const before = wired(plan(request(pod({ annotations: annotated('db') })), s))
  t.match(before.ensure[0]!.spec, { length: 42 })
  s.policy.replace(parsePolicy('sharedSecrets:\n  db:\n    namespaces: [apps]\n    password: { length: 20 }\n', 'p.yaml'))
  t.match(wired(plan(request(pod({ annotations: annotated('db') })), s)).ensure[0]!.spec, { length: 20 }, 'no stale memo')
  s.policy.replace(parsePolicy('sharedSecrets:\n  db:\n    namespaces: [other]\n', 'p.yaml'))
  t.throws(() => plan(request(pod({ annotations: annotated('db') })), s), { code: 403 })
})

t.test('a policy shapes the generator per shared secret', async (t) => {
  const s = settings({ SECRETWIRE_CONFIG: 'p.yaml' }, {
    'p.yaml': 'defaults:\n  password: { length: 30 }\nsharedSecrets:\n  short:\n    password: { length: 16, digits: 2, symbols: 0 }\n',
  })
  const spec = (name: string) => wired(plan(request(pod({ annotations: annotated(name) })), s)).ensure[0]!.spec
  t.same(spec('short'), { length: 16, digits: 2, symbols: 0, symbolCharacters: '-_$@', noUpper: false, allowRepeat: true })
  t.match(spec('other'), { length: 30, digits: 5 })
})

// What the controllers do after admission (issue 12): they must neither be blocked nor have their copies changed.
const owned = (m: Manifest, kind: string, name: string): Manifest =>
  ({ ...m, metadata: { ...m.metadata, ownerReferences: [{ apiVersion: 'apps/v1', kind, name, uid: 'u1', controller: true }] } })
const update = (object: Manifest, oldObject: Manifest = object) =>
  ({ ...request(object, { operation: 'UPDATE' }), oldObject: oldObject as unknown as Record<string, unknown> })

t.test('a workload with a controller owner: ensured at creation, its template never patched', async (t) => {
  const rs = owned(workload('ReplicaSet', { annotations: annotated('a') }), 'Deployment', 'web')
  const created = wired(plan(request(rs), defaults))
  t.same(created.patch, [], 'CREATE: the template stays the owner\'s copy')
  t.equal(created.ensure.length, 3, 'CREATE: the objects its Pods need are ensured')
  t.same(created.warnings, [])
  t.same(plan(update(rs), defaults), { wire: false, reason: 'controlled by Deployment web, which carries the wiring' }, 'UPDATE: untouched')
  const job = owned(workload('Job', { annotations: annotated('a') }), 'CronJob', 'nightly')
  t.same(wired(plan(request(job), defaults)).patch, [])
  const ownedPod = owned(pod({ annotations: annotated('a') }), 'ReplicaSet', 'web-1')
  t.equal(envOps(plan(request(ownedPod), defaults)).length, 1, 'a Pod is wired whoever owns it')
  const notController = { ...rs, metadata: { ...rs.metadata, ownerReferences: [{ apiVersion: 'v1', kind: 'X', name: 'x', uid: 'u', controller: false }] } }
  t.equal(envOps(plan(request(notController), defaults)).length, 1, 'an owner that is not the controller does not count')
})

t.test('a Job\'s template cannot change after creation: its UPDATEs are never patched', async (t) => {
  const job = workload('Job', { annotations: annotated('a') })
  t.equal(envOps(plan(request(job), defaults)).length, 1, 'CREATE: wired')
  t.same(plan(update(job), defaults), { wire: false, reason: 'a Job\'s pod template cannot change after creation' })
})

t.test('an object being deleted is left alone', async (t) => {
  const deleting = workload('Deployment', { annotations: annotated('Bad_Name') })
  deleting.metadata.deletionTimestamp = new Date()
  t.same(plan(update(deleting), defaults), { wire: false, reason: 'Deployment is being deleted' }, 'even with a bad annotation')
})

t.test('inject=pods: annotations on the workload alone would wire nothing, so they are refused saying where they go', async (t) => {
  const s = settings({ SECRETWIRE_INJECT: 'pods' })
  t.throws(() => plan(request(workload('Deployment', { ownAnnotations: annotated('a') })), s), {
    code: 400,
    message: 'annotation secretwire.io/shared-secret: "a": with SECRETWIRE_INJECT=pods it must be on the pod template: Pods are ' +
      'wired from their own annotations and inherit only spec.template.metadata\'s; move it there',
  })
  t.throws(() => plan(request(workload('CronJob', { annotations: annotated('a'), ownAnnotations: annotated('a', 'web') })), s),
    { code: 400, message: /^annotation secretwire\.io\/containers: "web": .* inherit only spec\.jobTemplate\.spec\.template\.metadata's/ })
  t.ok(wired(plan(request(workload('Deployment', { annotations: annotated('a'), ownAnnotations: annotated('a') })), s)),
    'the same annotation on both is fine')
  t.ok(wired(plan(request(workload('Deployment', { ownAnnotations: annotated('a') })), defaults)), 'templates mode wires it')
})

t.test('wiringUnchanged: an UPDATE that leaves every secretwire annotation as it was', async (t) => {
  const before = workload('Deployment', { annotations: annotated('a') })
  t.ok(wiringUnchanged(update({ ...before, metadata: { ...before.metadata, labels: { x: 'y' } } }, before)), 'a label')
  t.ok(wiringUnchanged(update({ ...before, spec: { ...before.spec, replicas: 0 } }, before)), 'replicas: 0')
  t.notOk(wiringUnchanged(update(workload('Deployment', { annotations: annotated('a, b') }), before)), 'another NAME')
  t.notOk(wiringUnchanged(update(workload('Deployment', { annotations: annotated('a', 'app') }), before)), 'another containers annotation')
  t.notOk(wiringUnchanged(update(workload('Deployment', { annotations: annotated('a'), ownAnnotations: annotated('a') }), before)), 'moved onto the workload too')
  t.notOk(wiringUnchanged(request(before)), 'a CREATE')
  t.notOk(wiringUnchanged({ ...request(before, { operation: 'UPDATE' }) }), 'no oldObject')
})

t.test('the wired object is marked for the reconciler: consumer label and the NAMEs it consumes', async (t) => {
  const marks = (p: Plan) => wired(p).patch.filter((o) => o.path.startsWith('/metadata'))
  t.same(marks(plan(request(workload('Deployment', { annotations: annotated('b, a=A2') })), defaults)), [
    { op: 'add', path: '/metadata/labels', value: { 'secretwire.io/consumer': 'true' } },
    { op: 'add', path: '/metadata/annotations', value: { 'secretwire.io/consumes': 'a,b' } },
  ], 'a workload: its own metadata, not its template (no rollout for a label)')
  const labelled = workload('Deployment', { annotations: annotated('a'), ownAnnotations: { note: 'x' } })
  labelled.metadata.labels = { team: 'db' }
  t.same(marks(plan(request(labelled), defaults)), [
    { op: 'add', path: '/metadata/labels/secretwire.io~1consumer', value: 'true' },
    { op: 'add', path: '/metadata/annotations/secretwire.io~1consumes', value: 'a' },
  ], 'added beside existing labels and annotations')
  const renamed = apply(labelled, plan(request(labelled), defaults))
  renamed.spec.template.metadata.annotations = annotated('a, c')
  t.same(marks(plan(request(renamed, { operation: 'UPDATE' }), defaults)), [
    { op: 'add', path: '/metadata/annotations/secretwire.io~1consumes', value: 'a,c' },
  ], 'an update that names another secret updates the annotation')
  t.same(marks(plan(request(apply(renamed, plan(request(renamed), defaults)), { operation: 'UPDATE' }), defaults)), [], 'idempotent')
  t.same(marks(plan(request(workload('Deployment', { annotations: annotated('a') })), settings({ SECRETWIRE_INJECT: 'pods' }))), [],
    'inject=pods: the workload is left alone; its Pods are marked')
  t.equal(marks(plan(request(pod({ annotations: annotated('a') })), settings({ SECRETWIRE_INJECT: 'pods' }))).length, 2)
  t.same(marks(plan(request(owned(workload('ReplicaSet', { annotations: annotated('a') }), 'Deployment', 'web')), defaults)), [],
    'a controller\'s copy is left alone')
})

t.test('forms: url takes the percent-encoded key, file mounts the Secret read-only and names the file', async (t) => {
  const object = pod({
    annotations: annotated('db:url, db:file=POSTGRES_PASSWORD_FILE, db'),
    containers: [{ name: 'app', image: 'x', env: [{ name: 'URL', value: 'postgres://u:$(DB_URLENCODED)@db/x' }] }],
  })
  const patched = apply(object, plan(request(object), defaults))
  t.same(patched.spec.containers[0].env, [
    { name: 'DB_URLENCODED', valueFrom: { secretKeyRef: { name: 'secretwire-db', key: 'password-url' } } },
    { name: 'POSTGRES_PASSWORD_FILE', value: '/var/run/secretwire/db/password' },
    ref('db', 'DB'),
    { name: 'URL', value: 'postgres://u:$(DB_URLENCODED)@db/x' },
  ], 'the env vars first, so $(DB_URLENCODED) in a later one resolves')
  t.same(patched.spec.volumes, [{
    name: 'secretwire-db',
    secret: { secretName: 'secretwire-db', items: [{ key: 'password', path: 'password' }], defaultMode: 0o400 },
  }], 'one volume of the Secret, one key, owner-read only')
  t.same(patched.spec.containers[0].volumeMounts, [{ name: 'secretwire-db', mountPath: '/var/run/secretwire/db', readOnly: true }])
  t.same(envOps(plan(request(patched), defaults)), [], 'idempotent: the patched Pod needs nothing more')
})

t.test('file form: existing volumes and mounts are kept, the new ones appended; only selected containers mount', async (t) => {
  const object = {
    ...pod({ annotations: annotated('a:file, b:file', 'web'), containers: [{ name: 'web', image: 'x' }, { name: 'side', image: 'y' }] }),
  }
  object.spec.volumes = [{ name: 'data', emptyDir: {} }]
  object.spec.containers[0].volumeMounts = [{ name: 'data', mountPath: '/data' }]
  const patched = apply(object, plan(request(object), defaults))
  t.same(patched.spec.volumes.map((v: { name: string }) => v.name), ['data', 'secretwire-a', 'secretwire-b'])
  t.same(patched.spec.containers[0].volumeMounts.map((m: { mountPath: string }) => m.mountPath), ['/data', '/var/run/secretwire/a', '/var/run/secretwire/b'])
  t.equal(patched.spec.containers[1].volumeMounts, undefined, 'the container not selected mounts nothing')
  t.equal(patched.spec.containers[1].env, undefined, 'and gets no env var')
  // The API server fills in defaults (a mount's mountPropagation, say): still the same mount.
  patched.spec.containers[0].volumeMounts[1].mountPropagation = 'None'
  t.same(envOps(plan(request(patched), defaults)), [], 'idempotent with the API server\'s defaults')
})

t.test('file form: a volume or mount path already taken is a clear 400, nothing half-made', async (t) => {
  const taken = pod({ annotations: annotated('db:file') })
  taken.spec.volumes = [{ name: 'secretwire-db', emptyDir: {} }]
  t.throws(() => plan(request(taken), defaults), { name: 'MountConflict', code: 400, message: /the Pod already has a volume named secretwire-db, which secretwire would use for the file of shared secret "db" \(form file\)/ })
  const path = pod({ annotations: annotated('db:file') })
  path.spec.containers[0].volumeMounts = [{ name: 'other', mountPath: '/var/run/secretwire/db' }]
  t.throws(() => plan(request(path), defaults), { name: 'MountConflict', message: /container "app" already mounts \/var\/run\/secretwire\/db/ })
  const env = pod({ annotations: annotated('db:file'), containers: [{ name: 'app', env: [{ name: 'DB_FILE', value: '/elsewhere' }] }] })
  t.throws(() => plan(request(env), defaults), { name: 'EnvConflict', message: /already defines env var DB_FILE/ })
})

t.test('every form of a workload\'s template, and the ExternalSecret is the same whatever the forms', async (t) => {
  const deployment = workload('Deployment', { annotations: annotated('db:file, db:url') })
  const p = wired(plan(request(deployment, { namespace: 'apps' }), defaults))
  const patched = apply(deployment, p)
  t.same(patched.spec.template.spec.volumes.map((v: { name: string }) => v.name), ['secretwire-db'])
  const plain = wired(plan(request(pod({ annotations: annotated('db') }), { namespace: 'apps' }), defaults))
  t.same(p.ensure, plain.ensure, 'one ExternalSecret per NAME and namespace serves every form')
})

t.test('the secret annotation: an ExternalSecret named after the Secret, no env var, the entries marked for the reconciler', async (t) => {
  const deployment = workload('Deployment', { annotations: { 'secretwire.io/secret': 'db:basic-auth:app=app-user, db=db-credentials' } })
  const p = wired(plan(request(deployment), defaults))
  t.same(envOps(p), [], 'nothing injected')
  t.same(p.patch, [
    { op: 'add', path: '/metadata/labels', value: { 'secretwire.io/consumer': 'true' } },
    { op: 'add', path: '/metadata/annotations', value: { 'secretwire.io/secrets': 'db:basic-auth:app=app-user,db=db-credentials' } },
  ], 'marked: the entries, and no consumes (no Secret secretwire-db is needed here)')
  t.same(p.ensure.map((o) => `${o.kind} ${o.metadata.namespace}/${o.metadata.name}`), [
    'Password eso-secret-storage/secretwire-db', 'ExternalSecret eso-secret-storage/secretwire-db',
    'ExternalSecret apps/app-user', 'ExternalSecret apps/db-credentials',
  ])
  const basicAuth = p.ensure[2]!
  t.same(basicAuth.metadata.labels, { 'app.kubernetes.io/managed-by': 'secretwire', 'secretwire.io/shared-secret': 'db' })
  t.same(basicAuth.spec.target, {
    name: 'app-user', creationPolicy: 'Owner',
    template: { type: 'kubernetes.io/basic-auth', engineVersion: 'v2', mergePolicy: 'Replace', data: { username: '{{ "app" }}', password: '{{ .password }}' } },
  }, 'CloudNativePG\'s bootstrap Secret: type kubernetes.io/basic-auth with username and password')
  t.same((p.ensure[3]!.spec.target as { template: { type: string, data: object } }).template, {
    type: 'Opaque', engineVersion: 'v2', mergePolicy: 'Replace', data: { password: '{{ .password }}', 'password-url': '{{ .password | urlquery }}' },
  }, 'Opaque: the raw and the percent-encoded password')
  t.same(wired(plan(request(apply(deployment, p), { operation: 'UPDATE' }), defaults)).patch, [], 'idempotent')
  const both = wired(plan(request(workload('Deployment', { annotations: { ...annotated('db'), 'secretwire.io/secret': 'db=db-credentials' } })), defaults))
  t.same((both.patch.find((o) => o.path === '/metadata/annotations') as { value?: unknown } | undefined)?.value, { 'secretwire.io/consumes': 'db', 'secretwire.io/secrets': 'db=db-credentials' }, 'beside env injection')
  const closed = settings({ SECRETWIRE_CONFIG: 'p.yaml' }, { 'p.yaml': 'sharedSecrets:\n  db: { namespaces: [elsewhere] }\n' })
  t.throws(() => plan(request(deployment), closed), NamespaceNotAllowed, 'the same policy check as for env vars')
})
