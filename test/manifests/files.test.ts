// Room: src/manifests/
// deploy/ restates the contract in YAML and CEL; these files are generated from src/core/contract.ts and must be
// exactly what `npm run generate` writes, so a change to the contract cannot leave the manifests behind.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { parseAllDocuments } from 'yaml'
import { annotationKey, annotations, excludedNamespaces } from '../../src/core/contract.ts'
import { generatedFiles } from '../../src/manifests/files.ts'
import { repoRoot } from '../../tools/paths.ts'
import { workloadKinds } from '../../src/core/workload.ts'

t.test('every generated file in deploy/ is up to date (run `npm run generate`)', async (t) => {
  for (const [path, text] of Object.entries(generatedFiles())) {
    t.equal(readFileSync(join(repoRoot, path), 'utf8'), text, path)
  }
})

t.test('the webhook registration names every admitted kind, the annotation and the excluded namespaces', async (t) => {
  const [mwc] = parseAllDocuments(generatedFiles()['deploy/webhook/mutatingwebhookconfiguration.yaml']!).map((d) => d.toJS())
  const hook = mwc.webhooks[0]
  const registered = hook.rules.flatMap((r: { apiGroups: string[], resources: string[], operations: string[] }) =>
    r.resources.map((res) => `${r.apiGroups[0]}/${res} ${r.operations.join(',')}`)).sort()
  t.same(registered, workloadKinds.map((k) => `${k.group}/${k.resource} ${k.operations.join(',')}`).sort())
  t.match(hook.matchConditions[0].expression, `'${annotationKey(annotations.sharedSecret)}' in m.annotations`)
  t.same(hook.namespaceSelector.matchExpressions[0].values, excludedNamespaces)
})
