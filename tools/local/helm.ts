// Helm's CLI, built from its Go module (tools/helm) into the binary cache, for the chart tests: lint, template,
// install, upgrade and uninstall against the local control plane, as a platform team installs webhooks.
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { buildGo } from './gobuild.ts'
import { repoRoot } from './paths.ts'

export const HELM_VERSION = 'v3.22.0'

export async function buildHelm(): Promise<string> {
  const moduleDir = join(repoRoot, 'tools', 'helm')
  const clientGo = /k8s\.io\/client-go v0\.(\d+)\./.exec(await readFile(join(moduleDir, 'go.mod'), 'utf8'))?.[1]
  if (clientGo === undefined) throw new Error('tools/helm/go.mod names no k8s.io/client-go v0.MINOR')
  const dir = await buildGo({
    name: 'helm', moduleDir, packages: ['helm.sh/helm/v3/cmd/helm'],
    // As Helm's Makefile sets them: the version `helm version` prints, and the Kubernetes version `helm template`
    // and `helm lint` assume without a cluster (1.MINOR of the client-go it is built with; else 1.20, which the
    // chart's kubeVersion refuses).
    ldflags: [`-X helm.sh/helm/v3/internal/version.version=${HELM_VERSION}`,
      ...['pkg/lint/rules', 'pkg/chartutil'].flatMap((pkg) => [`-X helm.sh/helm/v3/${pkg}.k8sVersionMajor=1`, `-X helm.sh/helm/v3/${pkg}.k8sVersionMinor=${clientGo}`])].join(' '),
  })
  return join(dir, 'helm')
}
