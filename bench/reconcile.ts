// The reconciler's own cost, without a cluster: memory of the consumer index for N namespaces of consumers (each
// a Deployment, its ReplicaSet and 2 Pods naming 2 shared secrets: what the metadata watches keep), and the time
// of one plan over them. Run with --expose-gc (npm run bench does): heap is measured after full collections.
// `npx tsx --expose-gc bench/reconcile.ts [namespaces]`.
import { randomUUID } from 'node:crypto'
import { consumerAnnotation } from '../src/core/contract.ts'
import { ConsumerIndex } from '../src/core/consumers.ts'
import type { ObjectMeta } from '../src/kube/metawatch.ts'
import { reconcilePlan, type ManagedExternalSecret } from '../src/core/reconcileplan.ts'
import { settings } from '../test/helpers/objects.ts'

const gc = (globalThis as { gc?: () => void }).gc
if (gc === undefined) throw new Error('run with --expose-gc (node --expose-gc, or tsx --expose-gc)')
const namespaces = Number(process.argv[2] ?? 1000)

const heap = () => {
  for (let i = 0; i < 3; i++) gc()
  return process.memoryUsage().heapUsed
}

function meta(namespace: string, name: string): ObjectMeta {
  // As the API server sends it: the consumer label, the consumes annotation, a uid and a resourceVersion.
  return { namespace, name, uid: randomUUID(), resourceVersion: String(Math.floor(Math.random() * 1e9)),
    labels: { 'secretwire.io/consumer': 'true', app: name }, annotations: { [consumerAnnotation]: 'grafana-db,metrics' } }
}

const before = heap()
const index = new ConsumerIndex()
for (let n = 0; n < namespaces; n++) {
  const ns = `team-${n}`
  index.apply('Deployment', meta(ns, 'app'), false)
  index.apply('ReplicaSet', meta(ns, 'app-5d8f7c9b4'), false)
  index.apply('Pod', meta(ns, 'app-5d8f7c9b4-x1'), false)
  index.apply('Pod', meta(ns, 'app-5d8f7c9b4-x2'), false)
}
const after = heap()

const externalSecrets: ManagedExternalSecret[] = []
for (let n = 0; n < namespaces; n++) {
  for (const s of ['grafana-db', 'metrics']) externalSecrets.push({ namespace: `team-${n}`, sharedSecret: s, uid: randomUUID(), state: 'synced' })
}
const s = settings()
// What the informers hold in a steady state: every object of every NAME exists.
const existing = new Set<string>()
for (const e of externalSecrets) existing.add(`ExternalSecret ${e.namespace}/secretwire-${e.sharedSecret}`)
for (const name of ['grafana-db', 'metrics']) for (const kind of ['Password', 'ExternalSecret']) existing.add(`${kind} ${s.storageNamespace}/secretwire-${name}`)
const times: number[] = []
for (let i = 0; i < 20; i++) {
  const start = process.hrtime.bigint()
  reconcilePlan({ consumers: index.byNamespaceAndName(), externalSecrets, existing, unconsumedSince: new Map(), now: Date.now(), graceMs: 3_600_000, settings: s })
  times.push(Number(process.hrtime.bigint() - start) / 1e6)
}
times.sort((a, b) => a - b)
const perNamespace = (after - before) / namespaces
console.log(`reconciler: consumer index for ${namespaces} namespaces (${index.size} objects: a Deployment, its ReplicaSet and 2 Pods each, 2 NAMEs): ` +
  `${((after - before) / 2 ** 20).toFixed(2)} MiB heap (${(perNamespace / 1024).toFixed(2)} KiB per namespace); ` +
  `one plan over ${externalSecrets.length} ExternalSecrets: median ${times[10]!.toFixed(1)} ms, max ${times[19]!.toFixed(1)} ms (20 runs)`)
