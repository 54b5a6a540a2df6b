// Room: src/core/esoobjects.ts
// Every object secretwire makes, in every setting that changes its shape, is accepted as written by the CRDs of
// each ESO version tested: the one whose controller the suite runs (tools/go/eso, on the run's control plane) and the
// newest whose module the proxy serves whole (goModules.esoNewest, on a control plane of its own). Created
// with fieldValidation=Strict, so a field a CRD does not know is an error here instead of being silently dropped.
import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { loadConfig } from '../../src/config/settings.ts'
import { defaultPassword } from '../../src/core/contract.ts'
import { consumerExternalSecret, namedExternalSecret, resources, storageObjects, type ManagedObject } from '../../src/core/esoobjects.ts'
import { policyNames } from '../../src/manifests/policies.ts'
import { startControlPlane } from '../../tools/cluster/controlplane.ts'
import { goModules } from '../../tools/build/gomodules.ts'
import { prepare } from '../../tools/build/needs.ts'
import { repoRoot } from '../../tools/paths.ts'
import { freshNamespace, kubeConfig } from '../helpers/cluster.ts'
import { kubectl } from '../helpers/kubectl.ts'

/** The settings that change what secretwire writes: the strategy and, for push, the PushSecret's updatePolicy. */
const variants = [
  { SECRETWIRE_STRATEGY: 'generate' },
  { SECRETWIRE_STRATEGY: 'push' },
  { SECRETWIRE_STRATEGY: 'push', SECRETWIRE_PUSH_UPDATE_POLICY: 'IfNotExists' },
] as const

function objectsFor(env: Record<string, string>, storage: string, consumer: string): ManagedObject[] {
  const s = { ...loadConfig(env), storageNamespace: storage }
  return [...storageObjects('db', defaultPassword, s), consumerExternalSecret('db', consumer, s),
    namedExternalSecret({ sharedSecret: 'db', secret: 'db-credentials', shape: 'opaque' }, consumer, s),
    namedExternalSecret({ sharedSecret: 'db', secret: 'app-user', shape: 'basic-auth', username: 'app' }, consumer, s)]
}

async function create(kc: KubeConfig, o: ManagedObject, dryRun: boolean): Promise<unknown> {
  return kc.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({
    ...resources[o.kind], namespace: o.metadata.namespace, body: o, fieldValidation: 'Strict', ...(dryRun ? { dryRun: 'All' } : {}),
  })
}

async function acceptsEverything(t: Test, kc: KubeConfig, version: string): Promise<void> {
  const storage = await freshNamespace(t, kc, 'storage')
  const consumer = await freshNamespace(t, kc, 'app')
  for (const env of variants) {
    for (const o of objectsFor(env, storage, consumer)) {
      const stored = await create(kc, o, true).then((r) => r as ManagedObject, (err: { body?: string }) => {
        t.fail(`ESO ${version}, ${JSON.stringify(env)}: ${o.kind} refused: ${err.body ?? String(err)}`)
        return undefined
      })
      if (stored === undefined) continue
      // Defaults the CRD adds are fine; what secretwire wrote must come back as written.
      t.hasStrict(stored.spec, o.spec, `ESO ${version}, ${JSON.stringify(env)}: ${o.kind} accepted as written`)
    }
  }
  // The check can fail: a field the CRD does not know is refused, not dropped.
  const [generator] = objectsFor(variants[0], storage, consumer)
  await t.rejects(create(kc, { ...generator!, spec: { ...generator!.spec, lenght: 42 } }, true), { code: 400 },
    `ESO ${version}: an unknown field is refused under Strict`)
}

t.test(`ESO ${goModules.eso.version} (the controller the suite runs): every object secretwire makes is accepted`, async (t) => {
  await acceptsEverything(t, await kubeConfig(), goModules.eso.version)
})

t.test(`ESO ${goModules.esoNewest.version} (the newest module served whole): every object secretwire makes, and deploy/eso, are accepted`, async (t) => {
  await prepare(['tests'])
  const cp = await startControlPlane({ esoCrds: 'esoNewest' })
  t.teardown(() => cp.stop())
  const kc = cp.kubeConfig()
  await acceptsEverything(t, kc, goModules.esoNewest.version)

  // The shipped store, as `kubectl apply -k deploy/eso` sends it, with kubectl's strict field validation.
  const k = await kubectl(cp.info.kubeconfig)
  const applied = k(['apply', '--validate=strict', '-k', join(repoRoot, 'deploy', 'eso')])
  t.equal(applied.status, 0, `kubectl apply -k deploy/eso: ${applied.stderr}`)
  const store = k(['get', 'clustersecretstore', 'eso-cluster-secret-store', '-o', 'jsonpath={.spec.provider.kubernetes.remoteNamespace}'])
  t.equal(store.stdout, 'eso-secret-storage', 'the ClusterSecretStore is stored with its Kubernetes provider')

  // The guard policies type-check their CEL against these CRDs' schemas (those that read a spec through dyn(),
  // to cover the Cluster variants' nesting, are checked only outside it).
  const policies = k(['apply', '-f', join(repoRoot, 'deploy', 'webhook', 'admissionpolicies.yaml')])
  t.equal(policies.status, 0, `kubectl apply admissionpolicies.yaml: ${policies.stderr}`)
  const warnings = async (): Promise<string | undefined> => {
    const got = k(['get', 'validatingadmissionpolicies', '-o', 'json'])
    const items = (JSON.parse(got.stdout) as { items: Array<{ metadata: { name: string }, status?: { typeChecking?: { expressionWarnings?: unknown[] } } }> }).items
      .filter((p) => p.metadata.name.startsWith('secretwire-'))
    if (items.length < Object.keys(policyNames).length || items.some((p) => p.status?.typeChecking === undefined)) return undefined
    return JSON.stringify(items.flatMap((p) => p.status!.typeChecking!.expressionWarnings ?? []))
  }
  const deadline = Date.now() + 30_000
  let seen: string | undefined
  while ((seen = await warnings()) === undefined && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200))
  t.equal(seen, '[]', `all ${Object.keys(policyNames).length} guard policies type-checked, without a warning`)
})
