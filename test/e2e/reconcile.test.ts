// Room: src/reconcile/loop.ts, src/observe/events.ts (end to end with ESO)
// The operator half, with the real ESO and the controllers: two `secretwire serve` replicas, one reconciling.
// What it made for a workload comes back without an admission, goes once the grace period after the last consumer
// has passed (and not before, and not when a consumer returns), refused admissions leave nothing behind, the
// replicas never both act, and Events and `secretwire status` say what ESO says when the store is broken.
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { AdmissionregistrationV1Api, AppsV1Api, CoreV1Api, CustomObjectsApi, EventsV1Api, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node'
import t from 'tap'
import { parse as parseYaml } from 'yaml'
import { untilSecretwireAnswers, untilWebhookAnswers } from '../../tools/cluster/webhook.ts'
import { loopbackCert } from '../helpers/certs.ts'
import { cli } from '../helpers/cli.ts'
import { esoCluster } from '../helpers/esocluster.ts'
import { annotated, workload } from '../helpers/objects.ts'
import { serve, type Served } from '../helpers/process.ts'
import { registerSecretwireWebhook } from '../helpers/webhook.ts'

// Two replicas, the real ESO, grace periods waited out: longer than the suite's per-file default.
t.setTimeout(420_000)
const cluster = await esoCluster(t)
const { kc, cp } = cluster
const core = kc.makeApiClient(CoreV1Api)
const apps = kc.makeApiClient(AppsV1Api)
const co = kc.makeApiClient(CustomObjectsApi)
const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch)
const graceSeconds = 5
const namespaces = ['back', 'gone', 'kept', 'refused', 'broken', 'named']
for (const ns of [...namespaces, 'leases']) await core.createNamespace({ body: { metadata: { name: ns } } })

const tls = await loopbackCert()
const work = mkdtempSync(join(tmpdir(), 'secretwire-reconcile-'))
writeFileSync(join(work, 'tls.crt'), tls.cert)
writeFileSync(join(work, 'tls.key'), tls.key)
const env = {
  KUBECONFIG: cp.info.kubeconfig, TLS_CERT_FILE: join(work, 'tls.crt'), TLS_KEY_FILE: join(work, 'tls.key'), SECRETWIRE_SHUTDOWN_DELAY_MS: '0',
  SECRETWIRE_GRACE_PERIOD_SECONDS: String(graceSeconds), SECRETWIRE_RECONCILE_INTERVAL_SECONDS: '1', SECRETWIRE_LEASE_NAMESPACE: 'leases', LOG_LEVEL: 'debug',
}
const replicas: Served[] = [await serve(t, env, tls.cert), await serve(t, env, tls.cert)]
await registerSecretwireWebhook(t, kc, { name: 'secretwire-reconcile', namespaces, url: `https://127.0.0.1:${replicas[0]!.port}/mutate`, caBundle: tls.caBundle })
for (const ns of namespaces) await untilSecretwireAnswers(kc, ns)

const metric = async (r: Served, series: string) => Number(new RegExp(`^${series.replace(/[{}"]/g, (c) => `\\${c}`)} (\\d+)`, 'm').exec((await r.call('GET', '/metrics')).text)?.[1] ?? 0)
const leaders = async () => (await Promise.all(replicas.filter((r) => r.child.exitCode === null).map((r) => metric(r, 'secretwire_reconciler_leading')))).reduce((a, b) => a + b, 0)
const externalSecret = (namespace: string, name: string) => co.getNamespacedCustomObject({ group: 'external-secrets.io', version: 'v1', plural: 'externalsecrets', namespace, name: `secretwire-${name}` })
  .then((o) => (o as { metadata: { uid: string } }).metadata.uid, (e: { code?: number }) => { if (e.code === 404) return undefined; throw e })
async function until(what: string, probe: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  await untilWebhookAnswers(probe, timeoutMs).catch(() => { throw new Error(`not within ${timeoutMs} ms: ${what}`) })
}
/** The replica holding the Lease (the one whose reconciler metrics count). */
const leader = async () => (await Promise.all(replicas.filter((r) => r.child.exitCode === null).map(async (r) => [r, await metric(r, 'secretwire_reconciler_leading')] as const))).find(([, v]) => v === 1)?.[0]
const deploy = (namespace: string, name: string, shared: string) =>
  apps.createNamespacedDeployment({ namespace, body: workload('Deployment', { name, annotations: annotated(shared) }) })

t.test('of two replicas exactly one reconciles', async (t) => {
  await until('a leader', async () => (await leaders()) === 1, 30_000)
  for (let i = 0; i < 10; i++) {
    t.equal(await leaders(), 1, 'one replica leads')
    await new Promise((r) => setTimeout(r, 200))
  }
})

t.test('a deleted ExternalSecret comes back with no admission', async (t) => {
  await deploy('back', 'app', 'back-db')
  const original = await cluster.fingerprint('back', 'secretwire-back-db')
  const uid = await externalSecret('back', 'back-db')
  const acting = (await leader())!
  const recreated = () => metric(acting, 'secretwire_reconciled_objects_total{action="recreated"}')
  const before = await recreated()
  await co.deleteNamespacedCustomObject({ group: 'external-secrets.io', version: 'v1', plural: 'externalsecrets', namespace: 'back', name: 'secretwire-back-db' })
  await until('the reconciler recreates it', async () => { const now = await externalSecret('back', 'back-db'); return now !== undefined && now !== uid })
  t.pass('recreated without an admission')
  // Counted once the create has returned, a moment after the object is visible.
  await until('secretwire_reconciled_objects_total{action="recreated"} counts it', async () => (await recreated()) === before + 1)
  t.pass('secretwire_reconciled_objects_total{action="recreated"} counts it')
  await until('ESO copies the password again', async () => (await core.readNamespacedSecret({ namespace: 'back', name: 'secretwire-back-db' }).catch(() => undefined))?.data?.password !== undefined)
  t.equal(await cluster.fingerprint('back', 'secretwire-back-db'), original, 'the same password')
  const events = kc.makeApiClient(EventsV1Api)
  // The reconciler tells each state once per NAME and namespace (a recreate that syncs before its next round is no
  // new state): the Events of the first sync, on the workload and on the ExternalSecret.
  const synced = async () => (await events.listNamespacedEvent({ namespace: 'back' })).items
    .filter((e) => e.reason === 'SharedSecretSynced').map((e) => `${e.type} ${e.regarding?.kind}/${e.regarding?.name}: ${e.note}`).sort()
  await until('Events say the Secret is synced', async () => (await synced()).length >= 2)
  t.same([...new Set(await synced())], [
    'Normal Deployment/app: ESO has synced Secret secretwire-back-db: Pods naming shared secret back-db start with it',
    'Normal ExternalSecret/secretwire-back-db: ESO has synced Secret secretwire-back-db: Pods naming shared secret back-db start with it',
  ], 'on the workload and on the ExternalSecret')
})

t.test('the last consumer gone: its ExternalSecret and Secret go after the grace period, not before', async (t) => {
  await deploy('gone', 'app', 'gone-db')
  await cluster.fingerprint('gone', 'secretwire-gone-db')
  const acting = (await leader())!
  const collected = () => metric(acting, 'secretwire_reconciled_objects_total{action="collected"}')
  const before = await collected()
  await apps.deleteNamespacedDeployment({ namespace: 'gone', name: 'app' })
  await until('its Pods are gone', async () => (await core.listNamespacedPod({ namespace: 'gone' })).items.length === 0)
  const goneAt = Date.now()
  t.ok(await externalSecret('gone', 'gone-db'), 'right after: still there')
  await until('collected', async () => (await externalSecret('gone', 'gone-db')) === undefined, 60_000)
  t.ok(Date.now() - goneAt >= (graceSeconds - 1) * 1000, `collected ${Date.now() - goneAt} ms after the last consumer went (grace ${graceSeconds} s)`)
  await until('secretwire_reconciled_objects_total{action="collected"} counts it', async () => (await collected()) === before + 1)
  t.pass('secretwire_reconciled_objects_total{action="collected"} counts it')
  await until('the garbage collector deletes its Secret', async () => (await core.readNamespacedSecret({ namespace: 'gone', name: 'secretwire-gone-db' }).then(() => false, (e: { code?: number }) => e.code === 404)))
  t.pass('its copy of the password is gone too')
  t.ok(await co.getNamespacedCustomObject({ group: 'generators.external-secrets.io', version: 'v1alpha1', plural: 'passwords', namespace: 'eso-secret-storage', name: 'secretwire-gone-db' }),
    'the generator stays')
  t.ok(await cluster.fingerprint('eso-secret-storage', 'secretwire-gone-db'), 'and the stored password')
})

t.test('a named Secret (secretwire.io/secret): recreated with no admission, collected after the grace period', async (t) => {
  const named = (name: string) => co.getNamespacedCustomObject({ group: 'external-secrets.io', version: 'v1', plural: 'externalsecrets', namespace: 'named', name })
    .then((o) => (o as { metadata: { uid: string } }).metadata.uid, (e: { code?: number }) => { if (e.code === 404) return undefined; throw e })
  await apps.createNamespacedDeployment({ namespace: 'named', body: workload('Deployment', { name: 'chart', annotations: { 'secretwire.io/secret': 'named-db:basic-auth:app=app-user' } }) })
  const original = await cluster.fingerprint('named', 'app-user')
  const uid = await named('app-user')
  await co.deleteNamespacedCustomObject({ group: 'external-secrets.io', version: 'v1', plural: 'externalsecrets', namespace: 'named', name: 'app-user' })
  await until('the reconciler recreates it', async () => { const now = await named('app-user'); return now !== undefined && now !== uid })
  t.pass('recreated without an admission, from the entry marked on the Deployment')
  await until('ESO makes the Secret again', async () => (await core.readNamespacedSecret({ namespace: 'named', name: 'app-user' }).catch(() => undefined))?.data?.password !== undefined)
  t.equal(await cluster.fingerprint('named', 'app-user'), original, 'with the same password')
  await apps.deleteNamespacedDeployment({ namespace: 'named', name: 'chart' })
  const goneAt = Date.now()
  await until('collected', async () => (await named('app-user')) === undefined, 60_000)
  t.ok(Date.now() - goneAt >= (graceSeconds - 1) * 1000, `collected ${Date.now() - goneAt} ms after its last consumer went (grace ${graceSeconds} s)`)
  await until('the garbage collector deletes its Secret', async () => (await core.readNamespacedSecret({ namespace: 'named', name: 'app-user' }).then(() => false, (e: { code?: number }) => e.code === 404)))
  t.pass('and its Secret')
})

t.test('a consumer added within the grace period keeps the ExternalSecret', async (t) => {
  await deploy('kept', 'first', 'kept-db')
  const uid = await externalSecret('kept', 'kept-db')
  await apps.deleteNamespacedDeployment({ namespace: 'kept', name: 'first' })
  await until('its Pods are gone', async () => (await core.listNamespacedPod({ namespace: 'kept' })).items.length === 0)
  await deploy('kept', 'second', 'kept-db')
  await new Promise((r) => setTimeout(r, (graceSeconds + 3) * 1000))
  t.equal(await externalSecret('kept', 'kept-db'), uid, 'the same ExternalSecret, past the grace period')
})

t.test('an admission refused after secretwire wired it leaves nothing behind once reconciled', async (t) => {
  // A later admission step (here a ValidatingAdmissionPolicy) refuses the Deployment secretwire just wired.
  const admission = kc.makeApiClient(AdmissionregistrationV1Api)
  await admission.createValidatingAdmissionPolicy({ body: {
    metadata: { name: 'refuse-deployments' },
    spec: { failurePolicy: 'Fail', matchConstraints: { resourceRules: [{ apiGroups: ['apps'], apiVersions: ['v1'], operations: ['CREATE'], resources: ['deployments'] }] },
      validations: [{ expression: 'false', message: 'refused by a later policy' }] },
  } })
  await admission.createValidatingAdmissionPolicyBinding({ body: { metadata: { name: 'refuse-deployments' }, spec: {
    policyName: 'refuse-deployments', validationActions: ['Deny'],
    matchResources: { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'refused' } } } } } })
  t.teardown(async () => {
    await admission.deleteValidatingAdmissionPolicyBinding({ name: 'refuse-deployments' }).catch(() => undefined)
    await admission.deleteValidatingAdmissionPolicy({ name: 'refuse-deployments' }).catch(() => undefined)
  })
  // A policy takes effect a moment after it is created: probe with dry runs (secretwire creates nothing for them).
  await until('the later policy is in effect', async () => apps.createNamespacedDeployment({ namespace: 'refused', dryRun: 'All', body: workload('Deployment', { name: 'probe' }) })
    .then(() => false, (e: { body?: unknown }) => String(e.body).includes('refused by a later policy')))
  const refusal = await deploy('refused', 'app', 'refused-db').then(() => undefined, (e: { body?: unknown }) => e)
  t.match(String(refusal?.body), /refused by a later policy/, 'the Deployment secretwire wired is refused after it')
  t.ok(await externalSecret('refused', 'refused-db'), 'secretwire had created its ExternalSecret')
  await until('collected', async () => (await externalSecret('refused', 'refused-db')) === undefined)
  t.pass('nothing left in the namespace')
})

t.test('the store broken: Events on the workload and `secretwire status` say what ESO says', async (t) => {
  const store = { group: 'external-secrets.io', version: 'v1', plural: 'clustersecretstores', name: 'eso-cluster-secret-store' }
  const before = await co.getClusterCustomObject(store) as { spec: { provider: { kubernetes: { server: { url: string } } } } }
  const failedSeries = 'secretwire_consumer_externalsecrets{state="failed"}'
  const failedBefore = await metric((await leader())!, failedSeries)
  await co.patchClusterCustomObject({ ...store, body: { spec: { provider: { kubernetes: { server: { url: 'https://127.0.0.1:1' } } } } } }, merge)
  t.teardown(() => co.patchClusterCustomObject({ ...store, body: { spec: { provider: { kubernetes: { server: { url: before.spec.provider.kubernetes.server.url } } } } } }, merge))
  await deploy('broken', 'app', 'broken-db')
  const events = kc.makeApiClient(EventsV1Api)
  let note = ''
  await until('an Event on the Deployment says ESO failed', async () => {
    const found = (await events.listNamespacedEvent({ namespace: 'broken' })).items.find((e) => e.regarding?.kind === 'Deployment' && e.reason === 'SharedSecretFailed')
    note = found?.note ?? ''
    return found !== undefined
  }, 90_000)
  t.match(note, /^ESO failed to sync Secret secretwire-broken-db: .+; Pods naming shared secret broken-db cannot start$/, note)

  const status = (output?: string) => cli(['status', ...(output ? ['-o', output] : [])], { env: { KUBECONFIG: cp.info.kubeconfig } })
  const json = status('json')
  t.equal(json.status, 1, 'exit status 1: something is failing')
  const parsed = JSON.parse(json.stdout) as { failing: boolean, sharedSecrets: { name: string, stored?: { state: string }, namespaces: { namespace: string, consumers: string[], externalSecret?: { state: string } }[] }[] }
  const broken = parsed.sharedSecrets.find((s) => s.name === 'broken-db')?.namespaces.find((n) => n.namespace === 'broken')
  t.equal(broken?.externalSecret?.state, 'failed', 'the broken namespace\'s ExternalSecret: failed')
  t.same(broken?.consumers.filter((c) => !/^Pod\/app-/.test(c)), ['Deployment/app'], 'its consumers: the Deployment (and its Pods)')
  const healthy = parsed.sharedSecrets.find((s) => s.name === 'back-db')?.namespaces[0]
  t.match(healthy, { namespace: 'back', externalSecret: { state: 'synced' } }, 'the healthy ones say synced')
  t.equal(parsed.sharedSecrets.find((s) => s.name === 'back-db')?.stored?.state, 'synced', 'and their stored secret')
  const table = status()
  t.match(table.stdout, /\nbroken-db [^\n]*\n\s+broken\s+Deployment\/app[^\n]*\sfailed: SecretSyncedError: /, 'the table says it too')
  t.match(table.stdout, /FAILING/)
  const yaml = status('yaml')
  t.equal(yaml.status, 1, '-o yaml: exit status 1 too')
  const fromYaml = parseYaml(yaml.stdout) as typeof parsed
  t.equal(fromYaml.failing, true)
  t.equal(fromYaml.sharedSecrets.find((s) => s.name === 'broken-db')?.namespaces.find((n) => n.namespace === 'broken')?.externalSecret?.state, 'failed', '-o yaml says what -o json says')
  await until('the leader counts the failed ExternalSecret', async () => (await metric((await leader())!, failedSeries)) >= failedBefore + 1)
  t.pass('secretwire_consumer_externalsecrets{state="failed"} counts broken-db\'s ExternalSecret')
  t.notOk(`${json.stdout}${table.stdout}`.includes(await cluster.password('back', 'secretwire-back-db')), 'no password in the output')
})

t.test('the leader stopped: the other replica takes over and acts', async (t) => {
  const leader = (await Promise.all(replicas.map(async (r) => [r, await metric(r, 'secretwire_reconciler_leading')] as const))).find(([, v]) => v === 1)![0]
  leader.child.kill('SIGTERM')
  await leader.exited
  await until('the other replica leads', async () => (await leaders()) === 1, 30_000)
  const uid = await externalSecret('back', 'back-db')
  await co.deleteNamespacedCustomObject({ group: 'external-secrets.io', version: 'v1', plural: 'externalsecrets', namespace: 'back', name: 'secretwire-back-db' })
  await until('the new leader recreates it', async () => { const now = await externalSecret('back', 'back-db'); return now !== undefined && now !== uid })
  t.pass('recreated by the replica that took over')
})
