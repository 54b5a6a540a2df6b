// How the HTTP server lets go of its connections when it closes: every admission in flight is answered, and then
// no connection is left to hold the close up.
//
// Node's close() ends only the connections it counts as idle at that moment, and it counts a connection that has
// not sent its first request as a request under way (so headersTimeout can cut a slow client). The API server's
// webhook client (Go) dials ahead and pools a connection it ended up not needing: TLS done, no request. Such a
// connection, and a keep-alive one whose admission was in flight at close, stayed open until the client dropped
// it, 90 s later (measured in the suite: app.close() took 89.6 s whenever one crossed it).
//
// So this module keeps its own count of requests per connection. From close on, a response says Connection: close,
// and every 250 ms each connection with no request in flight is ended. The tracking is ~20 lines on Node's own
// events; http-terminator does the same but brings a logger and four more dependencies for it.
import type { Socket } from 'node:net'
import { Server as TlsServer } from 'node:tls'
import type { FastifyInstance } from 'fastify'

const sweepMs = 250

export function drainOnClose(app: FastifyInstance): void {
  const open = new Map<Socket, number>() // connection → requests in flight
  const server = app.server
  // An HTTPS server hands HTTP the TLS socket on 'secureConnection'; a plain one on 'connection'.
  const event = server instanceof TlsServer ? 'secureConnection' : 'connection'
  server.on(event, (socket: Socket) => {
    open.set(socket, 0)
    socket.once('close', () => open.delete(socket))
  })
  server.on('request', (req: { socket: Socket }, res: { once: (e: 'close', f: () => void) => void }) => {
    const socket = req.socket
    if (!open.has(socket)) return
    open.set(socket, (open.get(socket) ?? 0) + 1)
    res.once('close', () => { if (open.has(socket)) open.set(socket, (open.get(socket) ?? 1) - 1) })
  })

  let sweep: NodeJS.Timeout | undefined
  const endUnused = () => { for (const [socket, inFlight] of open) if (inFlight === 0) socket.destroy() }
  app.addHook('preClose', async () => {
    endUnused()
    sweep = setInterval(endUnused, sweepMs)
  })
  app.addHook('onClose', async () => clearInterval(sweep))
  app.addHook('onSend', async (_req, reply, payload) => {
    if (sweep !== undefined) reply.header('connection', 'close')
    return payload
  })
}
