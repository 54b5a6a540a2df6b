// `npm run demo` (runs this inside tools/node/with-node.ts): the whole product on a machine with no cluster. The
// cluster is up (control plane with its controllers, a node, the real ESO, deploy/eso); this installs secretwire
// from deploy/ as a platform team would (certs/generate.sh, `kubectl apply -k deploy/plain`, the image built from
// the Dockerfile, the multi-tenant example policy), runs examples/postgres.yaml with a real PostgreSQL and
// examples/grafana.yaml with psql in Grafana's place, then the many-password check of tools/node/postgres.ts, and
// shows what happened: the objects secretwire made, the env vars as stored, and each login (never a password).
// Then it stays up until Ctrl-C.
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { AppsV1Api, CoreV1Api, CustomObjectsApi, KubeConfig, type V1EnvVar, type V1Pod, type V1PodSpec } from '@kubernetes/client-node'
import { parseAllDocuments, stringify } from 'yaml'
import { managedBy } from '../../src/core/contract.ts'
import { resources } from '../../src/core/esoobjects.ts'
import { images } from '../build/images.ts'
import { installSecretwire, untilRolledOut } from '../node/install.ts'
import { initConfigMap, manyNames, postgresHost, postgresServer, psqlClient } from '../node/postgres.ts'
import { kubectlPath } from '../build/builds.ts'
import { repoRoot } from '../paths.ts'
import { untilSecretwireAnswers } from '../cluster/webhook.ts'

const started = Date.now()
const say = (line: string) => process.stdout.write(`[demo ${((Date.now() - started) / 1000).toFixed(1).padStart(5)} s] ${line}\n`)
const kubeconfig = process.env.SECRETWIRE_TEST_KUBECONFIG
if (kubeconfig === undefined) throw new Error('run the demo with npm run demo (it needs the node of tools/node/with-node.ts)')
const kc = new KubeConfig()
kc.loadFromFile(kubeconfig)
const kubectlBin = await kubectlPath()
const kubectl = (args: readonly string[], input?: string) => {
  const res = spawnSync(kubectlBin, ['--kubeconfig', kubeconfig, ...args], { input, encoding: 'utf8' })
  return { status: res.status, stdout: res.stdout, stderr: res.stderr }
}
const core = kc.makeApiClient(CoreV1Api)
const apps = kc.makeApiClient(AppsV1Api)
process.once('SIGINT', () => process.exit(0)).once('SIGTERM', () => process.exit(0))
const apply = (docs: readonly object[]) => {
  const res = kubectl(['apply', '-f', '-'], docs.map((d) => stringify(d)).join('---\n'))
  if (res.status !== 0) throw new Error(`kubectl apply: ${res.stderr}`)
}

say('installing secretwire from deploy/: certs/generate.sh, kubectl apply -k deploy/plain (image built from the Dockerfile), policy examples/policy.yaml')
// The example policy, and the many-password check's NAMEs (below) in its two namespaces.
installSecretwire(kubectl, `${readFileSync(join(repoRoot, 'examples', 'policy.yaml'), 'utf8')}${manyNames.map((n) => `  ${n}:\n    namespaces: [pg, pgclients]\n`).join('')}`)
await untilRolledOut(kc, 'secretwire', 'secretwire')
say('secretwire: both replicas Ready (Pod Security restricted, uid 65532, read-only root filesystem)')

// Grafana's image cannot be pulled here, nor the official postgres image: examples/postgres.yaml runs Debian's
// PostgreSQL 15 (tools/build/images.ts, an entrypoint that reads POSTGRES_PASSWORD_FILE as the official one does), and
// examples/grafana.yaml runs psql, libpq's own client, logging in with GF_DATABASE_URL exactly as the example builds it.
const appNamespaces = ['grafana', 'db', 'pg', 'pgclients']
for (const ns of appNamespaces) await core.createNamespace({ body: { metadata: { name: ns } } })
await untilSecretwireAnswers(kc, 'grafana', 'secretwire.io', 60_000)
const example = (file: string) => parseAllDocuments(readFileSync(join(repoRoot, 'examples', file), 'utf8'))
  .map((d) => d.toJS() as { spec: { template: { spec: V1PodSpec } } })
say('applying examples/postgres.yaml (namespace db) with Debian\'s PostgreSQL 15 for the image')
const postgres = example('postgres.yaml').map((doc) => { doc.spec.template.spec.containers[0]!.image = images.postgres; return doc })
apply(postgres)

const readyPod = async (namespace: string, done: (p: V1Pod) => boolean = (p) => p.status?.containerStatuses?.[0]?.ready === true): Promise<V1Pod> => {
  for (;;) {
    const pod = (await core.listNamespacedPod({ namespace })).items.find(done)
    if (pod !== undefined) return pod
    await new Promise((r) => setTimeout(r, 250))
  }
}
const postgresPod = await readyPod('db')
// No cluster DNS here: postgres.db, the host in the example's URL, resolves through the Pod's /etc/hosts.
const hostAliases = [{ ip: postgresPod.status!.podIP!, hostnames: [postgresHost] }]
say(`PostgreSQL is ready (${postgresPod.metadata?.name}); applying examples/grafana.yaml (namespace grafana) with psql in Grafana's place`)
const grafana = example('grafana.yaml').map((doc) => {
  const spec = doc.spec.template.spec
  spec.hostAliases = hostAliases
  spec.containers[0]!.image = images.postgres
  // $$ is Kubernetes' escape for $: the shell reads GF_DATABASE_URL, into which the kubelet expanded $(GRAFANA_DB_URLENCODED).
  // Like Grafana, it tries again while the database is not up yet (for up to a minute).
  spec.containers[0]!.command = ['/bin/sh', '-c', 'ok=; for i in $$(seq 30); do r=$$(psql "$$GF_DATABASE_URL" -XtAc "select current_user" 2>&1) && { ok=1; break; }; sleep 2; done; ' +
    '[ -n "$$ok" ] && echo "logged in as $$r" || echo "FAILED: $$r"; exec sleep 86400']
  return doc
})
apply(grafana)

// Then the many-password check of test/node: 16 more shared secrets, one role each, psql logging in as each.
say(`and ${manyNames.length} more shared secrets (${manyNames[0]}..${manyNames.at(-1)}): a PostgreSQL role each (namespace pg), psql logging in as each (namespace pgclients)`)
apply([initConfigMap('pg', 'postgres-init'), postgresServer('pg', manyNames, 'postgres-init')])
const manyServer = await readyPod('pg')
apply([psqlClient('pgclients', manyNames, manyServer.status!.podIP!)])
const grafanaPod = await readyPod('grafana')
const logOf = async (pod: V1Pod) => (await core.readNamespacedPodLog({ namespace: pod.metadata!.namespace!, name: pod.metadata!.name! })).trim()
while (!/logged in|FAILED/.test(await logOf(grafanaPod))) await new Promise((r) => setTimeout(r, 250))
const clientPod = await readyPod('pgclients', (p) => ['Succeeded', 'Failed'].includes(p.status?.phase ?? ''))
say('all running. What happened:')

const lines: string[] = []
for (const [kind, { group, version, plural }] of Object.entries(resources)) {
  const list = await kc.makeApiClient(CustomObjectsApi).listClusterCustomObject({ group, version, plural, labelSelector: `${managedBy.key}=${managedBy.value}` }) as { items: { metadata: { namespace: string, name: string } }[] }
  for (const o of list.items) lines.push(`  ${kind.padEnd(15)} ${o.metadata.namespace}/${o.metadata.name}`)
}
console.log(`\nObjects secretwire created (label app.kubernetes.io/managed-by=secretwire):\n${lines.join('\n')}`)
const printEnv = (title: string, env: V1EnvVar[] = []) => {
  console.log(title)
  for (const e of env) console.log(`  ${e.name}: ${e.valueFrom ? `secretKeyRef ${e.valueFrom.secretKeyRef?.name}/${e.valueFrom.secretKeyRef?.key}` : e.value}`)
}
printEnv('\nEnv of Deployment grafana/grafana, as stored:', (await apps.readNamespacedDeployment({ namespace: 'grafana', name: 'grafana' })).spec!.template.spec!.containers[0]!.env)
printEnv('Env of StatefulSet db/postgres, as stored:', (await apps.readNamespacedStatefulSet({ namespace: 'db', name: 'postgres' })).spec!.template.spec!.containers[0]!.env)
console.log(`\nWhat the applications did with it (the password itself is never printed):
  db/${postgresPod.metadata?.name}          PostgreSQL started, superuser grafana's password read from POSTGRES_PASSWORD_FILE
  grafana/${grafanaPod.metadata?.name}   psql "$GF_DATABASE_URL": ${await logOf(grafanaPod)}`)
const roles = (await logOf(manyServer)).split('\n').filter((l) => l.startsWith('role '))
console.log(`\nThe ${manyNames.length} more passwords (PostgreSQL made a role from each file; which of the generator's symbols each holds):
${roles.map((l) => `  ${l}`).join('\n')}
psql logging in as each, with postgres://NAME:$(NAME_URLENCODED)@postgres.db:5432/NAME and with PGPASSWORD=$(NAME):
${(await logOf(clientPod)).split('\n').map((l) => `  ${l}`).join('\n')}`)
const denied = kubectl(['run', 'unwired', '-n', 'grafana', `--image=${images.busybox}`, '--annotations=secretwire.io/shared-secret=Bad_Name'])
console.log(`\nA bad annotation is refused at admission:\n  ${denied.stderr.trim()}`)
const outsider = kubectl(['run', 'outsider', '-n', 'default', `--image=${images.busybox}`, '--annotations=secretwire.io/shared-secret=grafana-db'])
console.log(`A namespace the policy leaves out gets nothing:\n  ${outsider.stderr.trim()}`)
// What a platform team runs to see every shared secret: `secretwire status`, with the demo's admin kubeconfig.
const status = spawnSync(process.execPath, ['--import', 'tsx', join(repoRoot, 'src', 'cli', 'main.ts'), 'status'], { cwd: repoRoot, encoding: 'utf8', env: { ...process.env, KUBECONFIG: kubeconfig } })
console.log(`\nsecretwire status (exit status ${status.status}):\n${status.stdout}${status.stderr}`)
console.log(`\nsecretwire's Pods: kubectl -n secretwire get pods; logs: kubectl -n secretwire logs deploy/secretwire.
Use kubectl inside the run's namespaces (the line starting "the run's namespaces" above says how), with
  --kubeconfig ${kubeconfig}
Ctrl-C stops everything.`)
say('running')
// Kept up by a timer until Ctrl-C (the signal handlers above exit; with-node.ts then stops the cluster).
setInterval(() => undefined, 1 << 30)
