// Room: deploy/plain/, Dockerfile, tools/node/ (secretwire as Pods on a node)
// The end of the user's story, on a node: secretwire installed from deploy/ as a platform team installs it (its
// image built from the Dockerfile, two replicas under Pod Security "restricted", reached by the API server through
// its Service), the real ESO, and containers that start with the shared password in their environment. Each
// container prints the SHA-256 of its env var (never the value), which the tests compare with the stored Secret's.
// Runs under tools/node/with-node.ts (npm run test:node).
import { X509Certificate } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { connect } from 'node:tls'
import { AppsV1Api, BatchV1Api, CoreV1Api, CustomObjectsApi, PatchStrategy, PolicyV1Api, RbacAuthorizationV1Api, setHeaderOptions, type V1Pod } from '@kubernetes/client-node'
import t from 'tap'
import { untilSecretwireAnswers } from '../../tools/cluster/webhook.ts'
import { images } from '../../tools/build/images.ts'
import { installSecretwire, untilRolledOut } from '../../tools/node/install.ts'
import { ESO_CONTROLLER_SELECTOR, ESO_NAMESPACE, ESO_RELEASE } from '../../tools/node/eso.ts'
import { initConfigMap, loginLine, manyNames, postgresServer, psqlClient } from '../../tools/node/postgres.ts'
import { logOf, nodeCluster, reportOf, reporter, running, sha256, storedHashOf, untilPods } from '../helpers/node.ts'
import { annotated, pod, workload } from '../helpers/objects.ts'
import { defaultEnvVar, namePrefix } from '../../src/core/contract.ts'
import { resources } from '../../src/core/esoobjects.ts'

const cluster = await nodeCluster()
const { kc } = cluster
const core = kc.makeApiClient(CoreV1Api)
const apps = kc.makeApiClient(AppsV1Api)
const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch)

const namespaces = ['grafana', 'db', 'late', 'ha', 'outage', 'rotate', 'batch', 'pg', 'pgclients']
const installed = installSecretwire(cluster.kubectl, [
  'defaults: { namespaces: [] }',
  'sharedSecrets:',
  '  grafana-db: { namespaces: [grafana, db] }',
  ...namespaces.slice(2, -2).map((ns) => `  ${ns}-db: { namespaces: [${ns}] }`),
  ...manyNames.map((n) => `  ${n}: { namespaces: [pg, pgclients] }`),
].join('\n'))
await untilRolledOut(kc, 'secretwire', 'secretwire')
for (const ns of namespaces) await core.createNamespace({ body: { metadata: { name: ns } } })
await untilSecretwireAnswers(kc, 'grafana', 'secretwire.io', 60_000)

const storedHash = (name: string) => storedHashOf(kc, name)

t.test('secretwire runs as its manifests describe: two replicas Ready under Pod Security restricted, behind its PDB', async (t) => {
  const pods = await untilPods(kc, 'secretwire', 'two Ready replicas', (p) => running(p, 2), 60_000, 'app.kubernetes.io/name=secretwire')
  for (const p of pods) {
    t.equal(p.spec?.containers[0]?.image, images.secretwire, `${p.metadata?.name}: the image built from the Dockerfile, set through kustomize`)
    t.equal(p.spec?.securityContext?.runAsUser, 65532)
    t.equal(p.spec?.containers[0]?.securityContext?.readOnlyRootFilesystem, true)
  }
  t.equal((await core.readNamespace({ name: 'secretwire' })).metadata?.labels?.['pod-security.kubernetes.io/enforce'], 'restricted',
    'admitted under Pod Security restricted')
  const pdb = await kc.makeApiClient(PolicyV1Api).readNamespacedPodDisruptionBudget({ namespace: 'secretwire', name: 'secretwire' })
  t.equal(pdb.status?.disruptionsAllowed, 1, 'the disruption controller counts the PDB: one of two may go')
})

t.test('Grafana and PostgreSQL in two namespaces start with the same password; $(VAR) in a later env var expands', async (t) => {
  const grafana = workload('Deployment', { name: 'grafana', namespace: 'grafana', annotations: annotated('grafana-db') })
  grafana.spec.template.spec.containers = [reporter(['GRAFANA_DB', 'GF_DATABASE_URL'], {
    extraEnv: [{ name: 'GF_DATABASE_URL', value: 'postgres://grafana:$(GRAFANA_DB)@postgres.db:5432/grafana' }],
  })]
  const postgres = workload('StatefulSet', { name: 'postgres', namespace: 'db', annotations: annotated('grafana-db=POSTGRES_PASSWORD') })
  postgres.spec.template.spec.containers = [reporter(['POSTGRES_PASSWORD'])]
  await apps.createNamespacedDeployment({ namespace: 'grafana', body: grafana })
  await apps.createNamespacedStatefulSet({ namespace: 'db', body: postgres })
  const [g] = await untilPods(kc, 'grafana', 'Grafana running', (p) => running(p))
  const [pg] = await untilPods(kc, 'db', 'PostgreSQL running', (p) => running(p))
  const stored = await storedHash('grafana-db')
  const fromGrafana = await reportOf(kc, 'grafana', g!.metadata!.name!, ['GRAFANA_DB'])
  const fromPostgres = await reportOf(kc, 'db', pg!.metadata!.name!, ['POSTGRES_PASSWORD'])
  t.equal(fromGrafana.GRAFANA_DB, stored, 'Grafana\'s container holds the stored password')
  t.equal(fromPostgres.POSTGRES_PASSWORD, stored, 'PostgreSQL\'s container holds the same password')
  const secret = await core.readNamespacedSecret({ namespace: 'eso-secret-storage', name: 'secretwire-grafana-db' })
  const password = Buffer.from(secret.data!.password!, 'base64').toString()
  t.equal(fromGrafana.GF_DATABASE_URL, sha256(`postgres://grafana:${password}@postgres.db:5432/grafana`), '$(GRAFANA_DB) expanded in GF_DATABASE_URL')
})

t.test('the url and file forms on a real kubelet: decoded, read from the file by a non-root user, read-only, mode 0400', async (t) => {
  const forms = workload('Deployment', { name: 'forms', namespace: 'grafana', annotations: annotated('grafana-db:url, grafana-db:file') })
  // $$ is Kubernetes' escape for $. busybox httpd -d decodes percent-encoding; stat shows the file as the kubelet made it.
  forms.spec.template.spec.securityContext = { runAsUser: 1000, runAsGroup: 1000, fsGroup: 2000 }
  forms.spec.template.spec.containers = [{
    name: 'app', image: images.busybox,
    command: ['/bin/sh', '-c', [
      'echo URL=$$(busybox httpd -d "$$GRAFANA_DB_URLENCODED" | sha256sum | cut -d\' \' -f1)',
      'echo FILE=$$(cat "$$GRAFANA_DB_FILE" | sha256sum | cut -d\' \' -f1)',
      'echo MODE=$$(stat -L -c \'%a %g\' "$$GRAFANA_DB_FILE")',
      'echo WRITE=$$(touch "$$(dirname "$$GRAFANA_DB_FILE")/x" 2>/dev/null && echo yes || echo refused)',
      'echo ID=$$(id -u)',
      'exec sleep 3600',
    ].join('; ')],
  }]
  await apps.createNamespacedDeployment({ namespace: 'grafana', body: forms })
  const [p] = await untilPods(kc, 'grafana', 'the forms Pod running', (pods) => running(pods), undefined, 'app=forms')
  const got = await reportOf(kc, 'grafana', p!.metadata!.name!, ['URL', 'FILE', 'MODE', 'WRITE', 'ID'])
  const stored = await storedHash('grafana-db')
  t.equal(got.URL, stored, 'GRAFANA_DB_URLENCODED decodes to the stored password')
  t.equal(got.FILE, stored, 'the file GRAFANA_DB_FILE names holds the stored password, read by uid 1000')
  t.equal(got.ID, '1000', 'the container ran as a non-root user')
  t.equal(got.MODE, '440 2000', 'mode 0400 as written, plus group read for the Pod\'s fsGroup (the kubelet adds it)')
  t.equal(got.WRITE, 'refused', 'the mount is read-only')
})

t.test('a real PostgreSQL takes 16 generated passwords from files; psql logs in as each with the README\'s URL and with PGPASSWORD', async (t) => {
  // Debian's PostgreSQL 15 and its psql (libpq). The seed's generator puts 5 of -_$@ in 42 characters: over 16
  // passwords, one without an @ somewhere is a chance of 0.24^16 (1e-10); the server's log shows which were hit.
  await core.createNamespacedConfigMap({ namespace: 'pg', body: initConfigMap('pg', 'postgres-init') })
  await core.createNamespacedPod({ namespace: 'pg', body: postgresServer('pg', manyNames, 'postgres-init') })
  const [server] = await untilPods(kc, 'pg', 'PostgreSQL ready for TCP connections', (p) => running(p), 180_000)
  await core.createNamespacedPod({ namespace: 'pgclients', body: psqlClient('pgclients', manyNames, server!.status!.podIP!) })
  await untilPods(kc, 'pgclients', 'psql done', (p) => ['Succeeded', 'Failed'].includes(p[0]?.status?.phase ?? ''), 120_000)
  const logins = new Map((await logOf(kc, 'pgclients', 'psql')).trim().split('\n').map((l) => loginLine.exec(l)).filter((m) => m !== null)
    .map((m) => [`${m[1]} ${m[2]}`, m[3]!.trim()]))
  for (const name of manyNames) {
    t.equal(logins.get(`${name} url`), `logged in as ${name}`, `${name}: libpq parsed postgres://${name}:$(${defaultEnvVar(name, 'url')})@postgres.db:5432/${name} and authenticated`)
    t.equal(logins.get(`${name} raw`), `logged in as ${name}`, `${name}: the raw form in PGPASSWORD authenticated`)
  }
  const held = new Set((await logOf(kc, 'pg', 'postgres')).split('\n').flatMap((l) => /^role \S+ ready; its password holds:(.*)$/.exec(l)?.[1]?.trim().split(/\s+/).filter(Boolean) ?? []))
  t.same([...held].sort(), ['$', '-', '@', '_'], 'among the 16 passwords were ones with @, $, - and _')
  t.match(await logOf(kc, 'pg', 'postgres'), /role pg-16 ready/, 'the server made every role from its password file')
})

t.test('a Pod whose Secret is not synced yet waits (CreateContainerConfigError), then starts once ESO syncs it', async (t) => {
  // ESO's controller scaled to zero and back, as an operator would stop it (its chart's Deployment, tools/node/eso.ts).
  const esoReplicas = (replicas: number) => apps.patchNamespacedDeploymentScale({ namespace: ESO_NAMESPACE, name: ESO_RELEASE, body: { spec: { replicas } } }, merge)
  await esoReplicas(0)
  t.teardown(() => esoReplicas(1).catch(() => undefined))
  await untilPods(kc, ESO_NAMESPACE, 'ESO\'s controller gone', (p) => p.length === 0, 60_000, ESO_CONTROLLER_SELECTOR)
  const late = workload('Deployment', { name: 'late', namespace: 'late', annotations: annotated('late-db') })
  late.spec.template.spec.containers = [reporter(['LATE_DB'])]
  await apps.createNamespacedDeployment({ namespace: 'late', body: late })
  await untilPods(kc, 'late', 'the Pod waiting for its Secret', (p) =>
    p.length === 1 && p[0]!.status?.containerStatuses?.[0]?.state?.waiting?.reason === 'CreateContainerConfigError')
  t.pass('waiting: CreateContainerConfigError (Secret secretwire-late-db not found)')
  await esoReplicas(1)
  const [p] = await untilPods(kc, 'late', 'the Pod running once ESO synced', (p) => running(p))
  t.equal((await reportOf(kc, 'late', p!.metadata!.name!, ['LATE_DB'])).LATE_DB, await storedHash('late-db'), 'it started with the password')
})

t.test('one secretwire Pod deleted: admissions keep working through the other, none is lost', async (t) => {
  const [victim] = await untilPods(kc, 'secretwire', 'two replicas', (p) => running(p, 2), 60_000, 'app.kubernetes.io/name=secretwire')
  await core.deleteNamespacedPod({ namespace: 'secretwire', name: victim!.metadata!.name! })
  const results: string[] = []
  for (let i = 0; i < 20; i++) {
    const created = await core.createNamespacedPod({ namespace: 'ha', dryRun: 'All', body: pod({ name: `p${i}`, annotations: annotated('ha-db') }) })
      .then((p) => (p.spec?.containers[0]?.env?.[0]?.name === 'HA_DB' ? 'wired' : 'unwired'), (e: { code?: number }) => `refused ${e.code}`)
    results.push(created)
    await new Promise((r) => setTimeout(r, 400))
  }
  t.same(results, results.map(() => 'wired'), `20 admissions over 8 s while ${victim!.metadata!.name} terminated: all wired`)
  await untilRolledOut(kc, 'secretwire', 'secretwire')
})

t.test('secretwire scaled to zero: annotated Pods are refused, nothing else is, and they run once it is back', async (t) => {
  const scale = (replicas: number) => apps.patchNamespacedDeploymentScale({ namespace: 'secretwire', name: 'secretwire', body: { spec: { replicas } } }, merge)
  await scale(0)
  t.teardown(async () => { await scale(2).catch(() => undefined) })
  await untilPods(kc, 'secretwire', 'no secretwire Pod left', (p) => p.length === 0, 60_000, 'app.kubernetes.io/name=secretwire')
  const plain = pod({ name: 'plain', containers: [reporter([])] })
  plain.spec.containers[0].imagePullPolicy = 'IfNotPresent'
  await core.createNamespacedPod({ namespace: 'outage', body: plain })
  const outage = workload('Deployment', { name: 'app', namespace: 'outage', annotations: annotated('outage-db') })
  outage.spec.template.spec.containers = [reporter(['OUTAGE_DB'])]
  const stored = await apps.createNamespacedDeployment({ namespace: 'outage', body: outage })
  t.equal(stored.spec?.template.spec?.containers[0]?.env, undefined, 'the Deployment is stored unwired (failurePolicy Ignore)')
  const events = async () => (await core.listNamespacedEvent({ namespace: 'outage' })).items.map((e) => e.message ?? '')
  const refused = await (async () => {
    const deadline = Date.now() + 60_000
    for (;;) {
      const found = (await events()).find((m) => m.includes('secretwire did not wire this Pod'))
      if (found !== undefined || Date.now() > deadline) return found
      await new Promise((r) => setTimeout(r, 250))
    }
  })()
  t.match(refused, /ValidatingAdmissionPolicy 'secretwire-wired' .* denied request: secretwire did not wire this Pod/, 'its ReplicaSet\'s Pod is refused, saying why')
  await untilPods(kc, 'outage', 'the unannotated Pod runs meanwhile', (p) => p.some((x) => x.metadata?.name === 'plain' && x.status?.phase === 'Running'))
  t.pass('nothing else is blocked')
  await scale(2)
  await untilRolledOut(kc, 'secretwire', 'secretwire')
  const pods = await untilPods(kc, 'outage', 'the ReplicaSet\'s retry succeeds', (p) => p.filter((x) => x.metadata?.name !== 'plain').some((x) => x.status?.containerStatuses?.[0]?.ready === true), 120_000)
  const app = pods.find((x) => x.metadata?.name !== 'plain')!
  t.equal((await reportOf(kc, 'outage', app.metadata!.name!, ['OUTAGE_DB'])).OUTAGE_DB, await storedHash('outage-db'), 'and it runs with the password')
})

t.test('the serving certificate rotated (certs/generate.sh again, re-applied): no admission fails', async (t) => {
  const pods = await untilPods(kc, 'secretwire', 'two replicas', (p) => running(p, 2), 60_000, 'app.kubernetes.io/name=secretwire')
  const served = (ip: string) => new Promise<string>((res, rej) => {
    const socket = connect({ host: ip, port: 8443, servername: 'secretwire.secretwire.svc', rejectUnauthorized: false }, () => {
      res(new X509Certificate(socket.getPeerX509Certificate()!.raw).fingerprint256)
      socket.end()
    })
    socket.on('error', rej)
  })
  installed.rotateCertificate()
  const rotated = new X509Certificate(readFileSync(join(installed.deployDir, 'plain', 'generated', 'tls.crt'))).fingerprint256
  const results: string[] = []
  const deadline = Date.now() + 150_000
  for (let i = 0; ; i++) {
    const outcome = await core.createNamespacedPod({ namespace: 'rotate', dryRun: 'All', body: pod({ name: `r${i}`, annotations: annotated('rotate-db') }) })
      .then((p) => (p.spec?.containers[0]?.env?.[0]?.name === 'ROTATE_DB' ? 'wired' : 'unwired'), (e: { code?: number }) => `refused ${e.code}`)
    results.push(outcome)
    const fingerprints = await Promise.all(pods.map((p) => served(p.status!.podIP!).catch(() => 'unreachable')))
    if (fingerprints.every((f) => f === rotated)) break
    if (Date.now() > deadline) {
      t.fail(`the Pods did not serve the new certificate within 150 s: ${fingerprints.join(', ')}`)
      break
    }
    await new Promise((r) => setTimeout(r, 500))
  }
  t.same(results, results.map(() => 'wired'), `${results.length} admissions during the rotation: all wired`)
})

t.test('a Job and a CronJob run to completion with the password', async (t) => {
  const batch = kc.makeApiClient(BatchV1Api)
  const job = workload('Job', { name: 'migrate', namespace: 'batch', annotations: annotated('batch-db') })
  job.spec.template.spec.containers = [reporter(['BATCH_DB'], { exit: true })]
  await batch.createNamespacedJob({ namespace: 'batch', body: job })
  const cron = workload('CronJob', { name: 'nightly', namespace: 'batch', annotations: annotated('batch-db') })
  cron.spec.schedule = '* * * * *'
  cron.spec.jobTemplate.spec.template.spec.containers = [reporter(['BATCH_DB'], { exit: true })]
  await batch.createNamespacedCronJob({ namespace: 'batch', body: cron })
  const done = await untilPods(kc, 'batch', 'the Job\'s and the CronJob\'s Pods succeed', (p) => {
    const succeeded = p.filter((x) => x.status?.phase === 'Succeeded')
    return succeeded.some((x) => x.metadata?.labels?.['job-name'] === 'migrate') && succeeded.some((x) => x.metadata?.labels?.['job-name']?.startsWith('nightly-') === true)
  }, 150_000)
  const stored = await storedHash('batch-db')
  for (const p of done.filter((x) => x.status?.phase === 'Succeeded')) {
    t.equal((await reportOf(kc, 'batch', p.metadata!.name!, ['BATCH_DB'])).BATCH_DB, stored, `${p.metadata?.labels?.['job-name']}: completed with the password`)
  }
})

t.test('secretwire status in a Pod: with no kubeconfig, the CLI uses the Pod\'s ServiceAccount (in-cluster)', async (t) => {
  // The in-cluster rule of src/cli/kubeconfig.ts, the last one: no --kubeconfig, no KUBECONFIG, no ~/.kube/config.
  await core.createNamespace({ body: { metadata: { name: 'ops' } } })
  await core.createNamespacedServiceAccount({ namespace: 'ops', body: { metadata: { name: 'status' } } })
  await kc.makeApiClient(RbacAuthorizationV1Api).createClusterRoleBinding({ body: {
    metadata: { name: 'ops-status-view' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'view' },
    subjects: [{ kind: 'ServiceAccount', name: 'status', namespace: 'ops' }],
  } })
  await core.createNamespacedPod({ namespace: 'ops', body: {
    metadata: { name: 'status' },
    spec: { serviceAccountName: 'status', restartPolicy: 'Never', containers: [{ name: 'cli', image: images.secretwire, args: ['status', '-o', 'json'] }] },
  } })
  await untilPods(kc, 'ops', 'the status Pod ends', (p) => ['Succeeded', 'Failed'].includes(p[0]?.status?.phase ?? ''), 90_000)
  const log = await logOf(kc, 'ops', 'status')
  const out = JSON.parse(log) as { sharedSecrets: { name: string, namespaces: { namespace: string, consumers: string[] }[] }[], unreadable: string[] }
  t.notOk(out.unreadable.some((u) => /^(Deployments|StatefulSets|Pods) /.test(u)), `view, cluster-wide: every workload readable (${out.unreadable.join('; ')})`)
  const grafana = out.sharedSecrets.find((s) => s.name === 'grafana-db')
  t.same(grafana?.namespaces.map((n) => n.namespace), ['db', 'grafana'], 'it sees grafana-db\'s two namespaces, as the ServiceAccount may')
})

t.test('a healthy install is quiet: no Warning Event and no ESO error about secretwire\'s objects', async (t) => {
  // Over the whole run above, faults included (ESO stopped and started, secretwire scaled to zero and back, a
  // certificate rotated). About the objects secretwire makes and the Secrets ESO makes for them (all named
  // secretwire-NAME: a tenant's own ESO objects, such as test/node/eso-identity's, are not counted); Pods (secretwire's
  // own starting and draining, the tests' waiting for a Secret) are the kubelet's business and not counted here.
  // The one exception: namespace late, whose ExternalSecret was made while ESO was stopped on purpose. When ESO
  // comes back it syncs that one and the stored password at once (--concurrent): until the stored Secret exists
  // its tries fail, retried after 5, 10, 20 ms..., so one or a few failures, all within that moment, never after.
  const managed = new Set(Object.keys(resources))
  const events = (await core.listEventForAllNamespaces()).items.filter((e) => e.type === 'Warning' &&
    (managed.has(e.involvedObject.kind ?? '') || e.involvedObject.kind === 'Secret') && e.involvedObject.name?.startsWith(namePrefix) === true)
  const line = (e: typeof events[number]) => `${e.involvedObject.kind} ${e.involvedObject.namespace}/${e.involvedObject.name}: ${e.reason} x${e.count ?? 1}: ${e.message}`
  t.same(events.filter((e) => e.involvedObject.namespace !== 'late').map(line), [],
    'no Warning Event about an ExternalSecret, PushSecret, Password or secretwire-* Secret')
  const stored = await kc.makeApiClient(CustomObjectsApi).getNamespacedCustomObject({ ...resources.ExternalSecret, namespace: 'eso-secret-storage', name: `${namePrefix}late-db` }) as { status?: { conditions?: { type: string, lastTransitionTime?: string }[] } }
  const storedAt = Date.parse(stored.status?.conditions?.find((c) => c.type === 'Ready')?.lastTransitionTime ?? '')
  t.ok(Number.isFinite(storedAt), 'the stored password of late-db is Ready')
  for (const e of events.filter((x) => x.involvedObject.namespace === 'late')) {
    const last = new Date(e.lastTimestamp ?? e.eventTime ?? 0).getTime()
    // Event times have second resolution.
    t.ok(last <= storedAt + 1000 && (e.count ?? 1) <= 3, `where ESO was down: a few while ESO caught up, none after its stored password was there: ${line(e)}`)
  }
  const errors = readFileSync(cluster.esoLog, 'utf8').split('\n').filter((l) => /"level":"error"/.test(l) && l.includes(namePrefix))
  t.same(errors.filter((l) => !l.includes('"namespace":"late"')).slice(0, 10), [], `no error logged by ESO about a secretwire-* object outside namespace late`)
  t.ok(errors.length <= 3, `and a few there at most (${errors.length})`)
})
