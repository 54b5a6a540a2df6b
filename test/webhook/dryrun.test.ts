// Room: src/kube/ensure.ts through the API server
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
  // The whole list: an extra or a missing warning is a wrong promise to the user.
  const wouldCreate = [
    `dry run: secretwire would create Password ${storage}/secretwire-db`,
    `dry run: secretwire would create ExternalSecret ${storage}/secretwire-db`,
    `dry run: secretwire would create ExternalSecret ${namespace}/secretwire-db`,
  ]
  t.strictSame(admission?.response.warnings, wouldCreate, 'secretwire warns what it would create')

  // What the user sees: the API server passes the webhook's warnings on as Warning headers (kubectl prints them).
  const dryAgain = await apps.createNamespacedDeploymentWithHttpInfo({ namespace, dryRun: 'All', body: workload('Deployment', { annotations: annotated('db') }) })
  t.strictSame(warningHeaders(dryAgain.headers), wouldCreate, 'and the client gets exactly those warnings')

  const real = await apps.createNamespacedDeploymentWithHttpInfo({ namespace, body: workload('Deployment', { annotations: annotated('db') }) })
  t.same(real.data.spec?.template.spec?.containers[0]?.env, env, 'the real create gets the same patch')
  t.equal((await inventory(kc, namespace, storage)).length, 3)
  t.strictSame(warningHeaders(real.headers), [
    `secretwire created Password ${storage}/secretwire-db`,
    `secretwire created ExternalSecret ${storage}/secretwire-db`,
    `secretwire created ExternalSecret ${namespace}/secretwire-db`,
    'Pods start once ESO has synced Secret secretwire-db',
  ], 'the real create: what was created, and when Pods can start, as the client sees it')

  const dryPod = await core.createNamespacedPodWithHttpInfo({ namespace, dryRun: 'All', body: pod({ annotations: annotated('db') }) })
  t.same(dryPod.data.spec?.containers[0]?.env, env)
  t.equal(sw.admissions.at(-1)?.admission.response.warnings, undefined, 'nothing left to create, nothing to warn about')
  t.strictSame(warningHeaders(dryPod.headers), [], 'and the client sees no warning')
})

/**
 * The warning texts of an API response's Warning headers (RFC 7234: `299 - "text"`, quotes and backslashes
 * escaped), which fetch joins into one header with ", ".
 */
function warningHeaders(headers: Record<string, string>): string[] {
  const header = headers.warning ?? ''
  return [...header.matchAll(/299 - "((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]!.replace(/\\(.)/g, '$1'))
}
