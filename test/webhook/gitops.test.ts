// docs/gitops.md: a workload applied and wired shows no difference from its manifest in `kubectl diff`, server-side
// (what Flux's drift detection runs) and client-side (a three-way diff against last-applied-configuration): the
// doc's commands, word for word, in both inject modes. In templates mode the live object does differ from the
// manifest (it is wired); the diffs leave secretwire's additions alone because no field manager owns them.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import t from 'tap'
import { stringify } from 'yaml'
import { kubectlPath } from '../../tools/local/controlplane.ts'
import { freshNamespace, kubeConfig } from '../helpers/cluster.ts'
import { describeRuns, runDocBlock } from '../helpers/docs.ts'
import { kubectl as kubectlFor } from '../helpers/kubectl.ts'
import { annotated, workload } from '../helpers/objects.ts'
import { startSecretwire } from '../helpers/secretwire.ts'

for (const inject of ['templates', 'pods'] as const) {
  t.test(`SECRETWIRE_INJECT=${inject}: kubectl diff of an applied, wired workload shows nothing`, async (t) => {
    const kc = await kubeConfig()
    const namespace = await freshNamespace(t, kc)
    await startSecretwire(t, kc, { namespaces: [namespace], env: { SECRETWIRE_INJECT: inject } })
    const dir = mkdtempSync(join(tmpdir(), 'secretwire-gitops-'))
    t.teardown(() => rmSync(dir, { recursive: true, force: true }))
    const body = workload('Deployment', { name: 'app', annotations: annotated('gitops-db') })
    writeFileSync(join(dir, 'app.yaml'), stringify({ ...body, metadata: { ...body.metadata, namespace } }))
    const kubeconfig = join(dir, 'kubeconfig')
    writeFileSync(kubeconfig, kc.exportConfig())

    const runs = await runDocBlock('gitops-diff', { cwd: dir, path: [dirname(await kubectlPath())], env: { KUBECONFIG: kubeconfig } })
    t.strictSame(runs.map((r) => r.status), [0, 0, 0], describeRuns(runs))
    t.equal(runs[1]?.stdout, '', 'the server-side diff prints nothing')

    const kubectl = await kubectlFor(kubeconfig)
    const stored = JSON.parse(kubectl(['get', 'deployment', 'app', '-n', namespace, '-o', 'json']).stdout) as { metadata: { labels?: Record<string, string> }, spec: { template: { spec: { containers: { env?: unknown[] }[] } } } }
    if (inject === 'templates') {
      t.equal(stored.spec.template.spec.containers[0]?.env?.length, 1, 'the live object is wired: a field-by-field comparison with the manifest would differ')
      // Why both diffs show nothing: what a mutating webhook adds is owned by no field manager, and neither a
      // server-side apply (or its dry run) nor a client-side three-way diff removes a field that no manager owns and
      // the manifest never set.
      const owned = JSON.stringify((JSON.parse(kubectl(['get', 'deployment', 'app', '-n', namespace, '--show-managed-fields', '-o', 'json']).stdout) as { metadata: { managedFields: unknown[] } }).metadata.managedFields)
      t.notOk(owned.includes('f:env'), 'no field manager owns the env var secretwire added')
      t.notOk(owned.includes('secretwire.io/consumer'), 'nor its label')
    } else {
      t.equal(stored.spec.template.spec.containers[0]?.env, undefined, 'stored exactly as sent: no env var')
      t.equal(stored.metadata.labels?.['secretwire.io/consumer'], undefined, 'and no label of secretwire\'s')
    }
  })
}
