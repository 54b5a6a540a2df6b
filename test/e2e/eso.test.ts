// Room: src/server/, src/kube/ (end to end with ESO)
// End to end with the real External Secrets Operator: secretwire (a `secretwire serve` process, registered as
// the API server's webhook) ensures the objects, ESO generates, pushes and copies the password, and workloads in
// different namespaces naming the same shared secret end up with the same password.
import { createHash } from 'node:crypto'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { AppsV1Api, CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions, type KubeConfig } from '@kubernetes/client-node'
import t, { type Test } from 'tap'
import { defaultPassword } from '../../src/core/contract.ts'
import { storageObjects } from '../../src/core/esoobjects.ts'
import { loopbackCert, type ServingCert } from '../helpers/certs.ts'
import { esoCluster } from '../helpers/esocluster.ts'
import { annotated, workload } from '../helpers/objects.ts'
import { untilSecretwireAnswers } from '../../tools/cluster/webhook.ts'
import { serve } from '../helpers/process.ts'
import { registerSecretwireWebhook } from '../helpers/webhook.ts'

// Both strategies run here, so the store may be written (the push strategy's deploy/components/push-strategy).
const cluster = await esoCluster(t, { storeWrites: true })
const { kc } = cluster
const core = kc.makeApiClient(CoreV1Api)
const apps = kc.makeApiClient(AppsV1Api)
const storage = 'eso-secret-storage'

let n = 0
async function namespace(prefix: string): Promise<string> {
  const name = `${prefix}-${++n}`
  await core.createNamespace({ body: { metadata: { name } } })
  return name
}

/** Starts `secretwire serve` with these settings and registers it for the namespaces. */
async function secretwire(t: Test, namespaces: string[], env: Record<string, string> = {}, fixed?: { port: number, tls: ServingCert, dir: string }) {
  const tls = fixed?.tls ?? await loopbackCert()
  const dir = fixed?.dir ?? mkdtempSync(join(tmpdir(), 'secretwire-e2e-'))
  writeFileSync(join(dir, 'tls.crt'), tls.cert)
  writeFileSync(join(dir, 'tls.key'), tls.key)
  // A restart binds the port the first process had (the registered webhook points there); a first start, any port.
  const served = await serve(t, {
    KUBECONFIG: cluster.cp.info.kubeconfig, TLS_CERT_FILE: join(dir, 'tls.crt'), TLS_KEY_FILE: join(dir, 'tls.key'),
    SECRETWIRE_SHUTDOWN_DELAY_MS: '0', ...env,
  }, tls.cert, fixed?.port)
  const port = served.port
  if (fixed === undefined) {
    await registerSecretwireWebhook(t, kc, { namespaces, url: `https://127.0.0.1:${port}/mutate`, caBundle: tls.caBundle })
    for (const ns of namespaces) await untilSecretwireAnswers(kc, ns)
  }
  return { served, port, tls, dir }
}

/** The seed's shape: 42 characters, exactly 5 digits and 5 symbols from -_$@, the rest letters (counts only: never the value). */
function checkShape(t: Test, password: string): void {
  t.equal(password.length, 42, 'length 42')
  t.equal([...password].filter((c) => /[0-9]/.test(c)).length, 5, '5 digits')
  t.equal([...password].filter((c) => '-_$@'.includes(c)).length, 5, '5 symbols from -_$@')
  t.equal([...password].filter((c) => !/[A-Za-z0-9\-_$@]/.test(c)).length, 0, 'letters otherwise')
}

async function esCount(kcx: KubeConfig, ns: string): Promise<number> {
  const res = await kcx.makeApiClient(CustomObjectsApi).listNamespacedCustomObject({ group: 'external-secrets.io', version: 'v1', plural: 'externalsecrets', namespace: ns }) as { items: unknown[] }
  return res.items.length
}

/** Go's url.QueryEscape (what ESO's `urlquery` calls): A-Z a-z 0-9 - _ . ~ kept, space as '+', else %XX. */
function queryEscape(s: string): string {
  return [...Buffer.from(s, 'utf8')].map((b) => {
    const c = String.fromCharCode(b)
    if (/[A-Za-z0-9\-_.~]/.test(c)) return c
    return c === ' ' ? '+' : `%${b.toString(16).toUpperCase().padStart(2, '0')}`
  }).join('')
}

for (const strategy of ['push', 'generate'] as const) {
  t.test(`strategy ${strategy}: two namespaces, one NAME, one password; another NAME, another password`, async (t) => {
    const grafana = await namespace(`grafana-${strategy}`)
    const postgres = await namespace(`postgres-${strategy}`)
    // At debug level, so that the check at the end covers every line secretwire can log.
    const sw = await secretwire(t, [grafana, postgres], { SECRETWIRE_STRATEGY: strategy, LOG_LEVEL: 'debug' })
    const shared = `db-${strategy}`
    const other = `metrics-${strategy}`

    // What secretwire answered, as the API server applied it.
    const answers: unknown[] = []
    answers.push(await apps.createNamespacedDeployment({ namespace: grafana, body: workload('Deployment', { name: 'grafana', annotations: annotated(shared) }) }))
    answers.push(await apps.createNamespacedStatefulSet({ namespace: postgres, body: workload('StatefulSet', { name: 'postgres', annotations: annotated(`${shared}=POSTGRES_PASSWORD`) }) }))
    answers.push(await apps.createNamespacedDeployment({ namespace: postgres, body: workload('Deployment', { name: 'exporter', annotations: annotated(other) }) }))

    // Compared by SHA-256: a failing assertion must not print a password.
    const stored = await cluster.fingerprint(storage, `secretwire-${shared}`)
    t.equal(await cluster.fingerprint(grafana, `secretwire-${shared}`), stored, 'grafana\'s Secret holds the stored password')
    t.equal(await cluster.fingerprint(postgres, `secretwire-${shared}`), stored, 'postgres\'s Secret holds the same password')
    t.not(await cluster.fingerprint(postgres, `secretwire-${other}`), stored, 'another NAME has another password')
    checkShape(t, await cluster.password(storage, `secretwire-${shared}`))
    checkShape(t, await cluster.password(postgres, `secretwire-${other}`))
    // The url form, as ESO's template engine made it from the same password: Go's url.QueryEscape, exactly.
    const raw = await cluster.password(grafana, `secretwire-${shared}`)
    const encoded = await cluster.password(grafana, `secretwire-${shared}`, undefined, 'password-url')
    t.ok(encoded === queryEscape(raw), 'password-url is the password percent-encoded (compared without printing either)')
    t.ok(/^[A-Za-z0-9\-_.~%]+$/.test(encoded) && decodeURIComponent(encoded) === raw, 'it holds no character a URL\'s userinfo forbids, and decodes to the password')

    const deployment = await apps.readNamespacedDeployment({ namespace: grafana, name: 'grafana' })
    t.same(deployment.spec?.template.spec?.containers[0]?.env, [{ name: shared.toUpperCase().replace('-', '_'), valueFrom: { secretKeyRef: { name: `secretwire-${shared}`, key: 'password' } } }])

    // docs/operations.md ("Answers"): secretwire never reads, logs or returns a secret value. Now that ESO has made the passwords, one more
    // admission (answered straight to this test, the AdmissionReview as sent), then everything secretwire wrote:
    // every log line, every answer, its metrics and probes. Neither password may appear, raw or base64-encoded.
    const review = await sw.served.call('POST', '/mutate', {
      apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview',
      request: {
        uid: 'e2e-leak-check', kind: { group: 'apps', version: 'v1', kind: 'Deployment' }, resource: { group: 'apps', version: 'v1', resource: 'deployments' },
        namespace: grafana, name: 'later', operation: 'CREATE', userInfo: { username: 'e2e' },
        object: workload('Deployment', { name: 'later', annotations: annotated(`${shared}, ${other}`) }),
      },
    })
    t.equal(review.json().response?.allowed, true, 'the direct admission is answered')
    const written = [
      ...sw.served.output, review.text, JSON.stringify(answers),
      ...await Promise.all(['/metrics', '/readyz', '/healthz'].map(async (path) => (await sw.served.call('GET', path)).text)),
    ].join('\n')
    t.ok(sw.served.output.some((l) => l.includes('"level":20')), 'debug lines were logged, and are searched too')
    for (const [what, password] of [[shared, await cluster.password(storage, `secretwire-${shared}`)], [other, await cluster.password(postgres, `secretwire-${other}`)]] as const) {
      const found = [password, Buffer.from(password).toString('base64'), queryEscape(password)].filter((form) => written.includes(form)).length
      t.equal(found, 0, `the password of ${what} is in nothing secretwire wrote (${written.length} characters searched)`)
    }
  })
}

t.test('the password never changes: more workloads, a secretwire restart, a deleted ExternalSecret', async (t) => {
  const a = await namespace('stable-a')
  const b = await namespace('stable-b')
  const sw = await secretwire(t, [a, b])
  await apps.createNamespacedDeployment({ namespace: a, body: workload('Deployment', { name: 'one', annotations: annotated('stable') }) })
  const original = await cluster.fingerprint(a, 'secretwire-stable')

  await apps.createNamespacedDeployment({ namespace: b, body: workload('Deployment', { name: 'two', annotations: annotated('stable') }) })
  await apps.createNamespacedDeployment({ namespace: a, body: workload('Deployment', { name: 'three', annotations: annotated('stable') }) })
  t.equal(await cluster.fingerprint(b, 'secretwire-stable'), original, 'a later namespace gets the same password')

  // Restart secretwire: same port and certificate, so the registered webhook reaches the new process.
  sw.served.child.kill('SIGTERM')
  t.equal(await sw.served.exited, 0)
  await secretwire(t, [a, b], {}, sw)
  const four = await apps.createNamespacedDeployment({ namespace: b, body: workload('Deployment', { name: 'four', annotations: annotated('stable') }) })
  t.same(four.spec?.template.spec?.containers[0]?.env?.map((e) => e.name), ['STABLE'], 'the restarted secretwire wires')

  // Delete the workload namespace's ExternalSecret: the garbage collector deletes the Secret it owns. Once
  // secretwire's watch has seen the deletion, the next admission recreates it and ESO copies the same password.
  const co = kc.makeApiClient(CustomObjectsApi)
  const cached = async () => Number(/^secretwire_cache_objects\{kind="ExternalSecret"\} (\d+)$/m.exec((await sw.served.call('GET', '/metrics')).text)?.[1])
  const before = await cached()
  await co.deleteNamespacedCustomObject({ group: 'external-secrets.io', version: 'v1', plural: 'externalsecrets', namespace: a, name: 'secretwire-stable' })
  await until(async () => (await core.readNamespacedSecret({ namespace: a, name: 'secretwire-stable' }).then(() => false, (e: { code?: number }) => e.code === 404)),
    'the garbage collector deletes the Secret the ExternalSecret owned')
  await until(async () => await cached() === before - 1, 'secretwire\'s watch sees the deletion')
  await apps.createNamespacedDeployment({ namespace: a, body: workload('Deployment', { name: 'five', annotations: annotated('stable') }) })
  t.equal(await esCount(kc, a), 1, 'recreated by the admission')
  t.equal(await cluster.fingerprint(a, 'secretwire-stable'), original, 'the recreated Secret holds the same password')
  for (const ns of [b, storage]) t.equal(await cluster.fingerprint(ns, 'secretwire-stable'), original, `${ns}: unchanged`)
  // ESO adds its finalizer and writes the spec back with its defaults filled in (a new generation); what
  // secretwire wrote must be as it wrote it.
  const stored = await co.getNamespacedCustomObject({ group: 'external-secrets.io', version: 'v1', plural: 'externalsecrets', namespace: storage, name: 'secretwire-stable' }) as { spec: unknown }
  const [, written] = storageObjects('stable', defaultPassword, { storageNamespace: storage, clusterSecretStore: 'eso-cluster-secret-store', strategy: 'generate' })
  t.match(stored.spec, written!.spec, 'the storage ExternalSecret holds what secretwire wrote: nobody changed it')
})

async function until(condition: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

t.test('a namespace denied by policy gets no ExternalSecret and no Secret', async (t) => {
  const allowed = await namespace('team')
  const denied = await namespace('outsider')
  const dir = mkdtempSync(join(tmpdir(), 'secretwire-policy-'))
  writeFileSync(join(dir, 'policy.yaml'), 'sharedSecrets:\n  guarded:\n    namespaces: ["team-*"]\n')
  await secretwire(t, [allowed, denied], { SECRETWIRE_CONFIG: join(dir, 'policy.yaml') })
  await t.rejects(apps.createNamespacedDeployment({ namespace: denied, body: workload('Deployment', { annotations: annotated('guarded') }) }), { code: 403 })
  await apps.createNamespacedDeployment({ namespace: allowed, body: workload('Deployment', { annotations: annotated('guarded') }) })
  const password = await cluster.password(allowed, 'secretwire-guarded')
  checkShape(t, password)
  t.equal(await esCount(kc, denied), 0, 'no ExternalSecret in the denied namespace')
  await t.rejects(core.readNamespacedSecret({ namespace: denied, name: 'secretwire-guarded' }), { code: 404 }, 'and no Secret')
})

// docs/operations.md, "Strategies and ESO versions": SECRETWIRE_PUSH_UPDATE_POLICY=IfNotExists needs ESO >= 2.1. On the ESO the
// suite runs (v0.20.4) its Kubernetes provider cannot tell whether a secret exists, so ESO pushes nothing and says
// why on the PushSecret: the setting reaches ESO as written, and an ESO too old for it fails loudly, never by
// overwriting.
t.test('push with SECRETWIRE_PUSH_UPDATE_POLICY=IfNotExists on an ESO older than 2.1: nothing is pushed, and the PushSecret says why', async (t) => {
  const ns = await namespace('ifnotexists')
  await secretwire(t, [ns], { SECRETWIRE_STRATEGY: 'push', SECRETWIRE_PUSH_UPDATE_POLICY: 'IfNotExists' })
  await apps.createNamespacedDeployment({ namespace: ns, body: workload('Deployment', { annotations: annotated('never-pushed') }) })
  const co = kc.makeApiClient(CustomObjectsApi)
  type Condition = { type: string, status: string, message?: string }
  let ready: Condition | undefined
  await until(async () => {
    const push = await co.getNamespacedCustomObject({ group: 'external-secrets.io', version: 'v1alpha1', plural: 'pushsecrets', namespace: storage, name: 'secretwire-never-pushed' }) as { spec: { updatePolicy?: string }, status?: { conditions?: Condition[] } }
    t.equal(push.spec.updatePolicy, 'IfNotExists')
    ready = push.status?.conditions?.find((c) => c.type === 'Ready')
    return ready !== undefined
  }, 'ESO reports on the PushSecret')
  t.equal(ready?.status, 'False', 'not synced')
  t.match(ready?.message, /could not verify if secret exists in store: not implemented/, 'ESO names the reason')
  await t.rejects(core.readNamespacedSecret({ namespace: storage, name: 'secretwire-never-pushed' }), { code: 404 }, 'no password was stored')
})

// Software told a Secret's name (a Helm chart's existingSecret, CloudNativePG's bootstrap.initdb.secret) gets it in
// its own shape. CloudNativePG's documented contract for that Secret: type kubernetes.io/basic-auth with keys
// `username` and `password` (cloudnative-pg.io/documentation, "Bootstrap" → initdb, "secret"). Its operator is not
// served here, so the Secret is checked against that contract, not run.
t.test('the secret annotation: a chart\'s existingSecret and CloudNativePG\'s bootstrap Secret, in their shapes, with the stored password', async (t) => {
  const ns = await namespace('named')
  await secretwire(t, [ns])
  const chart = workload('Deployment', { namespace: ns, name: 'chart', annotations: { 'secretwire.io/secret': 'named-db=chart-db, named-db:basic-auth:app=cluster-app-user' } })
  const stored = await apps.createNamespacedDeployment({ namespace: ns, body: chart })
  t.same(stored.spec?.template.spec?.containers.map((c) => c.env), [undefined], 'nothing injected')
  t.equal(stored.metadata?.annotations?.['secretwire.io/secrets'], 'named-db=chart-db,named-db:basic-auth:app=cluster-app-user', 'marked for the reconciler')
  const original = await cluster.fingerprint(storage, 'secretwire-named-db')
  const sha = (v: string) => createHash('sha256').update(v).digest('hex')
  t.equal(await cluster.fingerprint(ns, 'cluster-app-user'), original, 'the basic-auth Secret holds the stored password')
  const basic = await core.readNamespacedSecret({ namespace: ns, name: 'cluster-app-user' })
  t.equal(basic.type, 'kubernetes.io/basic-auth', 'CloudNativePG\'s contract: type kubernetes.io/basic-auth')
  t.same(Object.keys(basic.data ?? {}).sort(), ['password', 'username'], 'with username and password, nothing else')
  t.equal(Buffer.from(basic.data!.username!, 'base64').toString(), 'app', 'username as the annotation gave it')
  t.equal(await cluster.fingerprint(ns, 'chart-db'), original, 'the Opaque Secret holds it too')
  const opaque = await core.readNamespacedSecret({ namespace: ns, name: 'chart-db' })
  t.equal(opaque.type, 'Opaque')
  t.same(Object.keys(opaque.data ?? {}).sort(), ['password', 'password-url'])
  t.equal(sha(decodeURIComponent(Buffer.from(opaque.data!['password-url']!, 'base64').toString())), original, 'password-url decodes to it')
  // Admitted again (an update, with the objects now in secretwire's watch cache): nothing is in the way of itself.
  await apps.patchNamespacedDeployment({ namespace: ns, name: 'chart', body: { spec: { template: { metadata: { labels: { rollout: '2' } } } } } },
    setHeaderOptions('Content-Type', PatchStrategy.MergePatch))
  t.pass('an update of the same Deployment is admitted')
  // One Secret, one maker: another NAME for the same Secret is refused, saying so.
  const other = workload('Deployment', { namespace: ns, name: 'other', annotations: { 'secretwire.io/secret': 'other-db=chart-db' } })
  await t.rejects(apps.createNamespacedDeployment({ namespace: ns, body: other }), { code: 409 }, 'a second maker of chart-db is refused (409)')
})
