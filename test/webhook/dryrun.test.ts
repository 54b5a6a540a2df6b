// Dry run (kubectl --dry-run=server, kubectl diff): the same patch, nothing created.
import { AppsV1Api, CoreV1Api } from '@kubernetes/client-node'
import t from 'tap'
import { freshNamespace, kubeConfig } from '../helpers/cluster.ts'
import { inventory } from '../helpers/eso.ts'
import { annotated, pod, workload } from '../helpers/objects.ts'
import { startSecretwire } from '../helpers/secretwire.ts'

t.test('a dry run returns the wired object and creates nothing', async (t) => {
  const kc = await kubeConfig()
  const namespace = await freshNamespace(t, kc)
  const sw = await startSecretwire(t, kc, { namespaces: [namespace] })
  const apps = kc.makeApiClient(AppsV1Api)
  const core = kc.makeApiClient(CoreV1Api)
  const storage = sw.settings.storageNamespace

  const dry = await apps.createNamespacedDeployment({ namespace, dryRun: 'All', body: workload('Deployment', { annotations: annotated('db') }) })
  const env = [{ name: 'DB', valueFrom: { secretKeyRef: { name: 'secretwire-db', key: 'password' } } }]
  t.same(dry.spec?.template.spec?.containers[0]?.env, env, 'the dry-run result shows the env var')
  t.same(await inventory(kc, namespace, storage), [], 'no ESO object was created')
  await t.rejects(apps.readNamespacedDeployment({ namespace, name: 'deployment' }), { code: 404 }, 'nor the Deployment')
  const admission = sw.admissions.at(-1)?.admission
  t.equal(sw.admissions.at(-1)?.request.dryRun, true)
  t.match(admission?.response.warnings, [
    `dry run: secretwire would create Password ${storage}/secretwire-db`,
    `dry run: secretwire would create ExternalSecret ${storage}/secretwire-db`,
    `dry run: secretwire would create ExternalSecret ${namespace}/secretwire-db`,
  ])

  const real = await apps.createNamespacedDeployment({ namespace, body: workload('Deployment', { annotations: annotated('db') }) })
  t.same(real.spec?.template.spec?.containers[0]?.env, env, 'the real create gets the same patch')
  t.equal((await inventory(kc, namespace, storage)).length, 3)

  const dryPod = await core.createNamespacedPod({ namespace, dryRun: 'All', body: pod({ annotations: annotated('db') }) })
  t.same(dryPod.spec?.containers[0]?.env, env)
  t.equal(sw.admissions.at(-1)?.admission.response.warnings, undefined, 'nothing left to create, nothing to warn about')
})
