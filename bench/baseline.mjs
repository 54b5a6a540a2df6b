// The baseline: a bare fastify HTTPS endpoint on the same stack (Node.js, fastify, TLS, and the benches give it
// secretwire's shipped NODE_OPTIONS) that parses the
// AdmissionReview and answers "allowed" with its uid. What no webhook can beat on this machine. Plain JavaScript,
// run by node alone as secretwire's dist/ is: under tsx its loader would count in its memory.
import Fastify from 'fastify'

const [cert, key] = [process.env.TLS_CERT, process.env.TLS_KEY]
const app = Fastify({ https: { cert, key }, bodyLimit: 6 * 1024 * 1024 })
app.post('/mutate', async (req) => ({
  apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: req.body.request.uid, allowed: true },
}))
// Exits on SIGTERM through process.exit, so that `node --cpu-prof` writes its profile (bench/profile.ts).
process.once('SIGTERM', () => void app.close().then(() => process.exit(0)))
await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' })
process.stdout.write('ready\n')
