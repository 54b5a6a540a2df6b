// `npm run demo`: the whole product on a machine with no cluster. Starts the local control plane with the real
// External Secrets Operator, installs the seed's ClusterSecretStore (deploy/eso), runs `secretwire serve` as the
// ServiceAccount and RBAC of deploy/webhook, registers the shipped webhook configuration and admission policy,
// applies examples/grafana.yaml and examples/postgres.yaml, waits for ESO to wire the password, prints what
// happened (never the password), and keeps running until Ctrl-C.
import { spawn, spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { AppsV1Api, CoreV1Api, CustomObjectsApi, type V1EnvVar } from '@kubernetes/client-node'
import { parseAllDocuments, stringify } from 'yaml'
import { managedBy } from '../../src/contract.ts'
import { resources } from '../../src/eso.ts'
import { selfSigned } from '../../src/tls.ts'
import { kubectlPath, startControlPlane } from './controlplane.ts'
import { esoSidecar, startEso } from './eso.ts'
import { serviceAccountKubeConfig } from './identity.ts'
import { freePort } from './net.ts'
import { repoRoot } from './paths.ts'
import { installStore, untilStoreReady } from './store.ts'
import { untilSecretwireAnswers } from './webhook.ts'

const started = Date.now()
const say = (line: string) => process.stdout.write(`[demo ${((Date.now() - started) / 1000).toFixed(1).padStart(5)} s] ${line}\n`)

say('building (first run: the control plane and ESO compile from Go modules, many minutes) and starting etcd, kube-apiserver, kube-controller-manager, kube-scheduler and ESO')
const eso = await esoSidecar()
const cp = await startControlPlane({ sidecars: [eso] })
const kubectl = await kubectlPath()
const kc = cp.kubeConfig()
const run = (args: string[], input?: string) => {
  const res = spawnSync(kubectl, ['--kubeconfig', cp.info.kubeconfig, ...args], { input, encoding: 'utf8' })
  if (res.status !== 0) throw new Error(`kubectl ${args.join(' ')}: ${res.stderr}`)
  return res.stdout
}
let secretwire: ReturnType<typeof spawn> | undefined
const stop = async () => {
  secretwire?.kill('SIGTERM')
  await cp.stop()
  process.exit(0)
}
process.once('SIGINT', () => void stop()).once('SIGTERM', () => void stop())

say(`control plane ready at ${cp.info.server}; starting ESO as its ServiceAccount, installing deploy/eso (ClusterSecretStore of the Kubernetes provider)`)
await startEso(cp)
await installStore(kc, cp.info, kubectl)
await untilStoreReady(kc)

// deploy/webhook as shipped, except: secretwire runs here, not as a Deployment, so the webhook points at it.
const dir = mkdtempSync(join(tmpdir(), 'secretwire-demo-'))
const tls = await selfSigned(['127.0.0.1', 'localhost'])
writeFileSync(join(dir, 'tls.crt'), tls.cert)
writeFileSync(join(dir, 'tls.key'), tls.key)
const port = await freePort()
const docs = parseAllDocuments(run(['kustomize', join(repoRoot, 'deploy', 'webhook')])).map((d) => d.toJS() as {
  kind: string, webhooks?: { clientConfig: unknown }[]
})
const wanted = ['Namespace', 'ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding',
  'MutatingWebhookConfiguration', 'ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding']
for (const doc of docs) {
  if (doc.kind === 'MutatingWebhookConfiguration') {
    doc.webhooks![0]!.clientConfig = { url: `https://127.0.0.1:${port}/mutate`, caBundle: Buffer.from(tls.cert).toString('base64') }
  }
}
run(['apply', '--server-side', '-f', '-'], docs.filter((d) => wanted.includes(d.kind)).map((d) => stringify(d)).join('---\n'))

// secretwire's own identity: the ServiceAccount and RBAC of deploy/webhook, nothing more.
const identity = await serviceAccountKubeConfig(kc, 'secretwire', 'secretwire', 24 * 3600)
writeFileSync(join(dir, 'kubeconfig'), identity.exportConfig())

say(`starting secretwire serve on https://127.0.0.1:${port} as system:serviceaccount:secretwire:secretwire`)
secretwire = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'src', 'cli.ts'), 'serve'], {
  env: {
    ...process.env, PORT: String(port), KUBECONFIG: join(dir, 'kubeconfig'),
    TLS_CERT_FILE: join(dir, 'tls.crt'), TLS_KEY_FILE: join(dir, 'tls.key'), SECRETWIRE_SHUTDOWN_DELAY_MS: '0',
    // The multi-tenant example policy: grafana-db in namespaces grafana and db only.
    SECRETWIRE_CONFIG: join(repoRoot, 'examples', 'policy.yaml'),
  },
  stdio: ['ignore', 'pipe', 'inherit'],
})
const logs: string[] = []
secretwire.stdout!.setEncoding('utf8').on('data', (c: string) => logs.push(...c.trim().split('\n')))
// The webhook answers once secretwire listens and the API server has loaded the configuration.
await untilSecretwireAnswers(kc, 'default', 'secretwire.io', 30_000)
const core = kc.makeApiClient(CoreV1Api)

say('applying examples/grafana.yaml (namespace grafana) and examples/postgres.yaml (namespace db)')
for (const ns of ['grafana', 'db']) await core.createNamespace({ body: { metadata: { name: ns } } })
run(['apply', '-f', join(repoRoot, 'examples', 'grafana.yaml'), '-f', join(repoRoot, 'examples', 'postgres.yaml')])

const fingerprint = async (namespace: string) => {
  for (;;) {
    const secret = await core.readNamespacedSecret({ namespace, name: 'secretwire-grafana-db' }).catch(() => undefined)
    const value = secret?.data?.password
    if (value !== undefined) {
      const password = Buffer.from(value, 'base64')
      return { keys: Object.keys(secret!.data!), length: password.length, hash: createHash('sha256').update(password).digest('hex') }
    }
    await new Promise((r) => setTimeout(r, 200))
  }
}
const [inGrafana, inDb, stored] = await Promise.all([fingerprint('grafana'), fingerprint('db'), fingerprint('eso-secret-storage')])
say('ESO has wired the password. What happened:')

const co = kc.makeApiClient(CustomObjectsApi)
const lines: string[] = []
for (const [kind, { group, version, plural }] of Object.entries(resources)) {
  const list = await co.listClusterCustomObject({ group, version, plural, labelSelector: `${managedBy.key}=${managedBy.value}` }) as { items: { metadata: { namespace: string, name: string } }[] }
  for (const o of list.items) lines.push(`  ${kind.padEnd(15)} ${o.metadata.namespace}/${o.metadata.name}`)
}
console.log(`\nObjects secretwire created (label app.kubernetes.io/managed-by=secretwire):\n${lines.join('\n')}`)
const apps = kc.makeApiClient(AppsV1Api)
const grafana = await apps.readNamespacedDeployment({ namespace: 'grafana', name: 'grafana' })
const postgres = await apps.readNamespacedStatefulSet({ namespace: 'db', name: 'postgres' })
const printEnv = (title: string, env: V1EnvVar[] = []) => {
  console.log(title)
  for (const e of env) console.log(`  ${e.name}: ${e.valueFrom ? `secretKeyRef ${e.valueFrom.secretKeyRef?.name}/${e.valueFrom.secretKeyRef?.key}` : e.value}`)
}
printEnv('\nEnv of Deployment grafana/grafana, container grafana, as stored:', grafana.spec!.template.spec!.containers[0]!.env)
printEnv('Env of StatefulSet db/postgres, container postgres:', postgres.spec!.template.spec!.containers[0]!.env)
console.log(`\nSecrets written by ESO (keys only; the value is never printed):
  grafana/secretwire-grafana-db             keys ${inGrafana.keys.join(',')}, ${inGrafana.length} characters
  db/secretwire-grafana-db                  keys ${inDb.keys.join(',')}, ${inDb.length} characters
  eso-secret-storage/secretwire-grafana-db  keys ${stored.keys.join(',')} (the stored secret)
  the same password in all three: ${inGrafana.hash === inDb.hash && inDb.hash === stored.hash ? 'yes' : 'NO'} (compared by SHA-256)`)
const denied = spawnSync(kubectl, ['--kubeconfig', cp.info.kubeconfig, 'run', 'unwired', '-n', 'grafana', '--image=busybox',
  '--annotations=secretwire.io/shared-secret=Bad_Name'], { encoding: 'utf8' })
console.log(`\nA bad annotation is refused at admission:\n  ${denied.stderr.trim()}`)
console.log(`\nsecretwire wrote ${logs.length} JSON log lines (start-up, objects created, denials; routine patches are at debug). Try it yourself:
  export KUBECONFIG=${cp.info.kubeconfig}
  ${kubectl} get externalsecrets,pushsecrets,passwords -A
Ctrl-C stops secretwire, ESO, the API server and etcd.`)
say('running')
