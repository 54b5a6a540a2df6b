// Room: src/manifests/injection.ts
// The in-apiserver injection equals the webhook's: every case stored through the real API server with only the
// MutatingAdmissionPolicy active equals the same Pod stored with only the webhook active, and a Pod the webhook
// denies the policy leaves as written. On a minor that does not serve admissionregistration.k8s.io/v1
// MutatingAdmissionPolicy (1.35: beta, off by default) the webhook path is the only one, and this test says so.
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ApisApi, CoreV1Api, KubernetesObjectApi, type KubeConfig, type V1Pod } from '@kubernetes/client-node'
import t, { type Test } from 'tap'
import { plan } from '../../src/core/plan.ts'
import { injectionPolicy, injectionPolicyName } from '../../src/manifests/injection.ts'
import { defaultGuardSettings } from '../../src/manifests/policies.ts'
import { freshNamespace, kubeConfig } from '../helpers/cluster.ts'
import { request, settings } from '../helpers/objects.ts'
import { deniedCases, fuzzedCases, wiredCases, type PodCase } from '../helpers/podcases.ts'
import { startSecretwire } from '../helpers/secretwire.ts'
import { buildHelm } from '../../tools/build/builds.ts'
import { repoRoot } from '../../tools/paths.ts'

/**
 * Whether the chart, as `helm template --validate` renders it against this cluster (its capabilities from
 * discovery, as `helm install` sees them), installs the MutatingAdmissionPolicy with inAPIServerInjection auto.
 */
async function chartInstallsPolicy(t: Test, kc: KubeConfig): Promise<boolean> {
  const dir = mkdtempSync(join(tmpdir(), 'secretwire-helm-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  writeFileSync(join(dir, 'kubeconfig'), kc.exportConfig())
  const env = { PATH: process.env.PATH, HOME: dir, KUBECONFIG: join(dir, 'kubeconfig'), HELM_CACHE_HOME: join(dir, 'cache'), HELM_CONFIG_HOME: join(dir, 'config'), HELM_DATA_HOME: join(dir, 'data') }
  const res = spawnSync(await buildHelm(), ['template', 'secretwire', join(repoRoot, 'deploy', 'chart'), '-n', 'secretwire', '--validate'], { encoding: 'utf8', env })
  if (res.status !== 0) throw new Error(`helm template --validate: ${res.stderr}`)
  return /^kind: MutatingAdmissionPolicy$/m.test(res.stdout)
}

const seed = Number(process.env.SECRETWIRE_FUZZ_SEED ?? 20261204)
const fuzzCount = 150

/** True when the API server serves the v1 MutatingAdmissionPolicy (Kubernetes 1.36 and later). */
async function servesPolicy(kc: KubeConfig): Promise<boolean> {
  const groups = await kc.makeApiClient(ApisApi).getAPIVersions()
  const group = groups.groups.find((g) => g.name === 'admissionregistration.k8s.io')
  if (!group?.versions.some((v) => v.version === 'v1')) return false
  const api = KubernetesObjectApi.makeApiClient(kc)
  return api.list('admissionregistration.k8s.io/v1', 'MutatingAdmissionPolicy').then(() => true, () => false)
}

/** The Pod as stored, without what differs between two creations of it (names, times, the token volume's suffix). */
function stored(pod: V1Pod): unknown {
  const copy = structuredClone(pod) as V1Pod
  const meta = copy.metadata!
  delete meta.uid; delete meta.creationTimestamp; delete meta.resourceVersion; delete meta.managedFields; delete meta.namespace
  delete copy.status
  const token = copy.spec?.volumes?.find((v) => v.name.startsWith('kube-api-access-'))?.name
  return token === undefined ? copy : JSON.parse(JSON.stringify(copy).replaceAll(token, 'kube-api-access'))
}

async function dryRunCreate(kc: KubeConfig, namespace: string, pod: V1Pod): Promise<V1Pod> {
  return kc.makeApiClient(CoreV1Api).createNamespacedPod({ namespace, body: structuredClone(pod), dryRun: 'All' })
}

/** The policy as generated, bound to these namespaces only (the shipped binding covers every namespace). */
async function applyPolicy(t: Test, kc: KubeConfig, namespaces: readonly string[]): Promise<void> {
  const namespace = namespaces[0]!
  const api = KubernetesObjectApi.makeApiClient(kc)
  const [policy, binding] = injectionPolicy(defaultGuardSettings).map((m) => structuredClone(m.object))
  const name = `${injectionPolicyName}-${namespace}`
  policy!.metadata!.name = name
  binding!.metadata!.name = name
  const spec = (binding as { spec: { policyName: string, matchResources: unknown } }).spec
  spec.policyName = name
  spec.matchResources = { namespaceSelector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'In', values: [...namespaces] }] } }
  for (const o of [policy!, binding!]) {
    await api.create(o as never)
    t.teardown(async () => { await api.delete(o as never).catch(() => undefined) })
  }
}

t.test('the policy reaches Pods as they are created, nothing else: the guard policies\' objects are out of its reach', async (t) => {
  const [policy] = injectionPolicy(defaultGuardSettings)
  const spec = (policy!.object as { spec: { matchConstraints: unknown, failurePolicy: string } }).spec
  t.strictSame(spec.matchConstraints, { resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'] }] })
  t.equal(spec.failurePolicy, 'Ignore', 'and an error in it never blocks a Pod (secretwire-wired refuses one left unwired)')
})

t.test('the policy wires Pods exactly as the webhook does', async (t) => {
  const kc = await kubeConfig()
  if (!(await servesPolicy(kc))) {
    t.pass('this API server does not serve admissionregistration.k8s.io/v1 MutatingAdmissionPolicy: the webhook path is the only one')
    await t.rejects(KubernetesObjectApi.makeApiClient(kc).create(injectionPolicy(defaultGuardSettings)[0]!.object as never),
      'and the generated policy is refused by it')
    t.notOk(await chartInstallsPolicy(t, kc), 'the chart (inAPIServerInjection auto) installs the webhook alone here')
    return
  }
  t.ok(await chartInstallsPolicy(t, kc), 'the chart (inAPIServerInjection auto) installs the policy here')
  const [byPolicy, byWebhook, plain, byBoth] = [await freshNamespace(t, kc, 'map'), await freshNamespace(t, kc, 'hook'), await freshNamespace(t, kc, 'plain'), await freshNamespace(t, kc, 'both')]
  await applyPolicy(t, kc, [byPolicy!, byBoth!])
  await startSecretwire(t, kc, { namespaces: [byWebhook!, byBoth!] })
  const s = settings()

  // The policy takes effect once the API server's policy informer has it.
  const probe = wiredCases[0]!.pod
  const deadline = Date.now() + 30_000
  while (JSON.stringify(stored(await dryRunCreate(kc, byPolicy!, probe))) === JSON.stringify(stored(await dryRunCreate(kc, plain!, probe)))) {
    if (Date.now() > deadline) throw new Error(`MutatingAdmissionPolicy ${injectionPolicyName}-${byPolicy} had no effect after 30 s`)
    await new Promise((r) => setTimeout(r, 200))
  }

  const fuzzed = fuzzedCases(seed, fuzzCount)
  const verdict = (c: PodCase) => {
    try {
      plan(request(c.pod as never, { namespace: byWebhook! }), s)
      return 'wired'
    } catch {
      return 'denied'
    }
  }
  const wired = [...wiredCases, ...fuzzed.filter((c) => verdict(c) === 'wired')]
  const denied = [...deniedCases, ...fuzzed.filter((c) => verdict(c) === 'denied')]
  t.equal(wiredCases.filter((c) => verdict(c) !== 'wired').map((c) => c.name).join(', '), '', 'the wired cases are wired by the planner')
  t.equal(deniedCases.filter((c) => verdict(c) !== 'denied').map((c) => c.name).join(', '), '', 'the denied cases are denied by it')
  t.ok(wired.length - wiredCases.length >= fuzzCount / 3, `fuzzed: ${wired.length - wiredCases.length} wired, ${denied.length - deniedCases.length} denied`)

  const differing: string[] = []
  for (const c of wired) {
    const [viaPolicy, viaWebhook] = [stored(await dryRunCreate(kc, byPolicy!, c.pod)), stored(await dryRunCreate(kc, byWebhook!, c.pod))]
    if (JSON.stringify(viaPolicy) !== JSON.stringify(viaWebhook)) {
      differing.push(c.name)
      t.same(viaPolicy, viaWebhook, `${c.name}: policy (found) against webhook (wanted)`)
    }
  }
  t.same(differing, [], `${wired.length} Pods stored the same through the policy as through the webhook`)

  const changed: string[] = []
  for (const c of denied) {
    const [viaPolicy, asWritten] = [stored(await dryRunCreate(kc, byPolicy!, c.pod)), stored(await dryRunCreate(kc, plain!, c.pod))]
    if (JSON.stringify(viaPolicy) !== JSON.stringify(asWritten)) {
      changed.push(c.name)
      t.same(viaPolicy, asWritten, `${c.name}: the policy changed a Pod the webhook denies`)
    }
    const webhook = await dryRunCreate(kc, byWebhook!, c.pod).then(() => 'admitted', (err: { code?: number, body?: string }) => `${err.code}: ${String(err.body)}`)
    t.match(webhook, /^400: .*mutate\.secretwire\.io.* denied the request: /, `${c.name}: the webhook denies it (400)`)
  }
  t.same(changed, [], `${denied.length} Pods the webhook denies are left as written by the policy`)

  // Both at once, as an install with the policy runs: the policy first, then the webhook finds the Pod wired.
  for (const c of wiredCases) {
    t.same(stored(await dryRunCreate(kc, byBoth!, c.pod)), stored(await dryRunCreate(kc, byWebhook!, c.pod)), `${c.name}: with both, as with the webhook alone`)
  }
  for (const c of deniedCases) {
    const both = await dryRunCreate(kc, byBoth!, c.pod).then(() => 'admitted', (err: { code?: number }) => `${err.code}`)
    t.equal(both, '400', `${c.name}: with both, the webhook still denies it`)
  }

  // Idempotent: a Pod the policy wired, created again through the policy (as on reinvocation), comes back the same.
  for (const c of wiredCases) {
    const once = await dryRunCreate(kc, byPolicy!, c.pod)
    const again = await dryRunCreate(kc, byPolicy!, { ...once, metadata: { ...once.metadata, uid: undefined, resourceVersion: undefined, creationTimestamp: undefined } })
    t.same(stored(again), stored(once), `${c.name}: wiring a wired Pod changes nothing`)
  }
})
