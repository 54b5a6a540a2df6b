// `secretwire serve` in its own process: JSON logs, Prometheus metrics, certificate rotation without a restart,
// admissions under API server faults, and a graceful shutdown.
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { X509Certificate } from 'node:crypto'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CoreV1Api } from '@kubernetes/client-node'
import t, { type Test } from 'tap'
import { loopbackCert, type ServingCert } from './helpers/certs.ts'
import { ownControlPlane } from './helpers/cluster.ts'
import { annotated, pod, request } from './helpers/objects.ts'
import { serve } from './helpers/process.ts'

const cp = await ownControlPlane()
const core = cp.kubeConfig().makeApiClient(CoreV1Api)
await core.createNamespace({ body: { metadata: { name: 'eso-secret-storage' } } })
await core.createNamespace({ body: { metadata: { name: 'team' } } })

/** A directory laid out like a mounted Secret or ConfigMap: files are symlinks through `..data`, swapped atomically. */
function mountedVolume(): { dir: string, write(files: Record<string, string>): void } {
  const dir = mkdtempSync(join(tmpdir(), 'secretwire-volume-'))
  let n = 0
  const write = (files: Record<string, string>) => {
    const version = `..${++n}`
    mkdirSync(join(dir, version))
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, version, name), text)
    symlinkSync(version, join(dir, '..data_tmp'))
    renameSync(join(dir, '..data_tmp'), join(dir, '..data'))
    for (const f of Object.keys(files)) {
      rmSync(join(dir, f), { force: true })
      symlinkSync(join('..data', f), join(dir, f))
    }
  }
  return { dir, write }
}

function secretVolume(): { dir: string, write(cert: ServingCert): void } {
  const volume = mountedVolume()
  return { dir: volume.dir, write: (cert) => volume.write({ 'tls.crt': cert.cert, 'tls.key': cert.key }) }
}

const review = (object: ReturnType<typeof pod>, uid: string) => ({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: request(object, { uid, namespace: 'team' }) })

async function start(t: Test, env: Record<string, string> = {}) {
  const first = await loopbackCert()
  const volume = secretVolume()
  volume.write(first)
  const served = await serve(t, {
    KUBECONFIG: cp.info.kubeconfig,
    TLS_CERT_FILE: join(volume.dir, 'tls.crt'), TLS_KEY_FILE: join(volume.dir, 'tls.key'),
    SECRETWIRE_API_TIMEOUT_MS: '1000', SECRETWIRE_SHUTDOWN_DELAY_MS: '300', ...env,
  }, first.cert)
  return { served, volume, first }
}

t.test('JSON logs with the admission\'s identity, metrics, and never a secret value', async (t) => {
  const { served } = await start(t)
  const secretLooking = 'hunter2-do-not-log'
  const object = pod({ name: 'grafana-0', annotations: annotated('logs-db'), containers: [{ name: 'app', image: 'x', env: [{ name: 'OTHER', value: secretLooking }] }] })
  const res = await served.call('POST', '/mutate', review(object, 'uid-logs'))
  t.equal(res.status, 200)
  t.equal(res.json().response.allowed, true, JSON.stringify(res.json().response))
  t.ok(res.json().response.patch)
  await served.call('POST', '/mutate', review(pod({ annotations: annotated('Bad') }), 'uid-denied'))

  const line = await served.log((l) => l.uid === 'uid-logs')
  t.match(line, { level: 30, service: 'secretwire', msg: 'admitted', uid: 'uid-logs', kind: 'Pod', namespace: 'team', name: 'grafana-0', operation: 'CREATE', allowed: true, sharedSecrets: ['logs-db'], created: 3 })
  t.match(await served.log((l) => l.uid === 'uid-denied'), { msg: 'denied', code: 400, allowed: false })
  t.notOk(served.output.some((l) => l.includes(secretLooking)), 'no env value in any log line')

  const metrics = (await served.call('GET', '/metrics')).text
  for (const series of [
    'secretwire_admissions_total{kind="Pod",operation="CREATE",outcome="patched"} 1',
    'secretwire_admissions_total{kind="Pod",operation="CREATE",outcome="denied"} 1',
    'secretwire_ensure_creates_total{kind="Password"} 1',
    'secretwire_ensure_creates_total{kind="ExternalSecret"} 2',
    'secretwire_kube_api_requests_total{verb="get",resource="passwords",code="404"} 1',
    'secretwire_kube_api_requests_total{verb="create",resource="externalsecrets",code="201"} 2',
    'secretwire_admission_duration_seconds_count{kind="Pod"} 2',
    'secretwire_kube_api_request_duration_seconds_bucket{le="+Inf",verb="create",resource="externalsecrets"} 2',
  ]) t.ok(metrics.split('\n').includes(series), series)
  t.match(metrics, /secretwire_tls_certificate_expiry_timestamp_seconds \d{10}/)
  t.match(metrics, /process_resident_memory_bytes \d+/)
  t.ok(metrics.split('\n').includes('secretwire_cache_objects{kind="ExternalSecret"} 2'), 'the watch cache holds the objects created')
  const unknown = await served.call('POST', '/mutate', { ...review(pod(), 'uid-svc'), request: { ...review(pod(), 'uid-svc').request, kind: { group: 'x.example', version: 'v1', kind: 'Anything-At-All' } } })
  t.equal(unknown.status, 200)
  t.match((await served.call('GET', '/metrics')).text, 'secretwire_admissions_total{kind="other",operation="CREATE",outcome="allowed"} 1', 'arbitrary kinds share one label value')
})

t.test('a rotated certificate is served to new connections without a restart', async (t) => {
  const { served, volume, first } = await start(t)
  const before = await served.fingerprint()
  t.equal(before, new X509Certificate(first.cert).fingerprint256)
  const second = await loopbackCert()
  volume.write(second)
  const deadline = Date.now() + 5000
  let after = before
  while (after === before && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100))
    after = await served.fingerprint()
  }
  t.equal(after, new X509Certificate(second.cert).fingerprint256, 'a new TLS connection sees the new certificate')
  t.equal(served.child.exitCode, null, 'same process')
  t.ok(await served.log((l) => l.msg === 'serving the new TLS certificate'))
  // A broken update (the key of another certificate) is refused; the current one stays.
  volume.write({ ...(await loopbackCert()), key: (await loopbackCert()).key })
  t.ok(await served.log((l) => l.msg === 'TLS certificate or key unusable; keeping the current one'), 'the broken pair is noticed')
  t.equal(await served.fingerprint(), after, 'and the working certificate stays in use')
})

t.test('the policy file is reloaded when its ConfigMap changes; a broken one leaves the policy in force', async (t) => {
  const policy = mountedVolume()
  policy.write({ 'policy.yaml': 'sharedSecrets:\n  reload-db: { namespaces: [other] }\n' })
  const { served } = await start(t, { SECRETWIRE_CONFIG: join(policy.dir, 'policy.yaml') })
  const admit = async (uid: string) => (await served.call('POST', '/mutate', review(pod({ annotations: annotated('reload-db') }), uid))).json().response
  t.match(await admit('before'), { allowed: false, status: { code: 403, message: /allows it only in "other"/ } }, 'team is not allowed yet')

  policy.write({ 'policy.yaml': 'sharedSecrets:\n  reload-db: { namespaces: [other, team] }\n' })
  t.ok(await served.log((l) => l.msg === 'policy reloaded'), 'the edit is seen without a restart')
  t.match(await admit('after'), { allowed: true, patchType: 'JSONPatch' }, 'team is allowed now')

  policy.write({ 'policy.yaml': 'sharedSecrets: [not, a, map' })
  t.ok(await served.log((l) => l.msg === 'policy file unusable; keeping the policy in force'), 'a broken file is logged')
  t.match(await admit('broken'), { allowed: true }, 'and the policy in force stays')
  t.equal(served.child.exitCode, null, 'same process')
  const metrics = (await served.call('GET', '/metrics')).text.split('\n')
  t.ok(metrics.includes('secretwire_policy_reloads_total{result="ok"} 1'), 'one reload counted')
  t.ok(metrics.includes('secretwire_policy_reloads_total{result="error"} 1'), 'one unusable file counted')
})

t.test('API server slow or gone: every admission gets a clear denial in time, then works again', async (t) => {
  const { served } = await start(t)
  const object = (i: number) => pod({ name: `p${i}`, annotations: annotated(`faults-${i}`) })

  await cp.command('pause-apiserver')
  let started = Date.now()
  const slow = await Promise.all([1, 2, 3, 4, 5].map((i) => served.call('POST', '/mutate', review(object(i), `slow-${i}`))))
  let elapsed = Date.now() - started
  for (const res of slow) {
    t.match(res.json().response, { allowed: false, status: { code: 504, reason: 'Timeout', message: /^the Kubernetes API did not answer in time while reading Password eso-secret-storage\/secretwire-faults-\d$/ } })
  }
  t.ok(elapsed < 2500, `five concurrent admissions answered within ${elapsed} ms (budget 1000 ms)`)
  await cp.command('resume-apiserver')

  await cp.command('stop-apiserver')
  started = Date.now()
  const gone = await served.call('POST', '/mutate', review(object(6), 'gone'))
  elapsed = Date.now() - started
  t.match(gone.json().response, { allowed: false, status: { code: 503, reason: 'ServiceUnavailable', message: /the Kubernetes API is unreachable \(ECONNREFUSED\)/ } })
  t.ok(elapsed < 1500, `unreachable answered in ${elapsed} ms`)
  t.equal(served.child.exitCode, null, 'the process stays up')
  t.equal((await served.call('GET', '/healthz')).status, 200)
  await cp.command('start-apiserver')

  const back = await served.call('POST', '/mutate', review(object(7), 'back'))
  t.match(back.json().response, { allowed: true, patchType: 'JSONPatch' }, 'admissions succeed again')
  const metrics = (await served.call('GET', '/metrics')).text
  t.ok(metrics.includes('secretwire_ensure_errors_total{reason="Timeout"} 5'))
  t.ok(metrics.includes('secretwire_ensure_errors_total{reason="ServiceUnavailable"} 1'))
})

t.test('SIGTERM: not ready first, in-flight admissions finish, then a clean exit', async (t) => {
  const { served } = await start(t)
  await cp.command('pause-apiserver')
  t.teardown(() => cp.command('resume-apiserver').catch(() => undefined))
  // Held in flight by the paused API server until the 1 s budget runs out.
  const inFlight = served.call('POST', '/mutate', review(pod({ name: 'late', annotations: annotated('drain') }), 'in-flight'))
  await new Promise((r) => setTimeout(r, 100))
  served.child.kill('SIGTERM')
  await new Promise((r) => setTimeout(r, 100))
  t.equal((await served.call('GET', '/readyz')).status, 503, 'not ready while draining')
  const res = await inFlight
  t.equal(res.status, 200, 'the in-flight admission got its answer')
  t.equal(res.json().response.uid, 'in-flight')
  t.equal(await served.exited, 0, 'exit status 0')
  t.ok(served.logs.some((l) => l.msg === 'shutting down: not ready, draining'))
  t.ok(served.logs.some((l) => l.msg === 'stopped'))
  await t.rejects(served.call('GET', '/healthz'), { code: 'ECONNREFUSED' })
})
