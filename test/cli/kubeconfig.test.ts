// Room: src/cli/kubeconfig.ts
// Which cluster and identity `secretwire status` uses, rule by rule as kubectl decides it, against the run's real
// API server with two contexts: `admin` (cluster-wide rights) and `viewer` (a ServiceAccount with `view` in one
// namespace). Which one answered shows in what the status could read: everything, or that namespace alone.
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { AppsV1Api, RbacAuthorizationV1Api, type KubeConfig } from '@kubernetes/client-node'
import t from 'tap'
import { consumerAnnotation, consumerLabel } from '../../src/core/contract.ts'
import { serviceAccountKubeConfig } from '../../tools/cluster/identity.ts'
import { cliAsync } from '../helpers/cli.ts'
import { freshNamespace, kubeConfig } from '../helpers/cluster.ts'

const dir = mkdtempSync(join(tmpdir(), 'secretwire-kubeconfig-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))

const admin = await kubeConfig()
const ns = await freshNamespace(t, admin, 'kcfg')
await admin.makeApiClient(RbacAuthorizationV1Api).createNamespacedRoleBinding({
  namespace: ns,
  body: { metadata: { name: 'viewer' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'view' }, subjects: [{ kind: 'ServiceAccount', name: 'viewer', namespace: ns }] },
})
const viewer = await serviceAccountKubeConfig(admin, ns, 'viewer')
// A consumer in that namespace (no Pods: replicas 0), which both identities can see with -n.
await admin.makeApiClient(AppsV1Api).createNamespacedDeployment({
  namespace: ns,
  body: {
    metadata: { name: 'app', labels: { [consumerLabel.key]: consumerLabel.value }, annotations: { [consumerAnnotation]: 'kcfg-db' } },
    spec: { replicas: 0, selector: { matchLabels: { app: 'app' } }, template: { metadata: { labels: { app: 'app' } }, spec: { containers: [{ name: 'c', image: 'x' }] } } },
  },
})

/** A kubeconfig file of one context, named `context`, current unless `current` is false. */
function file(name: string, kc: KubeConfig, context: string, current = true): string {
  const cluster = kc.getCurrentCluster()!
  const user = kc.getCurrentUser()!
  const path = join(dir, name)
  writeFileSync(path, JSON.stringify({
    apiVersion: 'v1', kind: 'Config',
    clusters: [{ name: `${context}-cluster`, cluster: { server: cluster.server, 'certificate-authority-data': cluster.caData, 'certificate-authority': cluster.caFile } }],
    users: [{ name: `${context}-user`, user: {
      token: user.token, 'client-certificate-data': user.certData, 'client-key-data': user.keyData, 'client-certificate': user.certFile, 'client-key': user.keyFile,
    } }],
    contexts: [{ name: context, context: { cluster: `${context}-cluster`, user: `${context}-user` } }],
    ...(current && { 'current-context': context }),
  }))
  return path
}
const adminFile = file('admin.json', admin, 'admin')
const viewerFile = file('viewer.json', viewer, 'viewer')
const home = join(dir, 'home')
mkdirSync(join(home, '.kube'), { recursive: true })
const emptyHome = join(dir, 'empty-home')
mkdirSync(emptyHome)

/** `secretwire status -o json ARGS` with exactly this environment's kubeconfig settings; which identity answered. */
async function status(args: string[], env: { KUBECONFIG?: string, HOME?: string }) {
  const res = await cliAsync(['status', '-o', 'json', ...args], { env: { KUBECONFIG: env.KUBECONFIG, HOME: env.HOME ?? emptyHome, KUBERNETES_SERVICE_HOST: undefined } })
  let who: string | undefined
  if (res.stdout !== '') {
    const out = JSON.parse(res.stdout) as { unreadable: string[] }
    // admin reads everything; viewer may not list Deployments of every namespace.
    who = out.unreadable.some((u) => u.startsWith('Deployments')) ? 'viewer' : 'admin'
  }
  return { ...res, who }
}

t.test('--kubeconfig FILE comes first: before KUBECONFIG and ~/.kube/config', async (t) => {
  copyFileSync(adminFile, join(home, '.kube', 'config'))
  const [flag, control] = await Promise.all([
    status(['--kubeconfig', viewerFile], { KUBECONFIG: adminFile, HOME: home }),
    status([], { KUBECONFIG: adminFile, HOME: home }),
  ])
  t.equal(flag.who, 'viewer')
  t.equal(control.who, 'admin', 'control: without it, KUBECONFIG (admin) answers')
})

t.test('the KUBECONFIG list is merged: the first file with a current-context decides it; --context picks any', async (t) => {
  const noCurrent = file('no-current.json', viewer, 'viewer2', false)
  const [ab, ba, abViewer, baAdmin, firstWithout] = await Promise.all([
    status([], { KUBECONFIG: `${adminFile}:${viewerFile}` }),
    status([], { KUBECONFIG: `${viewerFile}:${adminFile}` }),
    status(['--context', 'viewer'], { KUBECONFIG: `${adminFile}:${viewerFile}` }),
    status(['--context', 'admin'], { KUBECONFIG: `${viewerFile}:${adminFile}` }),
    status([], { KUBECONFIG: `${noCurrent}:${viewerFile}:${adminFile}` }),
  ])
  t.equal(ab.who, 'admin')
  t.equal(ba.who, 'viewer')
  t.equal(abViewer.who, 'viewer', 'a context of the second file')
  t.equal(baAdmin.who, 'admin')
  t.equal(firstWithout.who, 'viewer', 'a first file without one: the next that has one')
})

t.test('without --kubeconfig and KUBECONFIG: ~/.kube/config', async (t) => {
  copyFileSync(viewerFile, join(home, '.kube', 'config'))
  const [unset, empty] = await Promise.all([status([], { HOME: home }), status([], { KUBECONFIG: '', HOME: home })])
  t.equal(unset.who, 'viewer')
  t.equal(empty.who, 'viewer', 'an empty KUBECONFIG counts as unset, as with kubectl')
})

t.test('nothing to go by, or a context that is not there: exit status 2, saying what was looked for', async (t) => {
  const [none, wrong, missing] = await Promise.all([
    status([], {}),
    status(['--context', 'nosuch'], { KUBECONFIG: `${adminFile}:${viewerFile}` }),
    status(['--kubeconfig', join(dir, 'nosuch.yaml')], {}),
  ])
  t.equal(none.status, 2)
  t.match(none.stderr, /^secretwire: no kubeconfig: no --kubeconfig, KUBECONFIG is not set, \S+empty-home\/\.kube\/config does not exist, and this is not a Pod\n$/)
  t.equal(wrong.status, 2)
  t.match(wrong.stderr, /^secretwire: --context nosuch: no such context in KUBECONFIG=\S+ \(it has: admin, viewer\)\n$/)
  t.equal(missing.status, 2)
  t.match(missing.stderr, /^secretwire: --kubeconfig \S+nosuch\.yaml: ENOENT/)
})

t.test('-n: a namespace\'s rows, read in that namespace, so a team member with rights there alone sees them', async (t) => {
  const [all, mine, oneRun, otherRun] = await Promise.all([
    status([], { KUBECONFIG: viewerFile }),
    status(['-n', ns], { KUBECONFIG: viewerFile }),
    status(['kcfg-db', '-n', ns], { KUBECONFIG: adminFile }),
    status(['other-db'], { KUBECONFIG: adminFile }),
  ])
  t.match(all.stdout, /"Deployments \(403\)"/, 'the viewer may not list every namespace\'s Deployments')
  const out = JSON.parse(mine.stdout) as { sharedSecrets: { name: string, namespaces: { namespace: string, consumers: string[] }[] }[], unreadable: string[] }
  t.notOk(out.unreadable.some((u) => /^(Deployments|Pods|StatefulSets) /.test(u)), `its own namespace's workloads are readable: ${out.unreadable.join('; ')}`)
  t.same(out.sharedSecrets.map((s) => [s.name, s.namespaces.map((n) => [n.namespace, n.consumers])]), [['kcfg-db', [[ns, ['Deployment/app']]]]])
  const one = JSON.parse(oneRun.stdout) as typeof out
  t.same(one.sharedSecrets.map((s) => s.name), ['kcfg-db'], 'status NAME: that shared secret alone')
  const other = JSON.parse(otherRun.stdout) as typeof out
  t.same(other.sharedSecrets, [], 'a NAME nobody uses: nothing')
})
