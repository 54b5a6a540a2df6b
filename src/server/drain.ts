// How the HTTP server lets go of its connections when it closes: every admission in flight is answered, and then
// no connection is left to hold the close up.
//
// Node's close() ends only the connections it counts as idle at that moment, and it counts a connection that has
// not sent its first request as a request under way (so headersTimeout can cut a slow client). The API server's
// webhook client (Go) dials ahead and pools a connection it ended up not needing: TLS done, no request. Such a
// connection, and a keep-alive one whose admission was in flight at close, stayed open until the client dropped
// it, 90 s later (measured in the suite: app.close() took 89.6 s whenever one crossed it).
//
// So this module keeps a record of the open connections (one entry per connection, not per request), and at close
// asks each whether it is answering: Node's HTTP server holds a connection's response in flight as the socket's
// `_httpMessage` from its request until it is finished (what http-terminator reads too). From close on, a response
// says Connection: close, and every 250 ms each connection with no response in flight is ended. Nothing runs per
// request before close: tracking each request in a Map kept every admission's request and response reachable from
// an old-generation object, which doubled the cost of V8's young-generation collections (bench/profile.ts:
// 8 µs of garbage collection per admission).
import type { ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { Server as TlsServer } from 'node:tls'
import type { FastifyInstance } from 'fastify'

const sweepMs = 250

type Response = Pick<ServerResponse, 'setHeader' | 'headersSent'>
type HttpSocket = Socket & { _httpMessage?: Response | null }

export function drainOnClose(app: FastifyInstance): void {
  const open = new Set<HttpSocket>()
  const server = app.server
  // An HTTPS server hands HTTP the TLS socket on 'secureConnection'; a plain one on 'connection'.
  const event = server instanceof TlsServer ? 'secureConnection' : 'connection'
  server.on(event, (socket: HttpSocket) => {
    open.add(socket)
    socket.once('close', () => open.delete(socket))
  })

  const endUnused = () => {
    for (const socket of open) if (socket._httpMessage == null) socket.destroy()
  }
  let sweep: NodeJS.Timeout | undefined
  app.addHook('preClose', async () => {
    for (const socket of open) {
      const answering = socket._httpMessage
      if (answering != null && !answering.headersSent) answering.setHeader('connection', 'close')
    }
    server.on('request', (_req: unknown, res: Response) => res.setHeader('connection', 'close'))
    endUnused()
    sweep = setInterval(endUnused, sweepMs)
  })
  app.addHook('onClose', async () => clearInterval(sweep))
}
