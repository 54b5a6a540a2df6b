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
import type { ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { Server as TlsServer } from 'node:tls'
import type { FastifyInstance } from 'fastify'

const sweepMs = 250

type Response = Pick<ServerResponse, 'once' | 'setHeader' | 'headersSent'>

export function drainOnClose(app: FastifyInstance): void {
  const open = new Map<Socket, number>() // connection → requests in flight
  const server = app.server
  // An HTTPS server hands HTTP the TLS socket on 'secureConnection'; a plain one on 'connection'.
  const event = server instanceof TlsServer ? 'secureConnection' : 'connection'
  server.on(event, (socket: Socket) => {
    open.set(socket, 0)
    socket.once('close', () => open.delete(socket))
  })
  // The responses not yet finished: at close, those whose headers are not sent yet get Connection: close. (Set here
  // rather than in an onSend hook, which would cost every admission a hook run: bench/profile.ts.)
  const answering = new Set<Response>()
  let sweep: NodeJS.Timeout | undefined
  server.on('request', (req: { socket: Socket }, res: Response) => {
    if (sweep !== undefined) res.setHeader('connection', 'close')
    answering.add(res)
    const socket = req.socket
    const tracked = open.has(socket)
    if (tracked) open.set(socket, (open.get(socket) ?? 0) + 1)
    res.once('close', () => {
      answering.delete(res)
      if (tracked && open.has(socket)) open.set(socket, (open.get(socket) ?? 1) - 1)
    })
  })

  const endUnused = () => { for (const [socket, inFlight] of open) if (inFlight === 0) socket.destroy() }
  app.addHook('preClose', async () => {
    for (const res of answering) if (!res.headersSent) res.setHeader('connection', 'close')
    endUnused()
    sweep = setInterval(endUnused, sweepMs)
  })
  app.addHook('onClose', async () => clearInterval(sweep))
}
