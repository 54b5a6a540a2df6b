// Room: src/server/serve.ts, src/util/filewatch.ts
// `secretwire serve` in its own process, from start to exit: readiness that waits for the watches, the
// self-signed certificate when no TLS files are set, and the shutdown. Apart from serve.test.ts so that each file
// stays well inside tap's per-file timeout (every start of secretwire compiles it anew with tsx).
import { mkdtempSync, writeFileSync } from 'node:fs'
import { X509Certificate } from 'node:crypto'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CoreV1Api } from '@kubernetes/client-node'
import t, { type Test } from 'tap'
import { loopbackCert } from '../helpers/certs.ts'
import { ownControlPlane } from '../helpers/cluster.ts'
import { annotated, pod, request } from '../helpers/objects.ts'
import { listening, pauseApiServer, serve, stopApiServer, until } from '../helpers/process.ts'

const cp = await ownControlPlane()
const core = cp.kubeConfig().makeApiClient(CoreV1Api)
await core.createNamespace({ body: { metadata: { name: 'eso-secret-storage' } } })
await core.createNamespace({ body: { metadata: { name: 'team' } } })

const review = (object: ReturnType<typeof pod>, uid: string) => ({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: request(object, { uid, namespace: 'team' }) })

/** What secretwire_tls_certificate_expiry_timestamp_seconds should say for a certificate: its notAfter. */
const notAfterSeconds = (pem: string) => Math.floor(new Date(new X509Certificate(pem).validTo).getTime() / 1000)

async function start(t: Test, env: Record<string, string> = {}) {
  const cert = await loopbackCert()
  const dir = mkdtempSync(join(tmpdir(), 'secretwire-tls-'))
  writeFileSync(join(dir, 'tls.crt'), cert.cert)
  writeFileSync(join(dir, 'tls.key'), cert.key)
  const served = await serve(t, {
    KUBECONFIG: cp.info.kubeconfig, TLS_CERT_FILE: join(dir, 'tls.crt'), TLS_KEY_FILE: join(dir, 'tls.key'),
    SECRETWIRE_API_TIMEOUT_MS: '1000', SECRETWIRE_SHUTDOWN_DELAY_MS: '300', ...env,
  }, cert.cert)
  return { served }
}

t.test('docs/operations.md "TLS_CERT_FILE unset: a self-signed certificate in memory, with a warning": HTTPS on loopback, valid now, metric = its notAfter', async (t) => {
  const served = await serve(t, { KUBECONFIG: cp.info.kubeconfig }, undefined)
  t.ok(served.logs.some((l) => l.level === 40 && l.msg === 'TLS_CERT_FILE and TLS_KEY_FILE are not set: serving a self-signed certificate made in memory'), 'the warning')
  const cert = await served.peerCertificate()
  t.equal(cert.issuer, cert.subject, 'issued by itself')
  t.ok(cert.verify(cert.publicKey), 'signed by its own key')
  t.equal(cert.subject, 'CN=localhost')
  t.equal(cert.subjectAltName, 'DNS:localhost, IP Address:127.0.0.1', 'names for a loopback client')
  t.ok(cert.checkHost('localhost') !== undefined && cert.checkIP('127.0.0.1') !== undefined)
  const now = Date.now()
  t.ok(new Date(cert.validFrom).getTime() <= now && now < new Date(cert.validTo).getTime(), `valid now (${cert.validFrom} to ${cert.validTo})`)
  // The helper trusts this certificate for the calls below and checks it for the name localhost: these are HTTPS
  // requests that verify it, not merely an open port.
  t.equal((await served.call('GET', '/healthz')).status, 200, 'served over HTTPS with it')
  t.equal((await served.metrics()).value('secretwire_tls_certificate_expiry_timestamp_seconds'), notAfterSeconds(cert.toString()),
    'the expiry metric is its notAfter')
})

t.test('docs/operations.md "/readyz waits until every informer has listed": not ready while the API server is down, ready once the watches have listed', async (t) => {
  // The API server is down before secretwire starts, so no watch can list; secretwire listens all the same.
  await stopApiServer(t, cp)
  const served = await listening(t, { KUBECONFIG: cp.info.kubeconfig, SECRETWIRE_LEASE_NAMESPACE: 'none' }, undefined)
  t.equal((await served.call('GET', '/healthz')).status, 200, 'alive: the server is listening')
  // A failed list is logged; once it is, readiness has had the chance to go wrong.
  t.ok(await served.log((l) => l.msg === 'watch failed; restarting it'), 'a watch failed to list')
  t.equal((await served.call('GET', '/readyz')).status, 503, 'not ready while no watch has listed')

  await cp.command('start-apiserver')
  await until(async () => (await served.call('GET', '/readyz')).status === 200, '/readyz did not turn 200 once the API server was back', 30_000, served)
  t.pass('ready once the watches have listed')
})

t.test('docs/operations.md "SECRETWIRE_SHUTDOWN_DELAY_MS: on SIGTERM, how long /readyz fails before the server stops taking connections"', async (t) => {
  const delayMs = 3000
  const { served } = await start(t, { SECRETWIRE_SHUTDOWN_DELAY_MS: String(delayMs) })
  const sentAt = Date.now()
  served.child.kill('SIGTERM')
  await until(async () => (await served.call('GET', '/readyz')).status === 503, '/readyz did not turn 503 after SIGTERM', 10_000, served)
  t.pass('not ready after SIGTERM')
  // A connection error here (refused, reset) is the server gone before the delay: the answer, not an exception.
  const status = (res: Promise<{ status: number }>) => res.then((r) => r.status, (err: NodeJS.ErrnoException) => err.code)
  t.equal(await status(served.call('GET', '/healthz')), 200, 'still answering: alive while draining')
  const admitted = served.call('POST', '/mutate', review(pod({ annotations: annotated('draining') }), 'while-draining'))
  t.equal(await status(admitted), 200, 'still admitting while draining')
  t.equal((await admitted.catch(() => undefined))?.json().response.uid, 'while-draining')

  // Then it stops taking connections: poll until a connection is refused.
  let refusedAt = 0
  await until(async () => {
    const refused = await served.call('GET', '/readyz').then(() => false, (err: NodeJS.ErrnoException) => err.code === 'ECONNREFUSED')
    if (refused) refusedAt = Date.now()
    return refused
  }, 'secretwire kept taking connections after the shutdown delay', 30_000)
  // A lower bound, which load cannot break: the server cannot stop sooner than the delay after the signal.
  t.ok(refusedAt - sentAt >= delayMs, `connections refused ${refusedAt - sentAt} ms after SIGTERM, not before the ${delayMs} ms delay`)
  t.equal(await served.exited, 0, 'exit status 0')
  const down = served.logs.find((l) => l.msg === 'shutting down: not ready, draining')
  const stopped = served.logs.find((l) => l.msg === 'stopped')
  t.match(down, { signal: 'SIGTERM', delayMs })
  t.ok(stopped !== undefined && (stopped.time as number) - (down!.time as number) >= delayMs, 'and by its own clock it drained for the delay')
})

t.test('SIGTERM with an admission in flight on a paused API server: it gets its answer, then a clean exit', async (t) => {
  const { served } = await start(t)
  await pauseApiServer(t, cp)
  // Held in flight by the paused API server until the 1 s budget runs out. SIGTERM only once the request is
  // written: it is then the server's to answer (the 300 ms drain lets it be read even if not yet picked up).
  let sent!: () => void
  const written = new Promise<void>((res) => { sent = res })
  const inFlight = served.call('POST', '/mutate', review(pod({ name: 'late', annotations: annotated('drain') }), 'in-flight'), sent)
  await written
  served.child.kill('SIGTERM')
  await until(() => served.logs.some((l) => l.msg === 'shutting down: not ready, draining'), 'no shutdown log line after SIGTERM', 10_000, served)
  const res = await inFlight
  t.equal(res.status, 200, 'the in-flight admission got its answer')
  t.equal(res.json().response.uid, 'in-flight')
  t.match(res.json().response, { allowed: false, status: { code: 504 } }, 'the budget\'s denial: it was really held by the paused API server')
  // The exit must not wait on the API server, which is still paused.
  t.equal(await served.exited, 0, 'exit status 0')
  t.ok(served.logs.some((l) => l.msg === 'stopped'))
})
