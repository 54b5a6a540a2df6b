// Identities on the local control plane: a ServiceAccount's (TokenRequest through the real API server), how the
// demo runs secretwire with the RBAC of deploy/webhook and tests act as a tenant; and a person's (a client
// certificate), how tests act as a cluster admin in secretwire's break-glass group.
import { spawnSync } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node'

export async function serviceAccountKubeConfig(admin: KubeConfig, namespace: string, name: string, expirationSeconds = 3600): Promise<KubeConfig> {
  const core = admin.makeApiClient(CoreV1Api)
  await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name } } }).catch((err: { code?: number }) => {
    if (err.code !== 409) throw err
  })
  const token = await core.createNamespacedServiceAccountToken({ namespace, name, body: { spec: { audiences: [], expirationSeconds } } })
  const cluster = admin.getCurrentCluster()!
  const kc = new KubeConfig()
  kc.loadFromOptions({
    clusters: [{ ...cluster }],
    users: [{ name, token: token.status?.token }],
    contexts: [{ name, cluster: cluster.name, user: name }],
    currentContext: name,
  })
  return kc
}

/**
 * A user authenticated by a client certificate from the control plane's CA (its pki/ca.key), as a cluster hands
 * one to a person: how tests act as a member of a group, such as secretwire's break-glass group. Needs openssl.
 */
export async function userKubeConfig(admin: KubeConfig, controlPlaneDir: string, user: string, groups: readonly string[] = []): Promise<KubeConfig> {
  const pki = join(controlPlaneDir, 'pki')
  const work = await mkdtemp(join(tmpdir(), 'secretwire-user-'))
  try {
    const subject = `/CN=${user}${groups.map((g) => `/O=${g}`).join('')}`
    const openssl = (args: string[]) => {
      const res = spawnSync('openssl', args, { encoding: 'utf8' })
      if (res.status !== 0) throw new Error(`openssl ${args[0]}: ${res.stderr || res.error?.message}`)
    }
    openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', subject,
      '-keyout', join(work, 'user.key'), '-out', join(work, 'user.csr')])
    openssl(['x509', '-req', '-in', join(work, 'user.csr'), '-CA', join(pki, 'ca.crt'), '-CAkey', join(pki, 'ca.key'),
      '-CAcreateserial', '-days', '1', '-out', join(work, 'user.crt')])
    const cluster = admin.getCurrentCluster()!
    const kc = new KubeConfig()
    kc.loadFromOptions({
      clusters: [{ ...cluster }],
      users: [{
        name: user,
        certData: Buffer.from(await readFile(join(work, 'user.crt'))).toString('base64'),
        keyData: Buffer.from(await readFile(join(work, 'user.key'))).toString('base64'),
      }],
      contexts: [{ name: user, cluster: cluster.name, user: user }],
      currentContext: user,
    })
    return kc
  } finally {
    await rm(work, { recursive: true, force: true })
  }
}
