// `npm run demo` (runs this inside tools/node/with-node.ts): the whole product on a machine with no cluster. The
// cluster is up (control plane with its controllers, a node, the real ESO, deploy/eso); this installs secretwire
// from deploy/ as a platform team would (certs/generate.sh, `kubectl apply -k deploy/plain`, the image built from
// the Dockerfile, the multi-tenant example policy), runs examples/grafana.yaml and examples/postgres.yaml on the
// node, and shows what happened: the objects secretwire made, the env vars as stored, and the SHA-256 of the
// password each running container holds (never the password). Then it stays up until Ctrl-C.
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { AppsV1Api, CoreV1Api, CustomObjectsApi, KubeConfig, type V1EnvVar, type V1Pod } from '@kubernetes/client-node'
import { parseAllDocuments, stringify } from 'yaml'
import { managedBy } from '../../src/core/contract.ts'
import { resources } from '../../src/core/esoobjects.ts'
import { images } from '../build/images.ts'
import { installSecretwire, untilRolledOut } from '../node/install.ts'
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

say('installing secretwire from deploy/: certs/generate.sh, kubectl apply -k deploy/plain (image built from the Dockerfile), policy examples/policy.yaml')
installSecretwire(kubectl, readFileSync(join(repoRoot, 'examples', 'policy.yaml'), 'utf8'))
await untilRolledOut(kc, 'secretwire', 'secretwire')
say('secretwire: both replicas Ready (Pod Security restricted, uid 65532, read-only root filesystem)')

// Grafana's and PostgreSQL's images cannot be pulled here: the same manifests run busybox instead, printing the
// SHA-256 of the password as each received it (grafana: percent-encoded in an env var, decoded by busybox httpd -d;
// postgres: the file its env var names).
for (const ns of ['grafana', 'db']) await core.createNamespace({ body: { metadata: { name: ns } } })
await untilSecretwireAnswers(kc, 'grafana', 'secretwire.io', 60_000)
const standIn = (file: string, label: string, password: string) => parseAllDocuments(readFileSync(join(repoRoot, 'examples', file), 'utf8')).map((d) => {
  const doc = d.toJS() as { spec: { template: { spec: { containers: { image: string, command?: string[] }[] } } } }
  const container = doc.spec.template.spec.containers[0]!
  container.image = images.busybox
  container.command = ['/bin/sh', '-c', `echo ${label}=$$(${password} | sha256sum | cut -d' ' -f1); exec sleep 86400`]
  return stringify(doc)
}).join('---\n')
say('applying examples/grafana.yaml (namespace grafana) and examples/postgres.yaml (namespace db), with busybox for the images')
const applied = kubectl(['apply', '-f', '-'], `${standIn('grafana.yaml', 'GRAFANA_DB_URLENCODED', 'busybox httpd -d "$${GRAFANA_DB_URLENCODED}"')}---\n` +
  `${standIn('postgres.yaml', 'POSTGRES_PASSWORD_FILE', 'cat "$${POSTGRES_PASSWORD_FILE}"')}`)
if (applied.status !== 0) throw new Error(applied.stderr)

const runningPod = async (namespace: string): Promise<V1Pod> => {
  for (;;) {
    const pod = (await core.listNamespacedPod({ namespace })).items.find((p) => p.status?.containerStatuses?.[0]?.ready === true)
    if (pod !== undefined) return pod
    await new Promise((r) => setTimeout(r, 250))
  }
}
const [grafanaPod, postgresPod] = await Promise.all([runningPod('grafana'), runningPod('db')])
say('both containers are running. What happened:')

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
const reported = async (pod: V1Pod) => (await core.readNamespacedPodLog({ namespace: pod.metadata!.namespace!, name: pod.metadata!.name! })).trim()
const [fromGrafana, fromPostgres] = [await reported(grafanaPod), await reported(postgresPod)]
const hash = (line: string) => line.slice(line.indexOf('=') + 1)
console.log(`\nWhat the running containers hold (they print the SHA-256; the password itself is never printed):
  grafana/${grafanaPod.metadata?.name}   ${fromGrafana}
  db/${postgresPod.metadata?.name}          ${fromPostgres}
  the same password in both: ${hash(fromGrafana) === hash(fromPostgres) ? 'yes' : 'NO'}`)
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
