// A private control plane with the real External Secrets Operator running against it (as its own ServiceAccount,
// with its chart's RBAC) and the seed's ClusterSecretStore installed from deploy/eso: the ground for end-to-end
// tests.
import { createHash } from 'node:crypto'
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node'
import type { Test } from 'tap'
import { startControlPlane, type ControlPlane } from '../../tools/cluster/controlplane.ts'
import { kubectlPath } from '../../tools/build/builds.ts'
import { esoSidecar, startEso } from '../../tools/cluster/eso.ts'
import { prepare } from '../../tools/build/needs.ts'
import { installStore, untilStoreReady } from '../../tools/cluster/store.ts'

export interface EsoCluster {
  readonly cp: ControlPlane
  readonly kc: KubeConfig
  /** The decoded value of key `password` of a Secret, once ESO has written it. */
  /** The value of `key` (default: the raw password) in a Secret, once ESO has written it. */
  password(namespace: string, name: string, timeoutMs?: number, key?: string): Promise<string>
  /** SHA-256 (hex) of that password: what tests compare and print, never the value itself. */
  fingerprint(namespace: string, name: string, timeoutMs?: number): Promise<string>
}

/** `storeWrites`: the store as deploy/components/push-strategy makes it, writable (the push strategy needs it). */
export async function esoCluster(t: Test, opts: { storeWrites?: boolean } = {}): Promise<EsoCluster> {
  await prepare(['tests'])
  const cp = await startControlPlane({ sidecars: [await esoSidecar()] })
  t.teardown(() => cp.stop())
  const kc = cp.kubeConfig()
  await startEso(cp)
  await installStore(kc, cp.info, await kubectlPath(), { strategy: opts.storeWrites === true ? 'push' : 'generate' })
  await untilStoreReady(kc)
  const core = kc.makeApiClient(CoreV1Api)
  const cluster: EsoCluster = {
    cp, kc,
    async fingerprint(namespace, name, timeoutMs) {
      return createHash('sha256').update(await cluster.password(namespace, name, timeoutMs)).digest('hex')
    },
    async password(namespace, name, timeoutMs = 60_000, key = 'password') {
      const deadline = Date.now() + timeoutMs
      for (;;) {
        const secret = await core.readNamespacedSecret({ namespace, name }).catch(() => undefined)
        const value = secret?.data?.[key]
        if (value !== undefined) return Buffer.from(value, 'base64').toString('utf8')
        if (Date.now() > deadline) {
          throw new Error(`Secret ${namespace}/${name} has no ${key} after ${timeoutMs} ms; ESO log: ${cp.info.sidecarLogs?.['external-secrets']}`)
        }
        await new Promise((r) => setTimeout(r, 200))
      }
    },
  }
  return cluster
}
