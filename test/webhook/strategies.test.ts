// Room: src/core/esoobjects.ts through the API server and ESO
// Both strategies through the real API server, and the heart of the product: namespaces naming the same shared
// secret share one generator and one stored secret.
import { AppsV1Api } from '@kubernetes/client-node'
import t from 'tap'
import { freshNamespace, kubeConfig } from '../helpers/cluster.ts'
import { inventory, list } from '../helpers/eso.ts'
import { annotated, workload } from '../helpers/objects.ts'
import { startSecretwire } from '../helpers/secretwire.ts'

for (const strategy of ['push', 'generate'] as const) {
  t.test(`strategy ${strategy}: two namespaces share one NAME, another NAME gets its own`, async (t) => {
    const kc = await kubeConfig()
    const grafana = await freshNamespace(t, kc, 'grafana')
    const postgres = await freshNamespace(t, kc, 'postgres')
    const sw = await startSecretwire(t, kc, { namespaces: [grafana, postgres], env: { SECRETWIRE_STRATEGY: strategy } })
    const storage = sw.settings.storageNamespace
    const apps = kc.makeApiClient(AppsV1Api)

    await apps.createNamespacedDeployment({ namespace: grafana, body: workload('Deployment', { name: 'grafana', annotations: annotated('grafana-db') }) })
    await apps.createNamespacedStatefulSet({ namespace: postgres, body: workload('StatefulSet', { name: 'postgres', annotations: annotated('grafana-db=POSTGRES_PASSWORD') }) })
    await apps.createNamespacedDeployment({ namespace: postgres, body: workload('Deployment', { name: 'exporter', annotations: annotated('metrics') }) })

    const stored = strategy === 'push' ? 'PushSecret' : 'ExternalSecret'
    t.same(await inventory(kc, storage), [
      `${stored} ${storage}/secretwire-grafana-db`, `${stored} ${storage}/secretwire-metrics`,
      `Password ${storage}/secretwire-grafana-db`, `Password ${storage}/secretwire-metrics`,
    ].sort(), 'one generator and one stored secret per NAME')
    t.same(await inventory(kc, grafana, postgres), [
      `ExternalSecret ${grafana}/secretwire-grafana-db`,
      `ExternalSecret ${postgres}/secretwire-grafana-db`, `ExternalSecret ${postgres}/secretwire-metrics`,
    ], 'one ExternalSecret per NAME and namespace')

    // Both consumers read the same stored secret through the same store.
    for (const ns of [grafana, postgres]) {
      const [es] = (await list(kc, 'ExternalSecret', ns)).filter((o) => o.metadata.name === 'secretwire-grafana-db')
      t.match(es?.spec.data, [{ secretKey: 'password', remoteRef: { key: 'secretwire-grafana-db', property: 'password' } }])
      t.same(es?.spec.secretStoreRef, { name: 'eso-cluster-secret-store', kind: 'ClusterSecretStore' })
    }
    const [generator] = await list(kc, 'Password', storage)
    t.match(generator?.spec, { length: 42, digits: 5, symbols: 5, symbolCharacters: '-_$@', allowRepeat: true })
    const storedSecret = (await list(kc, stored, storage)).find((o) => o.metadata.name === 'secretwire-grafana-db')
    if (strategy === 'push') {
      t.match(storedSecret?.spec, { refreshInterval: '0', data: [{ match: { remoteRef: { remoteKey: 'secretwire-grafana-db', property: 'password' } } }] })
    } else {
      t.match(storedSecret?.spec, { refreshPolicy: 'CreatedOnce', target: { name: 'secretwire-grafana-db', creationPolicy: 'Orphan', immutable: true } })
    }
    for (const o of await list(kc, 'Password', storage)) {
      t.equal(o.metadata.labels?.['app.kubernetes.io/managed-by'], 'secretwire')
      t.match(o.metadata.labels?.['secretwire.io/shared-secret'], /^(grafana-db|metrics)$/)
    }
  })
}

for (const strategy of ['push', 'generate'] as const) {
  t.test(`strategy ${strategy}: a second admission does not write the stored secret's object again`, async (t) => {
    const kc = await kubeConfig()
    const namespace = await freshNamespace(t, kc)
    const sw = await startSecretwire(t, kc, { namespaces: [namespace], env: { SECRETWIRE_STRATEGY: strategy } })
    const kind = strategy === 'push' ? 'PushSecret' : 'ExternalSecret'
    const apps = kc.makeApiClient(AppsV1Api)
    await apps.createNamespacedDeployment({ namespace, body: workload('Deployment', { name: 'a', annotations: annotated('db') }) })
    const [before] = await list(kc, kind, sw.settings.storageNamespace)
    t.ok(before, `the ${kind} exists`)
    await apps.createNamespacedDeployment({ namespace, body: workload('Deployment', { name: 'b', annotations: annotated('db') }) })
    const [after] = await list(kc, kind, sw.settings.storageNamespace)
    t.equal(after?.metadata.resourceVersion, before?.metadata.resourceVersion, `the ${kind} was not written again`)
  })
}
