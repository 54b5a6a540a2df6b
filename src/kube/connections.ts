// How secretwire's API clients connect to the API server: over kept connections, one pool per kubeconfig.
//
// client-node 1.x builds a new https.Agent for every API call (KubeConfig.applySecurityAuthentication, which
// makeApiClient's clients run before each request), and a new agent has no connection to reuse: every call paid a
// TCP connect and a full TLS handshake, on secretwire's side and the API server's. At rest that was a handshake
// about every second (the Lease, the reconciler); on the cold path, one per object read or created, while the
// admission waits. Here the agent it built is exchanged for a kept keep-alive one with the same TLS settings (CA,
// client certificate and key, server name, verification). Settings that change (a rotated client certificate, a
// new CA file) get a new pool; the old one's idle connections are closed by the API server (it ends a connection
// idle for 90 s), and a kept connection that sits idle never holds the process open (Node.js unrefs it).
// A proxy's agent (socks, HTTP CONNECT) and plain http are left as the library made them.
//
// A kept connection idle for 60 s is closed here, before the API server closes it at 90 s: a request never goes
// out on a connection the server is closing. And on the Node.js releases whose keep-alive change broke
// node-fetch 2 (client-node's HTTP client; a complete answer on a reused connection read as "Premature close":
// nodejs/node#63989, #64098), connections are not kept, as before.
import { Agent as HttpsAgent } from 'node:https'
import { createConfiguration, ServerConfiguration, type KubeConfig, type RequestContext, type SecurityAuthentication } from '@kubernetes/client-node'

/** What makes two agents interchangeable: the TLS settings a connection is made with. */
const tlsSettings = ['ca', 'cert', 'key', 'pfx', 'passphrase', 'rejectUnauthorized', 'servername'] as const

class KeptConnections implements SecurityAuthentication {
  private kept: { readonly settings: string, readonly agent: HttpsAgent } | undefined

  constructor(private readonly kc: KubeConfig) {}

  getName(): string {
    return 'kubeconfig authentication, kept connections'
  }

  async applySecurityAuthentication(context: RequestContext): Promise<void> {
    // The kubeconfig's own step: credentials (a token file is read again at least every 60 s, so a rotated token
    // is used), headers, and the agent it would have used.
    await this.kc.applySecurityAuthentication(context)
    const made = context.getAgent()
    if (made?.constructor !== HttpsAgent) return
    const { options } = made as HttpsAgent
    const settings = JSON.stringify(tlsSettings.map((k) => {
      const v = options[k]
      return Buffer.isBuffer(v) ? v.toString('latin1') : v
    }))
    if (this.kept?.settings !== settings) this.kept = { settings, agent: new HttpsAgent({ ...options, keepAlive: true, timeout: idleCloseMs }) }
    context.setAgent(this.kept.agent)
  }
}

/** A kept connection idle this long is closed (Node's agent ends a free socket at its `timeout`). */
const idleCloseMs = 60_000

/**
 * False on the releases that read a complete answer over a reused connection as "Premature close" in node-fetch 2:
 * 22.23.0, 24.9 to 24.17, 26.0 to 26.3 (fixed in 22.23.1, 24.18, 26.4).
 */
export function keepsConnectionsSafely(version: string = process.versions.node): boolean {
  const [major, minor, patch] = version.split('.').map(Number) as [number, number, number]
  if (major === 22) return !(minor === 23 && patch === 0)
  if (major === 24) return minor < 9 || minor >= 18
  if (major === 26) return minor >= 4
  return true
}

const pools = new WeakMap<KubeConfig, KeptConnections>()

/** `kc.makeApiClient(type)`, with the connections kept and shared by every client made from the same `kc`. */
export function apiClient<T>(kc: KubeConfig, type: new (config: ReturnType<typeof createConfiguration>) => T): T {
  const server = kc.getCurrentCluster()?.server
  if (server === undefined) throw new Error('the kubeconfig has no current cluster')
  if (!keepsConnectionsSafely()) return kc.makeApiClient(type as never) as T
  let pool = pools.get(kc)
  if (pool === undefined) pools.set(kc, pool = new KeptConnections(kc))
  return new type(createConfiguration({ baseServer: new ServerConfiguration(server, {}), authMethods: { default: pool } }))
}
