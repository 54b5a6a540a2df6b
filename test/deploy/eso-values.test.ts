// Room: deploy/eso/
// deploy/eso/eso-chart-values.yaml, the ESO chart values an installer must keep, rendered through ESO's own chart at
// the version the project runs (tools/node/eso.ts, as the demo and the node tests install ESO): the controller runs
// as the ServiceAccount the guard policies name, ESO's webhook is on, and nothing in ESO's environment is a credential
// its providers would lend to a tenant's store. Needs Helm and ESO's module (npm test prepares both); no cluster.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { parse, parseAllDocuments } from 'yaml'
import { identities } from '../../src/core/contract.ts'
import { defaultGuardSettings } from '../../src/manifests/policies.ts'
import { serviceAccountUser } from '../../src/core/contract.ts'
import { repoRoot } from '../../tools/paths.ts'
import { ESO_NAMESPACE, renderEsoChart } from '../../tools/node/eso.ts'

interface Doc {
  kind: string
  metadata: { name: string, namespace?: string }
  spec?: { template?: { spec?: { serviceAccountName?: string, containers?: { env?: { name: string }[] }[] } } }
}

const values = parse(readFileSync(join(repoRoot, 'deploy', 'eso', 'eso-chart-values.yaml'), 'utf8')) as Record<string, unknown>
const docs = parseAllDocuments(await renderEsoChart('10.96.0.1')).map((d) => d.toJS() as Doc).filter((d) => d !== null)

t.test('the controller runs as the identity the guard policies name', async (t) => {
  t.equal(ESO_NAMESPACE, identities.esoController.namespace, 'installed in the namespace the contract names')
  const controller = docs.find((d) => d.kind === 'Deployment' && d.metadata.name === 'external-secrets')
  t.equal(controller?.spec?.template?.spec?.serviceAccountName, identities.esoController.name, 'its Deployment runs as that ServiceAccount')
  t.ok(docs.some((d) => d.kind === 'ServiceAccount' && d.metadata.name === identities.esoController.name && d.metadata.namespace === identities.esoController.namespace),
    'the chart creates it')
  t.equal(defaultGuardSettings.esoController, serviceAccountUser(identities.esoController), 'the policies\' esoController variable is that user')
})

t.test('ESO\'s webhook is on, and ESO lends no credential from its environment', async (t) => {
  t.ok(docs.some((d) => d.kind === 'ValidatingWebhookConfiguration' && d.metadata.name === 'secretstore-validate'), 'the SecretStore webhook is registered')
  t.ok(docs.some((d) => d.kind === 'Deployment' && d.metadata.name === 'external-secrets-webhook'), 'and served')
  const env = docs.filter((d) => d.kind === 'Deployment').flatMap((d) => d.spec?.template?.spec?.containers ?? []).flatMap((c) => c.env ?? []).map((e) => e.name)
  t.same(env.filter((n) => /^(VAULT_|AWS_|GOOGLE_|AZURE_)/.test(n)), [], 'no Vault or cloud credential variable in any ESO container')
  t.same((values.serviceAccount as { annotations?: object }).annotations, {}, 'no cloud identity annotation on its ServiceAccount')
})
