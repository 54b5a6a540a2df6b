// Room: src/core/errors.ts, src/server/ through the API server
// Every denial through the real API server: the user sees secretwire's message, with its status code, and
// nothing was created or changed.
import { AppsV1Api, CoreV1Api, CustomObjectsApi, RbacAuthorizationV1Api } from '@kubernetes/client-node'
import t from 'tap'
import { freshNamespace, kubeConfig } from '../helpers/cluster.ts'
import { inventory } from '../helpers/eso.ts'
import { serviceAccountKubeConfig } from '../../tools/cluster/identity.ts'
import { annotated, pod, workload } from '../helpers/objects.ts'
import { startSecretwire } from '../helpers/secretwire.ts'

interface Status { code: number, message: string }

async function denial(promise: Promise<unknown>): Promise<Status> {
  try {
    await promise
  } catch (err) {
    const body = JSON.parse(String((err as { body?: string }).body)) as Status
    return { code: body.code, message: body.message }
  }
  throw new Error('the API server admitted it')
}

t.test('bad annotations and conflicting env vars', async (t) => {
  const kc = await kubeConfig()
  const namespace = await freshNamespace(t, kc)
  const sw = await startSecretwire(t, kc, { namespaces: [namespace] })
  const core = kc.makeApiClient(CoreV1Api)
  const apps = kc.makeApiClient(AppsV1Api)
  const prefix = /^admission webhook "mutate\.secretwire\.io" denied the request: /

  const cases: { name: string, create: () => Promise<unknown>, code: number, message: RegExp }[] = [
    {
      name: 'invalid NAME',
      create: () => core.createNamespacedPod({ namespace, body: pod({ annotations: annotated('Grafana-DB') }) }),
      code: 400, message: /annotation secretwire\.io\/shared-secret: "Grafana-DB": "Grafana-DB" is not a valid NAME/,
    },
    {
      name: 'invalid ENV_VAR',
      create: () => apps.createNamespacedDeployment({ namespace, body: workload('Deployment', { annotations: annotated('db=DB-PASSWORD') }) }),
      code: 400, message: /annotation secretwire\.io\/shared-secret: "db=DB-PASSWORD": "DB-PASSWORD" is not a valid ENV_VAR/,
    },
    {
      name: 'unknown container',
      create: () => apps.createNamespacedDeployment({ namespace, body: workload('Deployment', { annotations: annotated('db', 'app,migrate') }) }),
      code: 400, message: /annotation secretwire\.io\/containers: "app,migrate": this Deployment has no container or init container named "migrate"/,
    },
    {
      name: 'duplicate env names',
      create: () => core.createNamespacedPod({ namespace, body: pod({ annotations: annotated('a=PW, b=PW') }) }),
      code: 400, message: /"a=PW, b=PW": env var PW would be set from both "a" and "b"/,
    },
    {
      name: 'container already defines the variable',
      create: () => core.createNamespacedPod({ namespace, body: pod({ annotations: annotated('db'), containers: [{ name: 'app', image: 'x', env: [{ name: 'DB', value: 'typed-by-hand' }] }] }) }),
      code: 400, message: /container "app" already defines env var DB, which secretwire would set from shared secret "db"/,
    },
  ]
  for (const c of cases) {
    const status = await denial(c.create())
    t.equal(status.code, c.code, `${c.name}: code`)
    t.match(status.message, prefix, `${c.name}: from secretwire`)
    t.match(status.message, c.message, c.name)
    t.notMatch(status.message, /typed-by-hand/, 'never echoes an env value')
  }
  t.same(await inventory(kc, namespace, sw.settings.storageNamespace), [], 'nothing was created')
  t.same((await core.listNamespacedPod({ namespace })).items, [], 'nothing was admitted')
})

t.test('a namespace outside the policy is denied with 403', async (t) => {
  const kc = await kubeConfig()
  const allowed = await freshNamespace(t, kc, 'grafana')
  const other = await freshNamespace(t, kc, 'web')
  const sw = await startSecretwire(t, kc, {
    namespaces: [allowed, other],
    env: { SECRETWIRE_CONFIG: 'policy.yaml' },
    files: { 'policy.yaml': `sharedSecrets:\n  grafana-db:\n    namespaces: ["grafana-*"]\n` },
  })
  const core = kc.makeApiClient(CoreV1Api)
  const status = await denial(core.createNamespacedPod({ namespace: other, body: pod({ annotations: annotated('grafana-db') }) }))
  t.equal(status.code, 403)
  t.match(status.message, `shared secret "grafana-db" may not be used in namespace "${other}": the secretwire policy allows it only in "grafana-*"`)
  t.same(await inventory(kc, other, sw.settings.storageNamespace), [], 'no object for the denied namespace')

  await core.createNamespacedPod({ namespace: allowed, body: pod({ annotations: annotated('grafana-db') }) })
  t.equal((await inventory(kc, allowed, sw.settings.storageNamespace)).length, 3, 'the allowed namespace is wired')
})

t.test('an object in the way is never adopted: 409, and nothing else is created', async (t) => {
  const kc = await kubeConfig()
  const namespace = await freshNamespace(t, kc)
  const sw = await startSecretwire(t, kc, { namespaces: [namespace] })
  const co = kc.makeApiClient(CustomObjectsApi)
  const theirs = {
    apiVersion: 'external-secrets.io/v1', kind: 'ExternalSecret',
    metadata: { name: 'secretwire-db', labels: { team: 'payments' } },
    spec: { target: { name: 'their-secret' }, data: [{ secretKey: 'k', remoteRef: { key: 'x' } }], secretStoreRef: { name: 'vault', kind: 'ClusterSecretStore' } },
  }
  await co.createNamespacedCustomObject({ group: 'external-secrets.io', version: 'v1', plural: 'externalsecrets', namespace, body: theirs })

  const core = kc.makeApiClient(CoreV1Api)
  const status = await denial(core.createNamespacedPod({ namespace, body: pod({ annotations: annotated('db') }) }))
  t.equal(status.code, 409)
  t.match(status.message, `ExternalSecret ${namespace}/secretwire-db already exists and is not managed by secretwire ` +
    '(it lacks the labels app.kubernetes.io/managed-by=secretwire, secretwire.io/shared-secret=db)')
  t.same(await inventory(kc, sw.settings.storageNamespace), [], 'the storage objects were not created either')
  const still = await co.getNamespacedCustomObject({ group: 'external-secrets.io', version: 'v1', plural: 'externalsecrets', namespace, name: 'secretwire-db' }) as typeof theirs
  t.same(still.metadata.labels, { team: 'payments' }, 'their object is unchanged')
  t.equal(still.spec.target.name, 'their-secret')
})

t.test('the API server forbidding an ensure: denied with the reason', async (t) => {
  const kc = await kubeConfig()
  const namespace = await freshNamespace(t, kc)
  const storage = await freshNamespace(t, kc, 'store')
  // An identity that may read the objects but not create them.
  const identity = await serviceAccountKubeConfig(kc, namespace, 'reader')
  const rbac = kc.makeApiClient(RbacAuthorizationV1Api)
  await rbac.createClusterRole({ body: { metadata: { name: `reader-${namespace}` }, rules: [{ apiGroups: ['external-secrets.io', 'generators.external-secrets.io'], resources: ['*'], verbs: ['get', 'list', 'watch'] }] } })
  t.teardown(() => rbac.deleteClusterRole({ name: `reader-${namespace}` }).then(() => undefined))
  await rbac.createClusterRoleBinding({ body: { metadata: { name: `reader-${namespace}` }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: `reader-${namespace}` }, subjects: [{ kind: 'ServiceAccount', name: 'reader', namespace }] } })
  t.teardown(() => rbac.deleteClusterRoleBinding({ name: `reader-${namespace}` }).then(() => undefined))
  await startSecretwire(t, kc, { namespaces: [namespace], identity, env: { SECRETWIRE_STORAGE_NAMESPACE: storage } })

  const core = kc.makeApiClient(CoreV1Api)
  const started = Date.now()
  const status = await denial(core.createNamespacedPod({ namespace, body: pod({ annotations: annotated('db') }) }))
  t.equal(status.code, 403)
  t.match(status.message, `secretwire was forbidden from creating Password ${storage}/secretwire-db: ` +
    `passwords.generators.external-secrets.io is forbidden: User "system:serviceaccount:${namespace}:reader" cannot create resource "passwords"`)
  t.ok(Date.now() - started < 5000, 'answered well inside the webhook timeout')
})
