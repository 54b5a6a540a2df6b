// Room: docs/gitops.md, src/core/plan.ts through the API server
// docs/gitops.md: a workload applied and wired shows no difference from its manifest in `kubectl diff`, server-side
// (what Flux's drift detection runs) and client-side (a three-way diff against last-applied-configuration): the
// doc's commands, word for word, in both inject modes. In templates mode the live object does differ from the
// manifest (it is wired); the diffs leave secretwire's additions alone because no field manager owns them.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import t from 'tap'
import { stringify } from 'yaml'
import { kubectlPath } from '../../tools/build/builds.ts'
import { freshNamespace, kubeConfig } from '../helpers/cluster.ts'
import { describeRuns, runDocBlock } from '../helpers/docs.ts'
import { kubectl as kubectlFor } from '../helpers/kubectl.ts'
import { annotated, workload } from '../helpers/objects.ts'
import { startSecretwire } from '../helpers/secretwire.ts'

for (const inject of ['templates', 'pods'] as const) {
  for (const [id, how] of [['gitops-diff-server-side', 'server-side'], ['gitops-diff-client-side', 'client-side']] as const) {
    t.test(`SECRETWIRE_INJECT=${inject}, ${how} apply: kubectl diff of the applied, wired workload shows nothing`, async (t) => {
      const kc = await kubeConfig()
      const namespace = await freshNamespace(t, kc)
      await startSecretwire(t, kc, { namespaces: [namespace], env: { SECRETWIRE_INJECT: inject } })
      const dir = mkdtempSync(join(tmpdir(), 'secretwire-gitops-'))
      t.teardown(() => rmSync(dir, { recursive: true, force: true }))
      const body = workload('Deployment', { name: 'app', annotations: annotated('gitops-db') })
      writeFileSync(join(dir, 'app.yaml'), stringify({ ...body, metadata: { ...body.metadata, namespace } }))
      const kubeconfig = join(dir, 'kubeconfig')
      writeFileSync(kubeconfig, kc.exportConfig())

      const runs = id === 'gitops-diff-server-side'
        ? await runDocBlock('gitops-diff-server-side', { cwd: dir, path: [dirname(await kubectlPath())], env: { KUBECONFIG: kubeconfig } })
        : await runDocBlock('gitops-diff-client-side', { cwd: dir, path: [dirname(await kubectlPath())], env: { KUBECONFIG: kubeconfig } })
      t.strictSame(runs.map((r) => r.status), [0, 0], describeRuns(runs))
      t.equal(runs[1]?.stdout, '', 'the diff prints nothing')

      const kubectl = await kubectlFor(kubeconfig)
      const stored = JSON.parse(kubectl(['get', 'deployment', 'app', '-n', namespace, '--show-managed-fields', '-o', 'json']).stdout) as
        { metadata: { labels?: Record<string, string>, annotations?: Record<string, string>, managedFields: unknown[] }, spec: { template: { spec: { containers: { env?: unknown[] }[] } } } }
      if (inject === 'templates') {
        t.equal(stored.spec.template.spec.containers[0]?.env?.length, 1, 'the live object is wired: a field-by-field comparison with the manifest would differ')
        // Why the diff shows nothing: what a mutating webhook adds is owned by no field manager, and neither a
        // server-side apply (or its dry run) nor a client-side three-way diff removes a field that no manager owns
        // and the manifest never set.
        const owned = JSON.stringify(stored.metadata.managedFields)
        t.notOk(owned.includes('f:env'), 'no field manager owns the env var secretwire added')
        t.notOk(owned.includes('secretwire.io/consumer'), 'nor its label')
        if (how === 'client-side') {
          t.notOk(stored.metadata.annotations?.['kubectl.kubernetes.io/last-applied-configuration']?.includes('GITOPS_DB'), 'last-applied-configuration is the manifest, without the env var')
        }
      } else {
        t.equal(stored.spec.template.spec.containers[0]?.env, undefined, 'stored exactly as sent: no env var')
        t.equal(stored.metadata.labels?.['secretwire.io/consumer'], undefined, 'and no label of secretwire\'s')
      }
    })
  }
}
