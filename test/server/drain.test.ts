// Room: src/server/drain.ts
// Closing (src/server/drain.ts): every admission in flight is answered, and then no connection holds the close up, over
// real HTTPS on loopback as the API server's webhook client uses it.
import { Agent, request as httpsRequest } from 'node:https'
import { connect } from 'node:tls'
import pino from 'pino'
import t from 'tap'
import { buildApp } from '../../src/server/app.ts'
import { loopbackCert } from '../helpers/certs.ts'
import { pod, request } from '../helpers/objects.ts'

const review = (req: object) => ({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: req })

t.test('an admission in flight finishes, and its keep-alive connection does not hold the close up', async (t) => {
  // As the API server's webhook client does: HTTPS, keep-alive, no idle timeout of its own here (Go's is 90 s).
  const tls = await loopbackCert()
  let release: () => void = () => undefined
  let entered: () => void = () => undefined
  const inAdmission = new Promise<void>((res) => { entered = res })
  const instance = buildApp({
    logger: pino({ level: 'silent' }), https: tls,
    admit: async (r) => {
      entered()
      await new Promise<void>((res) => { release = res })
      return { response: { uid: r.uid, allowed: true } }
    },
  })
  await instance.listen({ port: 0, host: '127.0.0.1' })
  const agent = new Agent({ keepAlive: true, ca: tls.cert })
  t.teardown(() => agent.destroy())
  const answered = new Promise<{ status: number | undefined, connection: string | undefined, body: string }>((res, rej) => {
    const req = httpsRequest({ host: '127.0.0.1', port: (instance.server.address() as { port: number }).port, path: '/mutate', method: 'POST', agent, headers: { 'content-type': 'application/json' } }, (r) => {
      let body = ''
      r.setEncoding('utf8').on('data', (c: string) => { body += c }).on('end', () => res({ status: r.statusCode, connection: r.headers.connection, body }))
    })
    req.on('error', rej)
    req.end(JSON.stringify(review(request(pod(), { uid: 'in-flight' }))))
  })
  await inAdmission
  let closed = false
  const closing = instance.close().then(() => { closed = true })
  await new Promise((r) => setTimeout(r, 100))
  t.notOk(closed, 'close waits for the admission in flight')
  release()
  const res = await answered
  t.equal(res.status, 200)
  t.equal(JSON.parse(res.body).response.uid, 'in-flight', 'which is answered')
  t.equal(res.connection, 'close', 'with Connection: close')
  const outcome = await Promise.race([closing.then(() => 'closed'), new Promise((r) => setTimeout(() => r('still open after 5 s'), 5000))])
  t.equal(outcome, 'closed', 'and the server closes once it is sent, though the client would keep the connection')
})

t.test('a connection that never sent a request does not hold the close up', async (t) => {
  // Go's HTTP client dials ahead and keeps a connection it ended up not needing in its pool: TLS done, no request.
  // Node counts such a connection as a request under way (so headersTimeout can cut a slow client), so neither
  // close() nor closeIdleConnections() ends it, and the close waited for the client's 90 s idle timeout.
  const tls = await loopbackCert()
  const instance = buildApp({ logger: pino({ level: 'silent' }), https: tls, admit: async (r) => ({ response: { uid: r.uid, allowed: true } }) })
  await instance.listen({ port: 0, host: '127.0.0.1' })
  const socket = connect({ host: '127.0.0.1', port: (instance.server.address() as { port: number }).port, ca: tls.cert, servername: 'localhost' })
  t.teardown(() => socket.destroy())
  await new Promise<void>((res, rej) => socket.once('secureConnect', res).once('error', rej))
  const ended = new Promise<string>((res) => socket.once('close', () => res('ended by the server')))
  const closing = instance.close().then(() => 'closed')
  const wait = (what: string) => new Promise<string>((r) => setTimeout(() => r(what), 5000))
  t.equal(await Promise.race([closing, wait('still open after 5 s')]), 'closed', 'close() returns')
  t.equal(await Promise.race([ended, wait('still open after 5 s')]), 'ended by the server', 'and the connection is gone')
})
