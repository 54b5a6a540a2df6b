// Room: src/manifests/injection.ts, src/reconcile/owners.ts (on a node, through an outage)
// With the in-apiserver injection added to the install (deploy/components/in-apiserver-injection, applied as an
// operator adds it to a running install), secretwire's Pods gone: an annotated Deployment rolls out anyway, its Pods
// admitted wired and waiting for their Secret without crash-looping; once secretwire is back the reconciler makes
// the ESO objects and the Pods run with the same password as a consumer wired before the outage. The policy file
// still holds: in a namespace it leaves out the Secret never comes, and an Event on the Deployment and
// `secretwire status` say why. Runs after test/node/node.test.ts, on its install (npm run test:node).
import { join } from 'node:path'
import { AppsV1Api, CoreV1Api, PatchStrategy, setHeaderOptions, type V1Pod } from '@kubernetes/client-node'
import t from 'tap'
import { untilRolledOut } from '../../tools/node/install.ts'
import { repoRoot } from '../../tools/paths.ts'
import { untilSecretwireAnswers } from '../../tools/cluster/webhook.ts'
import { injectionPolicyName } from '../../src/manifests/injection.ts'
import { cli } from '../helpers/cli.ts'
import { nodeCluster, policyReloads, reportOf, reporter, running, storedHashOf, untilPods, untilPolicyReloaded } from '../helpers/node.ts'
import { annotated, workload } from '../helpers/objects.ts'

t.setTimeout(600_000)
const cluster = await nodeCluster()
const { kc, kubectl } = cluster
const core = kc.makeApiClient(CoreV1Api)
const apps = kc.makeApiClient(AppsV1Api)
const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch)
const [early, late, out] = ['map-early', 'map-late', 'map-out']
for (const ns of [early, late, out]) await core.createNamespace({ body: { metadata: { name: ns } } })

// The policy file gains map-db for two of the namespaces (reloaded in place); put back afterwards.
const policy = await core.readNamespacedConfigMap({ namespace: 'secretwire', name: 'secretwire-policy' })
const policyText = policy.data!['policy.yaml']!
const setPolicy = (text: string) => core.patchNamespacedConfigMap({ namespace: 'secretwire', name: 'secretwire-policy', body: { data: { 'policy.yaml': text } } }, merge)
if (!/^sharedSecrets:\s*$/m.test(policyText)) throw new Error(`the installed policy file has no sharedSecrets: block to add to:\n${policyText}`)
const reloadsBefore = await policyReloads(kc)
await setPolicy(policyText.replace(/^sharedSecrets:\s*$/m, `sharedSecrets:\n  map-db: { namespaces: [${early}, ${late}] }`))
t.teardown(() => setPolicy(policyText))

const component = join(repoRoot, 'deploy', 'components', 'in-apiserver-injection', 'mutatingadmissionpolicy.yaml')
const applied = kubectl(['apply', '-f', component])
if (applied.status !== 0) throw new Error(`kubectl apply -f ${component}: ${applied.stderr}`)
t.teardown(() => { kubectl(['delete', '-f', component, '--ignore-not-found']) })

const scale = (replicas: number) => apps.patchNamespacedDeploymentScale({ namespace: 'secretwire', name: 'secretwire', body: { spec: { replicas } } }, merge)
const deployment = (namespace: string) => {
  const d = workload('Deployment', { name: 'app', namespace, annotations: annotated('map-db') })
  d.spec.template.spec.containers = [reporter(['MAP_DB'])]
  return d
}
const waitingForSecret = (pods: V1Pod[]) => pods.length === 1 && pods[0]!.status?.containerStatuses?.[0]?.state?.waiting?.reason === 'CreateContainerConfigError'
async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const found = await probe()
    if (found !== undefined) return found
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`)
    await new Promise((r) => setTimeout(r, 500))
  }
}

t.test('secretwire down: Deployments roll out wired by the API server, and run with the shared password once it is back', async (t) => {
  // A consumer from before the outage, wired by the webhook, once both replicas have reloaded the policy file (the
  // kubelet updates a mounted ConfigMap within its sync period, a minute or so). Each replica's log says when:
  // admitted dry runs could not, as the API server keeps its connection to one replica (CI failed here once, a
  // Deployment denied by the other after five dry runs in a row were admitted).
  await untilSecretwireAnswers(kc, early, 'secretwire.io', 60_000)
  await untilPolicyReloaded(kc, reloadsBefore)
  await apps.createNamespacedDeployment({ namespace: early, body: deployment(early) })
  const [before] = await untilPods(kc, early, 'the consumer from before the outage runs', (p) => running(p))
  const hash = (await reportOf(kc, early, before!.metadata!.name!, ['MAP_DB'])).MAP_DB
  t.equal(hash, await storedHashOf(kc, 'map-db'), 'a consumer from before the outage runs with the stored password')

  await scale(0)
  t.teardown(async () => { await scale(2).catch(() => undefined) })
  await untilPods(kc, 'secretwire', 'no secretwire Pod left', (p) => p.length === 0, 60_000, 'app.kubernetes.io/name=secretwire')
  // The policy is in force once the API server's informer has it: a dry-run Pod comes back wired.
  await until('the MutatingAdmissionPolicy in force', async () => {
    const probe = await core.createNamespacedPod({ namespace: late, dryRun: 'All', body: { metadata: { name: 'probe', annotations: annotated('map-db') }, spec: { containers: [reporter([])] } } })
    return probe.spec?.containers[0]?.env?.[0]?.name === 'MAP_DB' ? true : undefined
  })

  for (const ns of [late, out]) await apps.createNamespacedDeployment({ namespace: ns, body: deployment(ns) })
  for (const ns of [late, out]) {
    const [pod] = await untilPods(kc, ns, 'the Deployment\'s Pod waiting for its Secret', waitingForSecret)
    t.strictSame(JSON.parse(JSON.stringify(pod!.spec?.containers[0]?.env)), [{ name: 'MAP_DB', valueFrom: { secretKeyRef: { name: 'secretwire-map-db', key: 'password' } } }],
      `${ns}: admitted wired, with secretwire down`)
    t.equal(pod!.metadata?.labels?.['secretwire.io/consumer'], 'true', `${ns}: labelled for the reconciler`)
    t.match(pod!.status?.containerStatuses?.[0]?.state?.waiting?.message, /secret "secretwire-map-db" not found/, `${ns}: waiting, saying for what`)
  }
  await new Promise((r) => setTimeout(r, 10_000))
  for (const ns of [late, out]) {
    const pods = (await core.listNamespacedPod({ namespace: ns })).items
    t.ok(waitingForSecret(pods) && pods[0]!.status?.containerStatuses?.[0]?.restartCount === 0, `${ns}: 10 s later still waiting, no restart (no crash loop)`)
  }

  await scale(2)
  await untilRolledOut(kc, 'secretwire', 'secretwire')
  const [after] = await untilPods(kc, late, 'the Pod admitted during the outage runs once secretwire is back', (p) => running(p), 180_000)
  t.equal((await reportOf(kc, late, after!.metadata!.name!, ['MAP_DB'])).MAP_DB, hash, 'with the same password as the consumer from before the outage')

  // Left out by the policy file: a Warning on the Deployment, no Secret, the Pod still waiting.
  const event = await until('an Event on the Deployment in the namespace the policy leaves out', async () =>
    (await core.listNamespacedEvent({ namespace: out })).items.find((e) => e.involvedObject.kind === 'Deployment' && e.involvedObject.name === 'app' && e.reason === 'SharedSecretNotAllowed'))
  t.match(event.message, /the secretwire policy does not allow shared secret map-db in this namespace/, `Event on Deployment ${out}/app: ${event.message}`)
  t.equal(await core.readNamespacedSecret({ namespace: out, name: 'secretwire-map-db' }).then(() => 'there', () => 'absent'), 'absent', 'no Secret there')
  t.ok(waitingForSecret((await core.listNamespacedPod({ namespace: out })).items), 'and its Pod waits for good')
  const status = cli(['status', 'map-db', '-o', 'json'], { env: { KUBECONFIG: process.env.SECRETWIRE_TEST_KUBECONFIG } })
  const row = (JSON.parse(status.stdout) as { sharedSecrets: { namespaces: { namespace: string, next?: string }[] }[] }).sharedSecrets[0]?.namespaces.find((n) => n.namespace === out)
  t.match(row?.next, /the policy does not allow this NAME here/, `secretwire status: ${row?.next}`)
  t.equal(status.status, 1, 'and exits 1: something is failing')
})
