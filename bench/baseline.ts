// The baseline: a bare fastify HTTPS endpoint on the same stack (Node.js, fastify, TLS) that parses the
// AdmissionReview and answers "allowed" with its uid. What no webhook can beat on this machine.
import Fastify from 'fastify'

const [cert, key] = [process.env.TLS_CERT!, process.env.TLS_KEY!]
const app = Fastify({ https: { cert, key }, bodyLimit: 6 * 1024 * 1024 })
app.post<{ Body: { request: { uid: string } } }>('/mutate', async (req) => ({
  apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: req.body.request.uid, allowed: true },
}))
await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' })
process.stdout.write('ready\n')
