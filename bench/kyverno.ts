// `npm run bench:kyverno`: secretwire side by side with what a platform team would run instead, Kyverno v1.19.1
// (built from its Go module by tools/build/builds.ts) with bench/kyverno/policy.yaml, through one local
// kube-apiserver, on the same work: annotated Pods and Deployments created (and Deployments updated) through the
// API server, as a client sees it.
//
// Five namespaces, one per arm, each seen by one mutator only: `none` (no webhook: the API server's own cost),
// `secretwire` (deploy/'s webhook configuration, scoped to its namespace), `policy` (secretwire's in-apiserver
// injection, the MutatingAdmissionPolicy of src/manifests/injection.ts bound to its namespace: Pods only, as it
// wires only Pods), `kyverno` (Kyverno's own webhook configuration, scoped by its ConfigMap, with the classic
// ClusterPolicy of bench/kyverno/policy.yaml) and `kyverno-cel` (the same Kyverno, its CEL engine: a MutatingPolicy
// whose spec is secretwire-inject's, the two APIs having the same fields; Pods only, like the policy). Rounds interleave the arms, so drift on this shared machine hits all
// alike. Per arm: creates/s at a closed loop, p50/p99 of `create` paced at fixed rates (timed from when each
// request was due), server CPU per admission, RSS, and time from process start to wiring a Pod (the first start, then
// BENCH_STARTS restarts of each webhook with its certificate and webhook configuration in place). Kyverno's background
// controller runs beside its admission controller and makes the ExternalSecret from the UpdateRequests the generate rule
// writes; the bench checks that the ExternalSecret exists on both sides. Raw numbers are written as JSON (BENCH_JSON,
// default bench-kyverno.json in the system temp directory) so runs can be compared.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { openSync, readFileSync, writeFileSync } from 'node:fs'
import { Agent, request } from 'node:https'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { AdmissionregistrationV1Api, AppsV1Api, CoreV1Api, CustomObjectsApi, KubernetesObjectApi } from '@kubernetes/client-node'
import jsonpatch from 'fast-json-patch'
import { parse } from 'yaml'
import { injectionPolicy } from '../src/manifests/injection.ts'
import { defaultGuardSettings } from '../src/manifests/policies.ts'
import { webhookConfiguration } from '../src/manifests/webhook.ts'
import { buildKyverno, kubectlPath, KYVERNO_VERSION } from '../tools/build/builds.ts'
import { goModuleDir } from '../tools/build/gomodules.ts'
import { freePort } from '../tools/cluster/net.ts'
import { repoRoot } from '../tools/paths.ts'
import { cpuSeconds, machine, median, memory, provenance, setUp, shippedRuntimeEnv } from './common.ts'
import { deployment, pod } from './reviews.ts'

const seconds = Number(process.env.BENCH_SECONDS ?? 8)
const rounds = Number(process.env.BENCH_ROUNDS ?? 3)
// The API server, etcd, the controllers, both webhooks and the client share this machine's cores: on 2 cores the
// API server alone creates about 200 Pods/s, so the paced rates stay well below that.
const rates = (process.env.BENCH_RATES ?? '20,50').split(',').map(Number)
const starts = Number(process.env.BENCH_STARTS ?? 3)
const connections = Number(process.env.BENCH_CONNECTIONS ?? 16)
const log = (line: string) => process.stderr.write(`[bench:kyverno] ${line}\n`)

log(`building dist/ and Kyverno ${KYVERNO_VERSION}; starting a local control plane (${cpus().length} cores)`)
const { cp, dir, children, cleanup } = await setUp('bench-kyverno', 'bench-kyverno')
const kyvernoBins = await buildKyverno()
const kc = cp.kubeConfig()
const core = kc.makeApiClient(CoreV1Api)
const co = kc.makeApiClient(CustomObjectsApi)
const kubectl = await kubectlPath()

const arms = ['none', 'secretwire', 'policy', 'kyverno', 'kyverno-cel'] as const
type Arm = typeof arms[number]
/** The arms that run a shape: the two CEL policies wire Pods only (templates are the webhook's). */
const armsOf = (shape: Shape) => arms.filter((arm) => !['policy', 'kyverno-cel'].includes(arm) || shape === 'pod')
const namespaceOf = (arm: Arm) => `bench-${arm}`
for (const name of ['eso-secret-storage', 'secretwire', 'kyverno', ...arms.map(namespaceOf)]) await core.createNamespace({ body: { metadata: { name } } })
for (const arm of arms) await untilDefaultServiceAccount(namespaceOf(arm))

function apply(file: string): void {
  const res = spawnSync(kubectl, ['--kubeconfig', cp.info.kubeconfig, 'apply', '--server-side', '-f', file], { encoding: 'utf8' })
  if (res.status !== 0) throw new Error(`kubectl apply ${file}: ${res.stderr}`)
}

function start(name: string, cmd: string, args: string[], env: Record<string, string>): { child: ChildProcess, startedAt: number } {
  // Logs go to a file, as a container runtime would take them.
  const out = openSync(join(dir, `${name}.log`), 'a')
  const child = spawn(cmd, args, { cwd: repoRoot, env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env }, stdio: ['ignore', out, out] })
  children.push(child)
  return { child, startedAt: performance.now() }
}

async function until(what: string, probe: () => Promise<boolean>, timeoutMs = 120_000, child?: ChildProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs
  // A probe that fails counts as not yet, but its last error is said if the wait runs out.
  let last = ''
  while (!(await probe().catch((err: Error) => { last = `; last error: ${err.message}`; return false }))) {
    if (child !== undefined && child.exitCode !== null) throw new Error(`${what}: the process exited (${child.exitCode}); log in ${dir}${last}`)
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}; logs in ${dir}${last}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

async function untilDefaultServiceAccount(namespace: string): Promise<void> {
  await until(`the default ServiceAccount of ${namespace}`, async () => (await core.readNamespacedServiceAccount({ namespace, name: 'default' })) !== undefined)
}

/** A dry-run create of an annotated Pod, answered with the env var injected: the webhook of that arm is in the path. */
async function wires(arm: Arm): Promise<boolean> {
  const body = pod(namespaceOf(arm), 'grafana-db', `probe-${Date.now()}`)
  const created = await core.createNamespacedPod({ namespace: namespaceOf(arm), dryRun: 'All', body: body as never })
  return created.spec?.containers.every((c) => c.env?.some((e) => e.valueFrom?.secretKeyRef?.name === 'secretwire-grafana-db')) === true
}

// ---- Kyverno: its CRDs from its module, its configuration, the process, the policy.
const kyvernoModule = await goModuleDir('kyverno')
for (const sub of ['kyverno', 'policies.kyverno.io', 'policyreport', 'reports']) apply(join(kyvernoModule, 'config', 'crds', sub))
const kyvernoPort = await freePort()
const onlyNamespace = (arm: Arm) => ({ matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'In', values: [namespaceOf(arm)] }] })
await core.createNamespacedConfigMap({
  namespace: 'kyverno',
  body: { metadata: { name: 'kyverno' }, data: { webhooks: JSON.stringify({ namespaceSelector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'In', values: [namespaceOf('kyverno'), namespaceOf('kyverno-cel')] }] } }) } },
})
await core.createNamespacedConfigMap({ namespace: 'kyverno', body: { metadata: { name: 'kyverno-metrics' }, data: {} } })
const metricsPort = await freePort()
const kyvernoEnv = (component: string) => ({
  KYVERNO_NAMESPACE: 'kyverno', KYVERNO_SERVICEACCOUNT_NAME: `kyverno-${component}`, KYVERNO_DEPLOYMENT: `kyverno-${component}`,
  KYVERNO_POD_NAME: `kyverno-${component}-bench`, INIT_CONFIG: 'kyverno', METRICS_CONFIG: 'kyverno-metrics',
})
const launchKyverno = () => start('kyverno', kyvernoBins.admission, [
  `--kubeconfig=${cp.info.kubeconfig}`, `--serverIP=127.0.0.1:${kyvernoPort}`, `--webhookServerPort=${kyvernoPort}`, '--webhookServerHost=127.0.0.1',
  '--caSecretName=kyverno-svc.kyverno.svc.kyverno-tls-ca', '--tlsSecretName=kyverno-svc.kyverno.svc.kyverno-tls-pair',
  '--metricsHost=127.0.0.1', `--metricsPort=${metricsPort}`, '--controllerRuntimeMetricsAddress=0', '--loggingFormat=json',
  // Off, in Kyverno's favour: on (its default), every admission also writes an EphemeralReport, which its reports
  // controller (not run here) would aggregate.
  '--admissionReports=false',
], kyvernoEnv('admission-controller'))
let kyverno = launchKyverno()
// Its background controller: it turns the UpdateRequests the generate rule writes into the ExternalSecret, as in a
// cluster. Its CPU is reported beside the admission controller's.
const backgroundMetricsPort = await freePort()
const background = start('kyverno-background', kyvernoBins.background, [
  `--kubeconfig=${cp.info.kubeconfig}`, '--metricsHost=127.0.0.1', `--metricsPort=${backgroundMetricsPort}`, '--controllerRuntimeMetricsAddress=0', '--loggingFormat=json',
], kyvernoEnv('background-controller'))
const policy = parse(readFileSync(join(repoRoot, 'bench', 'kyverno', 'policy.yaml'), 'utf8')) as object
await until('Kyverno accepts its ClusterPolicy', async () => {
  await co.createClusterCustomObject({ group: 'kyverno.io', version: 'v1', plural: 'clusterpolicies', body: policy })
  return true
}, 120_000, kyverno.child)
await until('Kyverno wires an annotated Pod', () => wires('kyverno'), 180_000, kyverno.child)
const kyvernoFirstWireMs = performance.now() - kyverno.startedAt
// Kyverno's CEL engine: secretwire-inject's spec as a MutatingPolicy, in its own namespace, with the same timeout.
const celSpec = structuredClone(injectionPolicy(defaultGuardSettings)[0]!.object.spec!) as Record<string, unknown>
celSpec.matchConstraints = { ...(celSpec.matchConstraints as object), namespaceSelector: onlyNamespace('kyverno-cel') }
await co.createClusterCustomObject({
  group: 'policies.kyverno.io', version: 'v1', plural: 'mutatingpolicies',
  body: {
    apiVersion: 'policies.kyverno.io/v1', kind: 'MutatingPolicy', metadata: { name: 'secretwire-inject' },
    spec: { ...celSpec, autogen: { podControllers: { controllers: [] } }, webhookConfiguration: { timeoutSeconds: 5 } },
  },
})
await until('Kyverno wires an annotated Pod with its MutatingPolicy', () => wires('kyverno-cel'), 180_000, kyverno.child)

// ---- secretwire: the production build, deploy/'s webhook configuration pointed at it and scoped to its arm.
const swPort = await freePort()
const swCert = readFileSync(join(dir, 'tls.crt'))
// With the runtime settings it ships with (NODE_OPTIONS, MALLOC_ARENA_MAX), as `npm run bench` runs it.
const launchSecretwire = () => start('secretwire', process.execPath, ['dist/cli/main.js', 'serve'], {
  KUBECONFIG: cp.info.kubeconfig, TLS_CERT_FILE: join(dir, 'tls.crt'), TLS_KEY_FILE: join(dir, 'tls.key'), PORT: String(swPort), ...shippedRuntimeEnv(),
})
let secretwire = launchSecretwire()
const shipped = webhookConfiguration().object
await kc.makeApiClient(AdmissionregistrationV1Api).createMutatingWebhookConfiguration({
  body: {
    ...shipped,
    webhooks: shipped.webhooks!.map((w) => ({
      ...w, clientConfig: { url: `https://127.0.0.1:${swPort}/mutate`, caBundle: swCert.toString('base64') }, namespaceSelector: onlyNamespace('secretwire'),
    })),
  },
})
await until('secretwire wires an annotated Pod', () => wires('secretwire'), 60_000, secretwire.child)
const secretwireFirstWireMs = performance.now() - secretwire.startedAt
if (await wires('none').catch(() => false)) throw new Error('the namespace without webhook got the env var: the arms are not separated')

// ---- The in-apiserver injection: the generated policy, bound to its arm's namespace only.
const objects = KubernetesObjectApi.makeApiClient(kc)
const [injection, injectionBinding] = injectionPolicy(defaultGuardSettings).map((m) => structuredClone(m.object) as { spec: Record<string, unknown> })
injectionBinding!.spec.matchResources = { namespaceSelector: onlyNamespace('policy') }
for (const o of [injection!, injectionBinding!]) await objects.create(o as never)
await until('the MutatingAdmissionPolicy wires an annotated Pod', () => wires('policy'), 60_000)

// ---- Load through the API server, with the admin's client certificate over keep-alive connections.
const server = new URL(cp.info.server)
const httpsOptions: { ca?: Buffer | string, cert?: Buffer | string, key?: Buffer | string } = {}
await kc.applyToHTTPSOptions(httpsOptions as never)
const agent = new Agent({ keepAlive: true, maxSockets: connections, ca: httpsOptions.ca, cert: httpsOptions.cert, key: httpsOptions.key })

type Shape = 'pod' | 'deployment-create' | 'deployment-update'
const updatePool = 200
let serial = 0
/**
 * One API request of this shape in that arm's namespace; resolves with the HTTP status and whether the object
 * the API server stored carries the env var (a webhook that failed open would leave it out).
 */
function send(arm: Arm, shape: Shape): Promise<{ status: number, wired: boolean }> {
  const namespace = namespaceOf(arm)
  const name = `b-${(serial++).toString(36)}`
  let method = 'POST'
  let path: string
  let body: unknown
  if (shape === 'pod') {
    path = `/api/v1/namespaces/${namespace}/pods`
    // Bound to a node that does not exist, so the scheduler has nothing to do with them (there is no node here):
    // what is measured is the create and its admission, not a scheduler retrying thousands of Pods.
    const p = pod(namespace, 'grafana-db', name) as { spec: { nodeName?: string } }
    p.spec.nodeName = 'bench-no-node'
    body = p
  } else {
    // Zero replicas: the admission is the same, and no ReplicaSet's Pods add admissions of their own.
    const d = deployment(namespace, 'grafana-db') as { metadata: { name: string }, spec: { replicas: number } }
    d.spec.replicas = 0
    if (shape === 'deployment-create') {
      d.metadata.name = name
      path = `/apis/apps/v1/namespaces/${namespace}/deployments`
    } else {
      // An update of one of `updatePool` existing Deployments in turn (a new label each time, so every update is a
      // real change). Not one Deployment: concurrent updates of one object conflict in storage, and the API server
      // runs the webhooks again on every retry; a cluster does not update one Deployment hundreds of times a second.
      d.metadata.name = `updated-${serial % updatePool}`
      ;(d.metadata as { labels?: Record<string, string> }).labels = { ...(d.metadata as { labels?: Record<string, string> }).labels, serial: name }
      method = 'PUT'
      path = `/apis/apps/v1/namespaces/${namespace}/deployments/${d.metadata.name}`
    }
    body = d
  }
  const payload = Buffer.from(JSON.stringify(body))
  return new Promise((resolve) => {
    const req = request({
      host: server.hostname, port: server.port, method, path, agent,
      headers: { 'content-type': 'application/json', 'content-length': payload.length },
    }, (res) => {
      let text = ''
      res.setEncoding('utf8').on('data', (c: string) => { text += c }).on('end', () => resolve({ status: res.statusCode ?? 0, wired: text.includes('"name":"secretwire-grafana-db"') }))
    })
    req.on('error', () => resolve({ status: 0, wired: false }))
    req.end(payload)
  })
}

const serverPid: Record<Arm, number | undefined> = { none: undefined, secretwire: secretwire.child.pid, policy: undefined, kyverno: kyverno.child.pid, 'kyverno-cel': kyverno.child.pid }

interface Measured {
  rate: number | 'max', sent: number, ok: number, unwired: number, rps: number, p50: number, p99: number
  /** CPU per successful request, the process's idle rate (measured just before) subtracted. */
  cpuMicrosPerAdmission?: number, apiserverCpuMicros: number
  /** The same without the subtraction, and the idle rates (CPU-s/s). */
  raw: { cpuMicrosPerAdmission?: number, apiserverCpuMicros: number, idleHook?: number, idleApiserver: number }
  /** The webhook process's RSS, sampled every 500 ms during the load (MiB). */
  rss?: { max: number, median: number }
}
const quantile = (sorted: number[], q: number) => sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!

/**
 * Waits (at most 30 s) until the API server and both webhooks are idle: work left over from the arm measured
 * before (garbage collection, Kyverno's queues, watch fan-out) must not be billed to the next.
 */
/** Kyverno's UpdateRequests (its generate rule writes one per Deployment created), counted and cleared between runs. */
let updateRequests = 0
async function clearUpdateRequests(): Promise<void> {
  const ur = { group: 'kyverno.io', version: 'v2', namespace: 'kyverno', plural: 'updaterequests' }
  updateRequests += ((await co.listNamespacedCustomObject(ur)) as { items: unknown[] }).items.length
  await co.deleteCollectionNamespacedCustomObject(ur)
}

/** How many measurements began with the control plane or the webhooks still busy (settle gave up). */
let unsettled = 0
async function settle(): Promise<void> {
  // Those its background controller has not processed yet: left, they would pile up in the informers and make each
  // create costlier than the last, and the controller's work would be billed to the next arm.
  await clearUpdateRequests()
  // The control plane never idles here (the Pod garbage collector deletes the Pods bound to no node, the
  // controllers resync): the API server settles below half a core, the webhooks below a twentieth, within 10 s.
  const hooks = [secretwire.child.pid!, kyverno.child.pid!, background.child.pid!]
  const sum = (pids: number[]) => pids.reduce((n, pid) => n + cpuSeconds(pid), 0)
  let api = 0, hook = 0
  for (let i = 0; i < 10; i++) {
    const api0 = cpuSeconds(cp.info.apiserverPid), hook0 = sum(hooks)
    await new Promise((r) => setTimeout(r, 1000))
    ;[api, hook] = [cpuSeconds(cp.info.apiserverPid) - api0, sum(hooks) - hook0]
    if (api < 0.5 && hook < 0.05) return
  }
  // Measured all the same, and said: the next arm may pay for some of this one's work.
  unsettled++
  log(`not settled within 10 s (last second: API server ${api.toFixed(2)} CPU-s, webhooks ${hook.toFixed(3)} CPU-s); measuring anyway`)
}

async function measure(arm: Arm, shape: Shape, rate: number | 'max'): Promise<Measured> {
  await settle()
  const pid = serverPid[arm]
  // The idle rate of each process over 1 s, subtracted from what the load costs.
  const [hookIdle0, apiIdle0] = [pid === undefined ? 0 : cpuSeconds(pid), cpuSeconds(cp.info.apiserverPid)]
  await new Promise((r) => setTimeout(r, 1000))
  const idleHook = pid === undefined ? undefined : cpuSeconds(pid) - hookIdle0
  const idleApiserver = cpuSeconds(cp.info.apiserverPid) - apiIdle0
  const cpu0 = pid === undefined ? 0 : cpuSeconds(pid)
  const api0 = cpuSeconds(cp.info.apiserverPid)
  const rssSamples: number[] = []
  const sampler = pid === undefined ? undefined : setInterval(() => rssSamples.push(memory(pid, 'VmRSS')), 500)
  const latencies: number[] = []
  let ok = 0, sent = 0, unwired = 0
  const started = performance.now()
  const end = started + seconds * 1000
  const one = async (due: number) => {
    sent++
    const { status, wired } = await send(arm, shape)
    // A failed request counts in the latencies too, at the time it took to fail.
    latencies.push(performance.now() - due)
    if (status >= 200 && status < 300) {
      ok++
      if (!wired && arm !== 'none') unwired++
    }
  }
  if (rate === 'max') {
    // Closed loop: `connections` clients, each sending its next request when the last is answered.
    await Promise.all(Array.from({ length: connections }, async () => {
      while (performance.now() < end) await one(performance.now())
    }))
  } else {
    // Paced: one request every 1/rate s, timed from when it was due (a late start counts: no coordinated omission).
    const inflight: Promise<void>[] = []
    for (let i = 0; ; i++) {
      const due = started + (i * 1000) / rate
      if (due >= end) break
      const wait = due - performance.now()
      if (wait > 0) await new Promise((r) => setTimeout(r, wait))
      inflight.push(one(due))
    }
    await Promise.all(inflight)
  }
  clearInterval(sampler)
  const elapsed = (performance.now() - started) / 1000
  latencies.sort((a, b) => a - b)
  const hookCpu = pid === undefined ? undefined : cpuSeconds(pid) - cpu0
  const apiCpu = cpuSeconds(cp.info.apiserverPid) - api0
  const perRequest = (cpu: number) => cpu * 1e6 / Math.max(1, ok)
  rssSamples.sort((a, b) => a - b)
  return {
    rate, sent, ok, unwired, rps: ok / elapsed, p50: quantile(latencies, 0.5), p99: quantile(latencies, 0.99),
    ...(hookCpu !== undefined && { cpuMicrosPerAdmission: perRequest(Math.max(0, hookCpu - idleHook! * elapsed)) }),
    apiserverCpuMicros: perRequest(Math.max(0, apiCpu - idleApiserver * elapsed)),
    raw: { ...(hookCpu !== undefined && { cpuMicrosPerAdmission: perRequest(hookCpu), idleHook }), apiserverCpuMicros: perRequest(apiCpu), idleApiserver },
    ...(rssSamples.length > 0 && { rss: { max: rssSamples.at(-1)!, median: quantile(rssSamples, 0.5) } }),
  }
}

// The Deployments the update shape changes, in every arm (created through the webhook like any other).
for (const arm of armsOf('deployment-update')) {
  for (let i = 0; i < updatePool; i++) {
    const d = deployment(namespaceOf(arm), 'grafana-db') as { metadata: { name: string }, spec: { replicas: number } }
    d.metadata.name = `updated-${i}`
    d.spec.replicas = 0
    await kc.makeApiClient(AppsV1Api).createNamespacedDeployment({ namespace: namespaceOf(arm), body: d as never })
  }
}
// The ExternalSecret each webhook makes (secretwire at admission, Kyverno's background controller from an
// UpdateRequest): the same object on both sides, or the comparison is not of the same work.
const externalSecrets = { group: 'external-secrets.io', version: 'v1', plural: 'externalsecrets' }
for (const arm of ['secretwire', 'kyverno'] as const) {
  await until(`the ExternalSecret secretwire-grafana-db in ${namespaceOf(arm)}, made by ${arm}`, async () =>
    (await co.getNamespacedCustomObject({ ...externalSecrets, namespace: namespaceOf(arm), name: 'secretwire-grafana-db' })) !== undefined, 120_000)
}
// Compared by spec, not only by name: a difference is said beside the numbers.
const specOf = async (arm: 'secretwire' | 'kyverno') => ((await co.getNamespacedCustomObject({ ...externalSecrets, namespace: namespaceOf(arm), name: 'secretwire-grafana-db' })) as { spec?: object }).spec ?? {}
const specDiff = jsonpatch.compare(await specOf('secretwire'), await specOf('kyverno')).map((op) => `${op.op} ${op.path}`)
const sameSpec = specDiff.length === 0 ? 'the same spec' : `specs differing at ${specDiff.join(', ')}`
log(`the ExternalSecret secretwire-grafana-db exists in both namespaces (made by secretwire, and by Kyverno's background controller), ${sameSpec}`)
log('warm-up: one run per arm and shape at the lowest rate')
for (const shape of ['pod', 'deployment-create', 'deployment-update'] as const) for (const arm of armsOf(shape)) await measure(arm, shape, rates[0]!)

const results: Record<string, Measured[]> = {}
const shapes: Shape[] = ['pod', 'deployment-create', 'deployment-update']
const backgroundCpu0 = cpuSeconds(background.child.pid!)
for (let round = 1; round <= rounds; round++) {
  for (const shape of shapes) {
    for (const rate of [...rates, 'max' as const]) {
      for (const arm of armsOf(shape)) {
        log(`round ${round}/${rounds}: ${arm} / ${shape} / ${rate === 'max' ? `closed loop, ${connections} connections` : `${rate}/s`} for ${seconds} s`)
        ;(results[`${arm} ${shape} ${rate}`] ??= []).push(await measure(arm, shape, rate))
      }
    }
  }
}

const backgroundCpuSeconds = cpuSeconds(background.child.pid!) - backgroundCpu0
const rows: string[] = []
const { command, ...from } = provenance('bench:kyverno')
await clearUpdateRequests()
const json: Record<string, unknown> = {
  command, ...from, updateRequestsCleared: updateRequests, unsettledMeasurements: unsettled, externalSecretSpecDiff: specDiff,
  machine: machine(), kyverno: KYVERNO_VERSION, seconds, rounds, connections,
  // CPU-s of Kyverno's background controller over all measured runs (it works for the Deployment creates).
  backgroundControllerCpuSeconds: backgroundCpuSeconds,
  rss: {} as Record<string, { hwm: number, now: number }>, results,
}
for (const shape of shapes) {
  for (const rate of [...rates, 'max' as const]) {
    for (const arm of armsOf(shape)) {
      const list = results[`${arm} ${shape} ${rate}`]!
      const p99s = list.map((m) => m.p99)
      const cpu = list.map((m) => m.cpuMicrosPerAdmission).filter((c): c is number => c !== undefined)
      const errors = list.reduce((n, m) => n + m.sent - m.ok, 0)
      const unwired = list.reduce((n, m) => n + m.unwired, 0)
      rows.push([shape.padEnd(18), String(rate).padEnd(5), arm.padEnd(11), median(list.map((m) => m.rps)).toFixed(0).padStart(7),
        median(list.map((m) => m.p50)).toFixed(1).padStart(8), median(p99s).toFixed(1).padStart(8),
        `${Math.min(...p99s).toFixed(0)}–${Math.max(...p99s).toFixed(0)}`.padStart(10),
        (cpu.length ? median(cpu).toFixed(0) : '-').padStart(10), median(list.map((m) => m.apiserverCpuMicros)).toFixed(0).padStart(11), String(errors).padStart(6), String(unwired).padStart(8)].join(' '))
    }
  }
}
const rss = json.rss as Record<string, { hwm: number, now: number, sampledMax: number, sampledMedian: number }>
for (const arm of ['secretwire', 'kyverno'] as const) {
  const sampled = Object.entries(results).filter(([key]) => key.startsWith(`${arm} `)).flatMap(([, list]) => list.map((m) => m.rss!))
  rss[arm] = {
    hwm: memory(serverPid[arm]!, 'VmHWM'), now: memory(serverPid[arm]!, 'VmRSS'),
    sampledMax: Math.max(...sampled.map((r) => r.max)), sampledMedian: median(sampled.map((r) => r.median)),
  }
}
// Time from process start to wiring an annotated Pod, the same way for both: stopped (SIGTERM), started again with
// its certificate and webhook configuration in place (a restarted Pod), probed by dry-run creates. The first start
// above is apart: Kyverno's includes making its certificate and registering its webhooks.
async function restart(arm: 'secretwire' | 'kyverno'): Promise<number> {
  const old = arm === 'secretwire' ? secretwire : kyverno
  old.child.kill('SIGTERM')
  const killer = setTimeout(() => old.child.kill('SIGKILL'), 30_000)
  if (old.child.exitCode === null && old.child.signalCode === null) await new Promise((r) => old.child.once('exit', r))
  clearTimeout(killer)
  const started = arm === 'secretwire' ? (secretwire = launchSecretwire()) : (kyverno = launchKyverno())
  await until(`${arm} wires an annotated Pod after a restart`, () => wires(arm), 180_000, started.child)
  return performance.now() - started.startedAt
}
const restarts: Record<'secretwire' | 'kyverno', number[]> = { secretwire: [], kyverno: [] }
for (let i = 1; i <= starts; i++) {
  for (const arm of ['secretwire', 'kyverno'] as const) {
    log(`restart ${i}/${starts}: ${arm}`)
    restarts[arm].push(await restart(arm))
  }
}
json.startToWireMs = { first: { secretwire: secretwireFirstWireMs, kyverno: kyvernoFirstWireMs }, restarts }
const seconds3 = (list: number[]) => `${(median(list) / 1000).toFixed(2)} s (${(Math.min(...list) / 1000).toFixed(2)}–${(Math.max(...list) / 1000).toFixed(2)})`
const out = process.env.BENCH_JSON ?? join(tmpdir(), 'bench-kyverno.json')
writeFileSync(out, JSON.stringify(json, null, 2))

console.log(`
secretwire vs Kyverno ${KYVERNO_VERSION} through one kube-apiserver — ${cpus().length} cores (${cpus()[0]?.model}), Node.js ${process.version}
${rounds} interleaved rounds of ${seconds} s per arm, shape and rate; medians of rounds ("p99 range" = lowest–highest round). Latency: ms
from when the request was due to the API server's answer, client side. "max": closed loop, ${connections} connections. CPU: µs of
the webhook process (all threads) and of kube-apiserver per successful request, each process's idle rate (measured for 1 s
before each run) subtracted. "none": the same requests with no webhook; "policy": secretwire's MutatingAdmissionPolicy,
inside kube-apiserver; "kyverno-cel": Kyverno's MutatingPolicy with that policy's spec (both Pods only). Latencies
include failed requests. unwired: created without the env var (a webhook that failed open); errors: requests the API
server refused or did not answer. Both webhooks fail open with a 5 s timeout, as secretwire ships.

shape              rate  arm           ok/s   p50 ms   p99 ms  p99 range  hook µs/req  apisrv µs/req errors  unwired
${rows.join('\n')}

time from process start to wiring an annotated Pod, first start: secretwire ${(secretwireFirstWireMs / 1000).toFixed(1)} s, Kyverno ${(kyvernoFirstWireMs / 1000).toFixed(1)} s (its certificate and webhooks made)
after a restart, median of ${starts} (range): secretwire ${seconds3(restarts.secretwire)}, Kyverno ${seconds3(restarts.kyverno)}
RSS sampled every 500 ms under load, median of runs (highest sample): secretwire ${rss.secretwire!.sampledMedian.toFixed(0)} MiB (${rss.secretwire!.sampledMax.toFixed(0)}), Kyverno ${rss.kyverno!.sampledMedian.toFixed(0)} MiB (${rss.kyverno!.sampledMax.toFixed(0)}); process peak: ${rss.secretwire!.hwm.toFixed(0)} and ${rss.kyverno!.hwm.toFixed(0)} MiB
Kyverno's background controller: ${backgroundCpuSeconds.toFixed(1)} CPU-s over the measured runs; UpdateRequests still there when cleared before each run (warm-up runs included; processed or not, they are deleted): ${updateRequests}
the ExternalSecret secretwire-grafana-db existed in both namespaces before measuring (made by secretwire, and by Kyverno's background controller), ${sameSpec}
measurements begun before the control plane and webhooks had settled (settle gave up after 10 s): ${unsettled}
command: ${command}; commit ${json.commit as string}; raw numbers: ${out}`)
await cleanup()
process.exit(0)
