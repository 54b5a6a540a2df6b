// The External Secrets Operator's controller, built from its Go module (tools/eso) into the binary cache, and
// run as a sidecar of the local control plane.
import { join } from 'node:path'
import type { Sidecar } from './controlplane.ts'
import { buildGo } from './gobuild.ts'
import { repoRoot } from './paths.ts'

export async function buildEso(): Promise<string> {
  const dir = await buildGo({ name: 'eso', moduleDir: join(repoRoot, 'tools', 'eso'), packages: ['./cmd/external-secrets'] })
  return join(dir, 'external-secrets')
}

/** ESO running out of cluster against the control plane: no metrics port, no leader election, quick store checks. */
export async function esoSidecar(): Promise<Sidecar> {
  return {
    name: 'external-secrets',
    path: await buildEso(),
    args: ['--metrics-addr=0', '--enable-leader-election=false', '--store-requeue-interval=5s', '--loglevel=info', '--concurrent=4'],
  }
}
