// Room: deploy/chart/
// deploy/chart with Helm built from its Go module (tools/go/controlplane/tools.go) and a real API server: it lints; a typo in values
// fails the install with a message naming it and changes nothing; it renders exactly the objects of the kustomize
// overlays it replaces; and it installs, upgrades and uninstalls, leaving behind only the storage namespace (the
// stored passwords).
import { spawnSync } from 'node:child_process'
import { X509Certificate } from 'node:crypto'
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { AdmissionregistrationV1Api, AppsV1Api, CoreV1Api } from '@kubernetes/client-node'
import t from 'tap'
import { parseAllDocuments } from 'yaml'
import { injectionPolicy } from '../../src/manifests/injection.ts'
import { admissionPolicies } from '../../src/manifests/policies.ts'
import { repoRoot } from '../../tools/paths.ts'
import { buildHelm, kubectlPath } from '../../tools/build/builds.ts'
import { describeRuns, runDocBlock } from '../helpers/docs.ts'
import { ownControlPlane } from '../helpers/cluster.ts'
import { kubectl as kubectlFor } from '../helpers/kubectl.ts'

// A private control plane: the chart registers cluster-wide webhooks and policies that must not reach other tests.
const cp = await ownControlPlane()
const kc = cp.kubeConfig()
const kubectl = await kubectlFor(cp.info.kubeconfig)
const helmBin = await buildHelm()
const chart = join(repoRoot, 'deploy', 'chart')

// Helm's caches and settings in a directory of this run, not the user's home.
const home = mkdtempSync(join(tmpdir(), 'secretwire-helm-'))
t.teardown(() => rmSync(home, { recursive: true, force: true }))
const helmEnv = { HOME: home, KUBECONFIG: cp.info.kubeconfig, HELM_CACHE_HOME: join(home, 'cache'), HELM_CONFIG_HOME: join(home, 'config'), HELM_DATA_HOME: join(home, 'data') }
function helm(args: readonly string[]): { status: number | null, stdout: string, stderr: string } {
  const res = spawnSync(helmBin, [...args], { encoding: 'utf8', env: { PATH: process.env.PATH, ...helmEnv } })
  return { status: res.status, stdout: res.stdout, stderr: res.stderr }
}

interface K8sObject { apiVersion: string, kind: string, metadata: { name: string, namespace?: string, labels?: Record<string, string>, annotations?: Record<string, string> }, [k: string]: unknown }
const objects = (text: string): K8sObject[] => parseAllDocuments(text).map((d) => d.toJS() as K8sObject).filter((o) => o !== null)
const id = (o: K8sObject) => `${o.kind} ${o.metadata.namespace ?? ''}/${o.metadata.name}`

/** Helm's conventions, the only difference the chart may show from the kustomize install. */
const helmLabels = ['helm.sh/chart', 'app.kubernetes.io/instance', 'app.kubernetes.io/managed-by']
const helmAnnotations = ['helm.sh/resource-policy']
function withoutHelm(o: K8sObject): K8sObject {
  const copy = structuredClone(o)
  for (const [field, keys] of [['labels', helmLabels], ['annotations', helmAnnotations]] as const) {
    const map = copy.metadata[field]
    if (map === undefined) continue
    for (const k of keys) delete map[k]
    if (Object.keys(map).length === 0) delete copy.metadata[field]
  }
  return copy
}

function template(sets: readonly string[] = [], namespace = 'secretwire'): { status: number | null, stdout: string, stderr: string } {
  return helm(['template', 'secretwire', chart, '-n', namespace, ...sets.flatMap((s) => ['--set', s])])
}

/** Where the docs' commands find helm and kubectl: the ones this run built. */
const toolPath = async () => [dirname(helmBin), dirname(await kubectlPath())]

// A copy of deploy/ with the certificate certs/generate.sh makes, and kustomizations combining the components.
const work = mkdtempSync(join(tmpdir(), 'secretwire-chart-'))
t.teardown(() => rmSync(work, { recursive: true, force: true }))
cpSync(join(repoRoot, 'deploy'), join(work, 'deploy'), { recursive: true })
cpSync(join(repoRoot, 'certs'), join(work, 'certs'), { recursive: true })
const generated = spawnSync('bash', [join(repoRoot, 'certs', 'generate.sh'), join(work, 'deploy', 'plain', 'generated')], { encoding: 'utf8' })
if (generated.status !== 0) throw new Error(`certs/generate.sh: ${generated.stderr}`)
function overlay(name: string, resources: readonly string[], components: readonly string[] = []): string {
  const dir = join(work, 'deploy', name)
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, 'kustomization.yaml'), `apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: ${JSON.stringify(resources)}\ncomponents: ${JSON.stringify(components)}\n`)
  return name
}
function kustomize(name: string): K8sObject[] {
  const res = kubectl(['kustomize', join(work, 'deploy', name)])
  if (res.status !== 0) throw new Error(`kustomize ${name}: ${res.stderr}`)
  return objects(res.stdout)
}

t.test('helm lint --strict passes, with the defaults and with every mode', async (t) => {
  for (const sets of [[], ['tls.mode=cert-manager', 'failureMode=fail-closed'], ['strategy=push', 'eso.createStore=true'], ['tls.mode=existingSecret', 'tls.caBundle=PEM']]) {
    const res = helm(['lint', '--strict', chart, '--namespace', 'secretwire', ...sets.flatMap((s) => ['--set', s])])
    t.equal(res.status, 0, `lint ${sets.join(' ') || 'defaults'}: ${res.stdout}${res.stderr}`)
  }
})

t.test('the chart renders exactly the objects of the kustomize install it replaces', async (t) => {
  const caPem = readFileSync(join(work, 'deploy', 'plain', 'generated', 'ca.crt'), 'utf8')
  const cases: { sets: string[], kustomize: string, note: string }[] = [
    { sets: ['tls.mode=cert-manager'], kustomize: 'cert-manager', note: 'cert-manager' },
    { sets: ['tls.mode=cert-manager', 'failureMode=fail-closed'], kustomize: overlay('x-fail-closed', ['../cert-manager'], ['../components/fail-closed']), note: 'fail-closed' },
    { sets: ['tls.mode=cert-manager', 'strategy=push', 'eso.createStore=true'], kustomize: overlay('x-push', ['../eso', '../cert-manager'], ['../components/push-strategy']), note: 'push, with the store' },
    { sets: ['tls.mode=existingSecret', `tls.caBundle=${caPem}`], kustomize: 'plain', note: 'a certificate of your own (certs/generate.sh)' },
    { sets: ['tls.mode=cert-manager', 'inAPIServerInjection=enabled'], kustomize: overlay('x-injection', ['../cert-manager'], ['../components/in-apiserver-injection']), note: 'in-apiserver injection' },
  ]
  for (const c of cases) {
    const rendered = template(c.sets)
    t.equal(rendered.status, 0, `${c.note}: ${rendered.stderr}`)
    const fromChart = new Map(objects(rendered.stdout).map((o) => [id(o), withoutHelm(o)]))
    // The release namespace is Helm's to make (--create-namespace), and a certificate of your own is yours.
    const fromKustomize = new Map(kustomize(c.kustomize)
      .filter((o) => !(o.kind === 'Namespace' && o.metadata.name === 'secretwire') && !(o.kind === 'Secret' && o.metadata.name === 'secretwire-tls'))
      .map((o) => [id(o), o]))
    t.strictSame([...fromChart.keys()].sort(), [...fromKustomize.keys()].sort(), `${c.note}: the same objects`)
    for (const [key, object] of fromKustomize) t.strictSame(fromChart.get(key), object, `${c.note}: ${key}`)
  }
})

t.test('inAPIServerInjection auto: the MutatingAdmissionPolicy where the cluster serves it', async (t) => {
  const kinds = (extra: string[]) => objects(helm(['template', 'secretwire', chart, '-n', 'secretwire', ...extra]).stdout).map((o) => o.kind)
  t.notOk(kinds([]).includes('MutatingAdmissionPolicy'), 'not without knowing (helm template with no cluster)')
  t.ok(kinds(['--api-versions', 'admissionregistration.k8s.io/v1/MutatingAdmissionPolicy']).includes('MutatingAdmissionPolicy'), 'installed where served')
  t.notOk(kinds(['--api-versions', 'admissionregistration.k8s.io/v1/MutatingAdmissionPolicy', '--set', 'inAPIServerInjection=disabled']).includes('MutatingAdmissionPolicy'), 'not when disabled')
})

t.test('the default install makes its own CA and serving certificate for the Service name', async (t) => {
  const rendered = objects(template().stdout)
  const secret = rendered.find((o) => o.kind === 'Secret' && o.metadata.name === 'secretwire-tls') as K8sObject & { data: Record<string, string> }
  const hook = (rendered.find((o) => o.kind === 'MutatingWebhookConfiguration') as K8sObject & { webhooks: { clientConfig: { caBundle: string } }[] }).webhooks[0]!
  t.equal(hook.clientConfig.caBundle, secret.data['ca.crt'], 'the caBundle is the CA in the Secret')
  const ca = new X509Certificate(Buffer.from(secret.data['ca.crt']!, 'base64'))
  const cert = new X509Certificate(Buffer.from(secret.data['tls.crt']!, 'base64'))
  t.ok(cert.checkIssued(ca) && cert.verify(ca.publicKey), 'the serving certificate is signed by it')
  t.equal(cert.checkHost('secretwire.secretwire.svc'), 'secretwire.secretwire.svc', 'for the name the API server calls')
})

t.test('env can replace the shipped runtime settings (NODE_OPTIONS, MALLOC_ARENA_MAX) without a duplicate entry', async (t) => {
  const envOf = (sets: string[]) => {
    const rendered = template(sets)
    t.equal(rendered.status, 0, rendered.stderr)
    const deployment = objects(rendered.stdout).find((o) => o.kind === 'Deployment') as unknown as { spec: { template: { spec: { containers: { env: { name: string, value?: string }[] }[] } } } }
    return deployment.spec.template.spec.containers[0]!.env.filter((e) => e.name === 'NODE_OPTIONS' || e.name === 'MALLOC_ARENA_MAX')
  }
  t.strictSame(envOf([]).map((e) => e.name), ['NODE_OPTIONS', 'MALLOC_ARENA_MAX'], 'shipped: both, once')
  t.strictSame(envOf(['env.NODE_OPTIONS=--max-old-space-size=512']), [{ name: 'MALLOC_ARENA_MAX', value: '2' }, { name: 'NODE_OPTIONS', value: '--max-old-space-size=512' }],
    'env.NODE_OPTIONS: the given value, once')
  t.strictSame(envOf(['env.NODE_OPTIONS=', 'env.MALLOC_ARENA_MAX=8']), [{ name: 'MALLOC_ARENA_MAX', value: '8' }, { name: 'NODE_OPTIONS', value: '' }],
    'an empty NODE_OPTIONS (Node.js defaults) and another arena count, each once')
})

t.test('the store and ESO\'s controller in values reach the guard policies, as the generator would write them', async (t) => {
  const rendered = template(['inAPIServerInjection=enabled', 'eso.storageNamespace=vault', 'eso.clusterSecretStore=team-store', 'eso.controller.namespace=eso', 'eso.controller.serviceAccount=eso-ctl'])
  t.equal(rendered.status, 0, rendered.stderr)
  const policies = objects(rendered.stdout).filter((o) => /^(Validating|Mutating)AdmissionPolicy/.test(o.kind)).map(withoutHelm)
  const guard = { storageNamespace: 'vault', clusterSecretStore: 'team-store', esoController: 'system:serviceaccount:eso:eso-ctl' }
  const expected = [...admissionPolicies(guard), ...injectionPolicy(guard)]
  t.strictSame(new Map(policies.map((o) => [id(o), o])), new Map(expected.map(({ object }) => JSON.parse(JSON.stringify(object)) as K8sObject).map((o) => [id(o), o])))
})

t.test('a mistake in values fails with a message naming it, and installs nothing', async (t) => {
  const mistakes: [string[], string, RegExp][] = [
    [['--set', 'replica=3'], 'secretwire', /at '': additional properties 'replica' not allowed/],
    [['--set', 'strategy=pull'], 'secretwire', /at '\/strategy': value must be one of 'generate', 'push'/],
    [['--set', 'failureMode=closed'], 'secretwire', /at '\/failureMode': value must be one of 'ignore', 'fail-closed'/],
    [['--set', 'inAPIServerInjection=on'], 'secretwire', /at '\/inAPIServerInjection': value must be one of 'auto', 'enabled', 'disabled'/],
    [['--set', 'eso.storageNamespace=Team_Vault'], 'secretwire', /at '\/eso\/storageNamespace': 'Team_Vault' does not match pattern/],
    [['--set', 'tls.mode=existingSecret'], 'secretwire', /tls\.caBundle: with tls\.mode existingSecret, give the PEM of the CA/],
    [['--set', 'env.SECRETWIRE_STRATEGY=push'], 'secretwire', /env\.SECRETWIRE_STRATEGY: set it with the chart's own value/],
    [[], 'default', /install secretwire into the namespace secretwire \(helm install -n secretwire\), not "default"/],
  ]
  for (const [sets, namespace, message] of mistakes) {
    const what = sets.join(' ') || `-n ${namespace}`
    const res = helm(['install', 'secretwire', chart, '-n', namespace, '--create-namespace', ...sets])
    t.not(res.status, 0, `${what}: refused`)
    t.match(res.stderr, message, `${what}: ${message.exec(res.stderr)?.[0] ?? res.stderr}`)
  }
  t.equal(helm(['list', '-A', '-q']).stdout.trim(), '', 'no release recorded')
  const hooks = await kc.makeApiClient(AdmissionregistrationV1Api).listMutatingWebhookConfiguration()
  t.strictSame(hooks.items.map((h) => h.metadata?.name), [], 'no webhook registered')
})

t.test('install, upgrade and uninstall on the cluster; uninstall keeps only the stored passwords', async (t) => {
  // The README's commands, word for word, in the user's copy of the repository.
  const installed = await runDocBlock('install-helm', { cwd: work, path: await toolPath(), env: helmEnv })
  t.ok(installed.length > 0 && installed.every((r) => r.status === 0), `install:\n${describeRuns(installed)}`)
  t.equal((await kc.makeApiClient(CoreV1Api).readNamespace({ name: 'secretwire' })).metadata?.labels?.['pod-security.kubernetes.io/enforce'], 'restricted', 'the namespace enforces restricted')
  const manifest = objects(helm(['get', 'manifest', 'secretwire', '-n', 'secretwire']).stdout)
  // inAPIServerInjection auto, on a cluster that serves MutatingAdmissionPolicy v1 (this run's 1.37).
  t.ok(manifest.some((o) => o.kind === 'MutatingAdmissionPolicy' && o.metadata.name === 'secretwire-inject'), 'the in-apiserver injection is installed where served')
  const exists = (o: K8sObject) => kubectl(['get', o.kind, o.metadata.name, ...(o.metadata.namespace ? ['-n', o.metadata.namespace] : []), '-o', 'name']).status === 0
  t.strictSame(manifest.filter((o) => !exists(o)).map(id), [], `all ${manifest.length} objects exist`)

  const core = kc.makeApiClient(CoreV1Api)
  const admission = kc.makeApiClient(AdmissionregistrationV1Api)
  const tlsBefore = (await core.readNamespacedSecret({ namespace: 'secretwire', name: 'secretwire-tls' })).data
  const caBefore = (await admission.readMutatingWebhookConfiguration({ name: 'secretwire' })).webhooks?.[0]?.clientConfig.caBundle

  const upgraded = helm(['upgrade', 'secretwire', chart, '-n', 'secretwire', '--reuse-values', '--set', 'replicas=3'])
  t.equal(upgraded.status, 0, `upgrade: ${upgraded.stderr}`)
  t.equal((await kc.makeApiClient(AppsV1Api).readNamespacedDeployment({ namespace: 'secretwire', name: 'secretwire' })).spec?.replicas, 3, 'the upgrade took effect')
  t.strictSame((await core.readNamespacedSecret({ namespace: 'secretwire', name: 'secretwire-tls' })).data, tlsBefore, 'the certificate is kept across the upgrade')
  t.equal((await admission.readMutatingWebhookConfiguration({ name: 'secretwire' })).webhooks?.[0]?.clientConfig.caBundle, caBefore, 'and so is the caBundle')

  // A stored password, as ESO writes one (made here by break-glass: the guard policies refuse anyone else).
  const stored = kubectl(['create', 'secret', 'generic', 'secretwire-kept', '-n', 'eso-secret-storage', '--from-literal=password=p',
    '--as=chart-test', '--as-group=system:masters', '--as-group=secretwire:break-glass'])
  t.equal(stored.status, 0, `a stored password: ${stored.stderr}`)

  const removed = helm(['uninstall', 'secretwire', '-n', 'secretwire', '--wait'])
  t.equal(removed.status, 0, `uninstall: ${removed.stderr}`)
  t.strictSame(manifest.filter(exists).map(id), ['Namespace /eso-secret-storage'], 'of the chart\'s objects only the storage namespace is left')
  t.equal(kubectl(['get', 'secret', 'secretwire-kept', '-n', 'eso-secret-storage', '-o', 'name']).stdout.trim(), 'secret/secretwire-kept', 'with the stored password in it')
  const left = (kind: string) => kubectl(['get', kind, '-o', 'name']).stdout.split('\n').filter((n) => n.includes('secretwire'))
  t.strictSame([...left('validatingadmissionpolicies'), ...left('validatingadmissionpolicybindings'), ...left('mutatingadmissionpolicies'), ...left('mutatingadmissionpolicybindings'),
    ...left('mutatingwebhookconfigurations'), ...left('clusterroles'), ...left('clusterrolebindings')], [],
    'no cluster-wide secretwire object is left')
})

t.test('from the kustomize install: docs/operations.md\'s adoption commands, then helm install takes the objects over in place', async (t) => {
  // The README's kustomize install, then the adoption commands of docs/operations.md, word for word, in the user's
  // copy of the repository.
  const path = await toolPath()
  const kustomized = await runDocBlock('install-plain', { cwd: work, path, env: helmEnv })
  t.ok(kustomized.length > 0 && kustomized.every((r) => r.status === 0), `the kustomize install:\n${describeRuns(kustomized)}`)
  const before = (await kc.makeApiClient(AppsV1Api).readNamespacedDeployment({ namespace: 'secretwire', name: 'secretwire' })).metadata?.uid
  const adopted = await runDocBlock('helm-adopt', { cwd: work, path, env: helmEnv })
  t.ok(adopted.length === 3 && adopted.every((r) => r.status === 0), `adoption and helm install over the kustomize objects:\n${describeRuns(adopted)}`)
  t.equal((await kc.makeApiClient(AppsV1Api).readNamespacedDeployment({ namespace: 'secretwire', name: 'secretwire' })).metadata?.uid, before, 'the same Deployment, not a new one')
  const removed = helm(['uninstall', 'secretwire', '-n', 'secretwire', '--wait'])
  t.equal(removed.status, 0, `uninstall: ${removed.stderr}`)
})
