// Loopback ports for servers the tools and benches start.
import { readFile } from 'node:fs/promises'
import { createServer } from 'node:net'

const lowestPort = 10_000

/**
 * A port free on 127.0.0.1 right now, for a server that listens on it next. Picked below the kernel's ephemeral
 * range, at random: a port handed out for ":0" can be taken by any outgoing connection before the server binds it
 * (CI lost a control plane that way), and outgoing connections never use ports below that range.
 */
export async function freePort(): Promise<number> {
  const high = (await ephemeralLow()) - 1
  for (let i = 0; i < 200; i++) {
    const port = lowestPort + Math.floor(Math.random() * (high - lowestPort + 1))
    if (await bindable(port)) return port
  }
  throw new Error(`no free loopback port in ${lowestPort}-${high} after 200 tries`)
}

async function bindable(port: number): Promise<boolean> {
  const server = createServer()
  const bound = await new Promise<boolean>((res) => {
    server.once('error', () => res(false))
    server.listen(port, '127.0.0.1', () => res(true))
  })
  if (bound) await new Promise<void>((res) => server.close(() => res()))
  return bound
}

/** The first port of the kernel's ephemeral range (Linux default 32768). */
async function ephemeralLow(): Promise<number> {
  const raw = await readFile('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').catch(() => '')
  const low = Number(raw.trim().split(/\s+/)[0])
  return Number.isInteger(low) && low > lowestPort + 1000 ? low : 32768
}
