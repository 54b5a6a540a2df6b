// Helm's CLI, built from its Go module into the binary cache, for the chart tests: lint, template, install,
// upgrade and uninstall against the local control plane, as a platform team installs webhooks. It is required by
// the control plane's module (tools/controlplane/tools.go), so it shares that module's Kubernetes libraries.
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { buildGo } from './gobuild.ts'
import type { Say } from './progress.ts'
import { repoRoot } from './paths.ts'

export async function buildHelm(out?: Say): Promise<string> {
  const moduleDir = join(repoRoot, 'tools', 'controlplane')
  const goMod = await readFile(join(moduleDir, 'go.mod'), 'utf8')
  const helm = /^\s*helm\.sh\/helm\/v3 (v\S+)/m.exec(goMod)?.[1]
  const clientGo = /k8s\.io\/client-go v0\.(\d+)\./.exec(goMod)?.[1]
  if (helm === undefined || clientGo === undefined) throw new Error('tools/controlplane/go.mod requires no helm.sh/helm/v3, or no k8s.io/client-go v0.MINOR')
  const dir = await buildGo({
    name: 'helm', moduleDir, packages: ['helm.sh/helm/v3/cmd/helm'],
    // As Helm's Makefile sets them: the version `helm version` prints, and the Kubernetes version `helm template`
    // and `helm lint` assume without a cluster (1.MINOR of the client-go it is built with; else 1.20, which the
    // chart's kubeVersion refuses).
    ldflags: [`-X helm.sh/helm/v3/internal/version.version=${helm}`,
      ...['pkg/lint/rules', 'pkg/chartutil'].flatMap((pkg) => [`-X helm.sh/helm/v3/${pkg}.k8sVersionMajor=1`, `-X helm.sh/helm/v3/${pkg}.k8sVersionMinor=${clientGo}`])].join(' '),
  }, out)
  return join(dir, 'helm')
}
