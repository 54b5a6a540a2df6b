// Room: src/manifests/esofields.ts
// Every field of a namespaced ESO kind that names a namespace, a file, a ServiceAccount or a kubeconfig, every
// optional credential field and every schemaless one, in the CRDs of each ESO version the project knows (the
// controller's and the newest served), is covered by a reviewed rule: a new ESO version that brings a field
// nobody has read the code for fails here. The holes known from ESO's code stay classified 'policy', and each
// citation still names a function that exists in the controller's source. Reads the module cache only.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { parse } from 'yaml'
import { candidateFields, classify, esoFieldRules, globRegExp, type CandidateField } from '../../src/manifests/esofields.ts'
import { ownIdentityRules } from '../../src/manifests/esoidentity.ts'
import { policyNames } from '../../src/manifests/policies.ts'
import { goModuleDir, goModules } from '../../tools/build/gomodules.ts'
import { crdFiles, type EsoCrds } from '../../tools/cluster/crds.ts'

const versions: readonly EsoCrds[] = ['eso', 'esoNewest']

/** The candidate fields of every ESO CRD of one version (cert-manager's, which crdFiles adds, left out). */
async function esoCandidates(which: EsoCrds): Promise<CandidateField[]> {
  const crds = (await crdFiles(which)).map((f) => parse(readFileSync(f, 'utf8')) as { spec: { group: string } })
  return crds.filter((crd) => crd.spec.group.endsWith('external-secrets.io')).flatMap((crd) => candidateFields(crd))
}

const candidates = new Map<EsoCrds, CandidateField[]>()
for (const v of versions) candidates.set(v, await esoCandidates(v))
const all = (v: EsoCrds) => candidates.get(v)!
const key = (c: CandidateField) => `${c.kind}:${c.path}`

for (const v of versions) {
  const version = goModules[v].version
  t.test(`ESO ${version}: every candidate field is classified`, async (t) => {
    const unclassified = all(v).filter((c) => classify(c.kind, c.path) === undefined).map((c) => `${version} ${key(c)} [${c.classes.join(',')}]`)
    t.same(unclassified, [], 'read ESO\'s code for each field listed and add or widen a rule in src/manifests/esofields.ts')
    const verdicts: Record<string, number> = {}
    for (const c of all(v)) {
      const verdict = classify(c.kind, c.path)?.verdict ?? 'unclassified'
      verdicts[verdict] = (verdicts[verdict] ?? 0) + 1
    }
    t.comment(`ESO ${version}: ${all(v).length} candidate fields, ${JSON.stringify(verdicts)}`)
  })

  t.test(`ESO ${version}: the walk finds what it must (so it cannot silently find nothing)`, async (t) => {
    t.ok(all(v).length > 300, `${all(v).length} candidate fields`)
    const kinds = new Set(all(v).map((c) => c.kind))
    for (const k of ['SecretStore', 'ExternalSecret', 'PushSecret', 'VaultDynamicSecret', 'ECRAuthorizationToken', 'Webhook', 'GeneratorState']) {
      t.ok(kinds.has(k), `${k} has candidate fields`)
    }
    for (const k of ['ClusterSecretStore', 'ClusterExternalSecret', 'ClusterPushSecret', 'ClusterGenerator']) {
      t.notOk(kinds.has(k), `${k} is cluster-scoped: a tenant cannot write it`)
    }
    t.notOk(all(v).some((c) => c.path.startsWith('status') || c.path.startsWith('metadata')), 'only spec is walked')
  })
}

/** Holes read in ESO's code: each must stay a candidate of the controller's CRDs and stay classified 'policy' or 'open'. */
const knownHoles: readonly (readonly [string, string, string])[] = [
  ['SecretStore', 'spec.provider.kubernetes.authRef', 'kubeconfig with exec/tokenFile'],
  ['SecretStore', 'spec.provider.vault.auth.kubernetes.serviceAccountRef', 'Vault kubernetes auth with ESO\'s own token'],
  ['SecretStore', 'spec.provider.vault.auth.kubernetes.secretRef', 'Vault kubernetes auth with ESO\'s own token'],
  ['VaultDynamicSecret', 'spec.provider.auth.kubernetes.serviceAccountRef', 'the generator\'s Vault kubernetes auth'],
  ['SecretStore', 'spec.provider.vault.auth.iam.jwt', 'Vault IAM auth with ESO\'s AWS identity'],
  ['SecretStore', 'spec.provider.akeyless.authSecretRef.kubernetesAuth', 'Akeyless k8s access type with ESO\'s own token'],
  ['SecretStore', 'spec.provider.vault.caProvider.namespace', 'ConfigMap caProvider in another namespace'],
  ['SecretStore', 'spec.provider.kubernetes.server.caProvider.namespace', 'ConfigMap caProvider in another namespace'],
  ['Webhook', 'spec.caProvider.namespace', 'ConfigMap caProvider, and the Webhook generator\'s namespace race'],
  ['SecretStore', 'spec.provider.beyondtrust.auth.clientSecret.secretRef.namespace', 'unchecked in ESO v0.16.2'],
  ['SecretStore', 'spec.provider.ibm.auth.containerAuth.tokenLocation', 'a file of ESO\'s Pod sent to the tenant'],
  ['SecretStore', 'spec.provider.infisical.auth.kubernetesAuthCredentials.serviceAccountTokenPath', 'ESO\'s own token by default'],
  ['SecretStore', 'spec.provider.gcpsm.auth.workloadIdentityFederation.credConfig', 'credential_source files and URLs'],
  ['SecretStore', 'spec.provider.aws.auth', 'ESO\'s AWS identity'],
  ['ECRAuthorizationToken', 'spec.auth', 'ESO\'s AWS identity'],
  ['STSSessionToken', 'spec.auth', 'ESO\'s AWS identity, handed out as session credentials'],
  ['SecretStore', 'spec.provider.gcpsm.auth', 'ESO\'s GCP identity'],
  ['GCRAccessToken', 'spec.auth.secretRef', 'ESO\'s GCP identity when no auth method is given'],
  ['SecretStore', 'spec.provider.azurekv.authType', 'ESO\'s managed identity'],
  ['ACRAccessToken', 'spec.auth.managedIdentity', 'ESO\'s managed identity'],
  ['SecretStore', 'spec.provider.oracle.principalType', 'the node\'s instance principal'],
]

t.test('the known holes are candidates and classified policy or open, each with the condition to refuse', async (t) => {
  const controller = new Set(all('eso').map(key))
  for (const [kind, path, what] of knownHoles) {
    t.ok(controller.has(`${kind}:${path}`), `${kind}:${path} is a candidate field of ESO ${goModules.eso.version}`)
    const rule = classify(kind, path)
    t.ok(rule?.verdict === 'policy' || rule?.verdict === 'open', `${kind}:${path} (${what}) is refused by a policy, or stated open (${rule?.verdict})`)
    t.ok((rule?.refuse ?? '').length > 0, `${kind}:${path}: the rule says what to refuse`)
  }
})

t.test('each policy verdict names the check that refuses it; what ESO\'s own token reaches is never left open', async (t) => {
  for (const rule of esoFieldRules.filter((r) => r.verdict === 'policy')) {
    const by = rule.enforcedBy ?? ''
    t.ok(by in ownIdentityRules || by === policyNames.esoCrossNamespace, `${rule.match.slice(0, 60)}...: refused by ${by || 'nothing named'}`)
  }
  for (const rule of esoFieldRules.filter((r) => r.verdict === 'open')) {
    t.notMatch(rule.why, /every Secret in the cluster/, `open ${rule.match.slice(0, 60)}...: does not reach every Secret`)
  }
  t.same(Object.keys(ownIdentityRules).filter((name) => !esoFieldRules.some((r) => r.enforcedBy === name)), [],
    'every check of secretwire-eso-own-identity refuses a classified field')
})

t.test('Secret refs of namespaced stores and generators are pinned by ESO\'s resolvers', async (t) => {
  for (const [kind, path] of [
    ['SecretStore', 'spec.provider.vault.auth.kubernetes.secretRef.namespace'],
    ['SecretStore', 'spec.provider.kubernetes.authRef.namespace'],
    ['VaultDynamicSecret', 'spec.provider.auth.tokenSecretRef.namespace'],
    ['ECRAuthorizationToken', 'spec.auth.secretRef.accessKeyIDSecretRef.namespace'],
  ] as const) {
    const rule = classify(kind, path)
    t.equal(rule?.verdict, 'eso-enforced', `${kind}:${path}`)
    t.match(rule?.cite ?? '', 'pkg/esutils/resolvers/secret_ref.go SecretKeyRef', `${kind}:${path} cites the resolver`)
  }
})

t.test('each rule is used, complete, and cites functions that exist in the controller\'s source', async (t) => {
  const everyCandidate = versions.flatMap(all)
  const esoDir = await goModuleDir('eso')
  for (const rule of esoFieldRules) {
    t.ok(everyCandidate.some((c) => classify(c.kind, c.path) === rule), `rule ${rule.match.slice(0, 60)}... decides some field`)
    t.ok(rule.why.length > 0, 'it says why')
    if (rule.verdict === 'policy' || rule.verdict === 'open') t.ok((rule.refuse ?? '').length > 0, `policy rule ${rule.match.slice(0, 60)}... says what to refuse`)
    if (rule.verdict === 'eso-enforced') t.ok(rule.cite !== undefined, `eso-enforced rule ${rule.match.slice(0, 60)}... cites ESO's code`)
    for (const cite of (rule.cite ?? '').split(';').map((c) => c.trim()).filter((c) => c !== '')) {
      const [file, ...functions] = cite.split(/[\s,]+/)
      const source = readFileSync(join(esoDir, file!), 'utf8')
      for (const fn of functions) t.match(source, new RegExp(`^func (\\([^)]*\\) )?${fn}\\(`, 'm'), `${file} declares ${fn}`)
    }
  }
})

t.test('globs: * stays in a segment, ** crosses, braces nest, whitespace is ignored', async (t) => {
  const re = globRegExp(`SecretStore:spec.provider.{vault.auth.*.path,
    aws.{a,b{1,2}}}`)
  t.ok(re.test('SecretStore:spec.provider.vault.auth.ldap.path'), '* matches a segment')
  t.notOk(re.test('SecretStore:spec.provider.vault.auth.ldap.x.path'), '* is one segment only')
  t.ok(re.test('SecretStore:spec.provider.aws.b2'), 'nested alternatives')
  t.notOk(re.test('SecretStore:spec.provider.aws.c'), 'nothing outside the alternatives')
  t.notOk(re.test('SecretStore:spec.provider.aws.a.namespace'), 'anchored at the end')
  t.ok(globRegExp('Webhook:**.namespace').test('Webhook:spec.x[].y.namespace'), '** crosses segments and [] is literal')
  t.throws(() => globRegExp('a{b'), /unbalanced/)
})

t.test('a control: an unreviewed field fails, and the walk classes what it finds', async (t) => {
  t.equal(classify('SecretStore', 'spec.provider.someNewProvider.auth.secretRef.namespace'), undefined, 'a new provider is unclassified')
  t.equal(classify('SecretStore', 'spec.provider.vault.auth.someNewMethod'), undefined, 'a new Vault auth method is unclassified')
  const object = (properties: Record<string, unknown>, required: string[] = []) => ({ type: 'object', properties, required })
  const crd = (scope: string) => ({
    spec: {
      scope,
      names: { kind: 'Thing' },
      versions: [
        {
          name: 'v1', served: true, schema: {
            openAPIV3Schema: object({
              metadata: object({ namespace: { type: 'string' } }),
              status: object({ tokenFile: { type: 'string' } }),
              spec: object({
                auth: object({ method: object({ key: { type: 'string' } }), required: { type: 'string' } }, ['required']),
                targets: { type: 'array', items: object({ namespace: { type: 'string' }, tokenFile: { type: 'string' } }) },
                kubeConfigRef: { type: 'string' },
                serviceAccountName: { type: 'string' },
                secretStoreRef: object({ namespace: { type: 'string' } }),
                extra: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
                plain: { type: 'string' },
              }),
            }),
          },
        },
        { name: 'v0', served: false, schema: { openAPIV3Schema: object({ spec: object({ oldFile: { type: 'string' } }) }) } },
      ],
    },
  })
  const found = Object.fromEntries(candidateFields(crd('Namespaced')).map((c) => [c.path, [...c.classes].sort()]))
  t.same(found, {
    'spec.auth': ['credential'],
    'spec.auth.method': ['credential'],
    'spec.targets[].namespace': ['namespace'],
    'spec.targets[].tokenFile': ['file'],
    'spec.kubeConfigRef': ['kubeconfig'],
    'spec.serviceAccountName': ['serviceAccount'],
    'spec.extra': ['opaque'],
  }, 'status, metadata, store references, required members and unserved versions are left out')
  t.same(candidateFields(crd('Cluster')), [], 'a cluster-scoped kind has none')
  t.same(candidateFields(undefined), [], 'nothing is not a CRD')
})
