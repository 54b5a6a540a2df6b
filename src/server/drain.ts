// How the HTTP server lets go of its connections when it closes: every admission in flight is answered, and then
// no connection is left to hold the close up.
//
// Node's close() ends only the connections it counts as idle at that moment, and it counts a connection that has
// not sent its first request as a request under way (so headersTimeout can cut a slow client). The API server's
// webhook client (Go) dials ahead and pools a connection it ended up not needing: TLS done, no request. Such a
// connection, and a keep-alive one whose admission was in flight at close, stayed open until the client dropped
// it, 90 s later (measured in the suite: app.close() took 89.6 s whenever one crossed it).
//
// So this module keeps its own record of the requests in flight and their connections. From close on, a response
// says Connection: close, and every 250 ms each connection with no request in flight is ended. The tracking is ~20 lines on Node's own
// events; http-terminator does the same but brings a logger and four more dependencies for it.
import type { ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { Server as TlsServer } from 'node:tls'
import type { FastifyInstance } from 'fastify'

const sweepMs = 250

type Response = Pick<ServerResponse, 'once' | 'setHeader' | 'headersSent'>

export function drainOnClose(app: FastifyInstance): void {
  const open = new Set<Socket>()
  const server = app.server
  // An HTTPS server hands HTTP the TLS socket on 'secureConnection'; a plain one on 'connection'.
  const event = server instanceof TlsServer ? 'secureConnection' : 'connection'
  server.on(event, (socket: Socket) => {
    open.add(socket)
    socket.once('close', () => open.delete(socket))
  })
  // The responses not yet finished, and so the connections with a request in flight. At close, those whose headers
  // are not sent yet get Connection: close. (Here rather than in an onSend hook, which would cost every admission a
  // hook run: bench/profile.ts.)
  const answering = new Map<Response, Socket>()
  let sweep: NodeJS.Timeout | undefined
  server.on('request', (req: { socket: Socket }, res: Response) => {
    if (sweep !== undefined) res.setHeader('connection', 'close')
    answering.set(res, req.socket)
    res.once('close', () => answering.delete(res))
  })

  const endUnused = () => {
    const busy = new Set(answering.values())
    for (const socket of open) if (!busy.has(socket)) socket.destroy()
  }
  app.addHook('preClose', async () => {
    for (const res of answering.keys()) if (!res.headersSent) res.setHeader('connection', 'close')
    endUnused()
    sweep = setInterval(endUnused, sweepMs)
  })
  app.addHook('onClose', async () => clearInterval(sweep))
}
