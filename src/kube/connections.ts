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
    // The kubeconfig's own step: credentials (a token file is read again each time, so a rotated token is used),
    // headers, and the agent it would have used.
    await this.kc.applySecurityAuthentication(context)
    const made = context.getAgent()
    if (made?.constructor !== HttpsAgent) return
    const { options } = made as HttpsAgent
    const settings = JSON.stringify(tlsSettings.map((k) => {
      const v = options[k]
      return Buffer.isBuffer(v) ? v.toString('latin1') : v
    }))
    if (this.kept?.settings !== settings) this.kept = { settings, agent: new HttpsAgent({ ...options, keepAlive: true }) }
    context.setAgent(this.kept.agent)
  }
}

const pools = new WeakMap<KubeConfig, KeptConnections>()

/** `kc.makeApiClient(type)`, with the connections kept and shared by every client made from the same `kc`. */
export function apiClient<T>(kc: KubeConfig, type: new (config: ReturnType<typeof createConfiguration>) => T): T {
  const server = kc.getCurrentCluster()?.server
  if (server === undefined) throw new Error('the kubeconfig has no current cluster')
  let pool = pools.get(kc)
  if (pool === undefined) pools.set(kc, pool = new KeptConnections(kc))
  return new type(createConfiguration({ baseServer: new ServerConfiguration(server, {}), authMethods: { default: pool } }))
}
