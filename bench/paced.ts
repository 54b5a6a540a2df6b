// Constant-rate load for the latency target. autocannon's overallRate sends each second's quota as fast as it
// can and then waits for the next second, so its "half rate" is full load half of the time. This sends one
// request every 1/rate seconds over keep-alive connections and times each from when it was due, not from when
// it left: a request delayed by a slow server counts that delay (no coordinated omission).
import { Agent, request } from 'node:https'

export interface PacedResult {
  readonly rps: number
  readonly p50: number
  readonly p99: number
  /** p99 from when the request was written, not when it was due: the gap between the two is the client's lag. */
  readonly p99FromSend: number
  readonly errors: number
}

export async function paced(opts: { port: number, body: string, rate: number, seconds: number, connections: number }): Promise<PacedResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: opts.connections, rejectUnauthorized: false })
  const body = Buffer.from(opts.body)
  const latencies: number[] = []
  const fromSend: number[] = []
  let errors = 0
  const send = (due: number) => new Promise<void>((done) => {
    let written = due
    const req = request({
      host: '127.0.0.1', port: opts.port, method: 'POST', path: '/mutate', agent,
      headers: { 'content-type': 'application/json', 'content-length': body.length },
    }, (res) => {
      res.on('data', () => {}).on('end', () => {
        const now = performance.now()
        if (res.statusCode === 200) {
          latencies.push(now - due)
          fromSend.push(now - written)
        } else {
          errors++
        }
        done()
      })
    })
    req.on('error', () => { errors++; done() })
    req.on('finish', () => { written = performance.now() })
    req.end(body)
  })

  // Open every connection (TLS handshakes included) before the clock starts: steady state is what is measured.
  await Promise.all(Array.from({ length: opts.connections }, () => send(performance.now())))
  latencies.length = 0
  fromSend.length = 0
  errors = 0

  const total = Math.round(opts.rate * opts.seconds)
  const inflight: Promise<void>[] = []
  const start = performance.now()
  let sent = 0
  await new Promise<void>((finished) => {
    const tick = setInterval(() => {
      const due = Math.min(total, Math.floor((performance.now() - start) / 1000 * opts.rate))
      for (; sent < due; sent++) inflight.push(send(start + sent * 1000 / opts.rate))
      if (sent === total) { clearInterval(tick); finished() }
    }, 1)
  })
  await Promise.all(inflight)
  const elapsed = (performance.now() - start) / 1000
  agent.destroy()
  const at = (list: number[], q: number) => list.sort((a, b) => a - b)[Math.min(list.length - 1, Math.floor(q * list.length))] ?? Number.NaN
  return { rps: latencies.length / elapsed, p50: at(latencies, 0.5), p99: at(latencies, 0.99), p99FromSend: at(fromSend, 0.99), errors }
}
