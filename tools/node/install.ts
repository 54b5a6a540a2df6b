// secretwire installed the way a platform team installs it: certs/generate.sh, then `kubectl apply -k` of
// deploy/plain through an overlay that sets only the image (to the one tools/build/images.ts built from the
// Dockerfile), with the policy file given. The demo and the node tests install it this way.
import { spawnSync } from 'node:child_process'
import { cpSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { AppsV1Api, type KubeConfig } from '@kubernetes/client-node'
import { stringify } from 'yaml'
import { repoRoot } from '../paths.ts'
import { images } from '../build/images.ts'

/** Runs the run's kubectl with these arguments. */
export type Kubectl = (args: readonly string[], input?: string) => { status: number | null, stdout: string, stderr: string }

export interface Installed {
  /** The copy of deploy/ the install was made from (certs/generate.sh wrote into it). */
  readonly deployDir: string
  /** Re-runs certs/generate.sh and re-applies, as a user rotates the certificate. */
  rotateCertificate(): void
}

/**
 * certs/generate.sh, then deploy/plain with the image set through kustomize to the one tools/build/images.ts built
 * from the Dockerfile, and `policy` as the policy file: what a platform team applies, nothing else.
 */
export function installSecretwire(kubectl: Kubectl, policy: string): Installed {
  const work = mkdtempSync(join(tmpdir(), 'secretwire-install-'))
  cpSync(join(repoRoot, 'deploy'), join(work, 'deploy'), { recursive: true })
  writeFileSync(join(work, 'deploy', 'webhook', 'policy.yaml'), policy)
  const overlay = join(work, 'overlay')
  cpSync(join(repoRoot, 'certs'), join(work, 'certs'), { recursive: true })
  const [name, tag] = [images.secretwire.slice(0, images.secretwire.lastIndexOf(':')), images.secretwire.slice(images.secretwire.lastIndexOf(':') + 1)]
  const generate = () => {
    const res = spawnSync('bash', [join(work, 'certs', 'generate.sh'), join(work, 'deploy', 'plain', 'generated')], { encoding: 'utf8' })
    if (res.status !== 0) throw new Error(`certs/generate.sh: ${res.stderr}`)
  }
  const apply = () => {
    const res = kubectl(['apply', '-k', overlay])
    if (res.status !== 0) throw new Error(`kubectl apply -k: ${res.stderr}`)
  }
  mkdirSync(overlay)
  writeFileSync(join(overlay, 'kustomization.yaml'), stringify({
    apiVersion: 'kustomize.config.k8s.io/v1beta1',
    kind: 'Kustomization',
    resources: [relative(overlay, join(work, 'deploy', 'plain'))],
    images: [{ name: 'ghcr.io/secretwire/secretwire', newName: name, newTag: tag }],
  }))
  generate()
  apply()
  return { deployDir: join(work, 'deploy'), rotateCertificate: () => { generate(); apply() } }
}

/** Waits until the Deployment's Pods are all updated and ready. */
export async function untilRolledOut(kc: KubeConfig, namespace: string, name: string, timeoutMs = 120_000): Promise<void> {
  const apps = kc.makeApiClient(AppsV1Api)
  const deadline = Date.now() + timeoutMs
  let last = ''
  for (;;) {
    const d = await apps.readNamespacedDeployment({ namespace, name })
    const want = d.spec?.replicas ?? 1
    const s = d.status ?? {}
    last = `observed ${s.observedGeneration}/${d.metadata?.generation}, updated ${s.updatedReplicas}, ready ${s.readyReplicas}, available ${s.availableReplicas} of ${want}`
    if (s.observedGeneration === d.metadata?.generation && s.updatedReplicas === want && s.readyReplicas === want && (s.replicas ?? 0) === want) return
    if (Date.now() > deadline) throw new Error(`Deployment ${namespace}/${name} not rolled out in ${timeoutMs} ms: ${last}`)
    await new Promise((r) => setTimeout(r, 250))
  }
}

