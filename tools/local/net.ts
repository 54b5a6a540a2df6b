// Loopback ports for servers the tools and tests start.
import { createServer } from 'node:net'

/** A port free on 127.0.0.1 right now (the OS picks it; the caller listens on it next). */
export async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res))
  const { port } = server.address() as { port: number }
  await new Promise<void>((res) => server.close(() => res()))
  return port
}
