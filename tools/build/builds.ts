// The Go builds of the project's tools, each from a Go module under tools/ into the binary cache (gobuild.ts):
//   controlplane     the launcher, etcd and Kubernetes 1.37 (tools/go/controlplane)
//   kubernetes-1.35  the same commands against Kubernetes 1.35 (tools/go/controlplane/go.1.35.mod)
//   eso              the External Secrets Operator's controller, and a test fixture made of its parts (tools/go/eso)
//   helm             Helm's CLI, for the chart tests and to render ESO's chart on the node: required by the control plane's module
//                    (tools/go/controlplane/tools.go), so it shares that module's Kubernetes libraries
//   kyverno          Kyverno, for the bench that puts secretwire beside it (tools/go/kyverno); never the product
//   gopeer           a controller-runtime webhook doing secretwire's injection, for `npm run bench` (tools/go/gopeer)
// tools/build/needs.ts decides which a run needs and builds them before it starts.
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { buildGo } from './gobuild.ts'
import type { Say } from './progress.ts'
import { repoRoot } from '../paths.ts'

const moduleDir = join(repoRoot, 'tools', 'go', 'controlplane')

/**
 * The Kubernetes versions the control plane runs: the newest the module proxy serves (tools/go/controlplane/go.mod)
 * and the oldest minor still supported upstream (go.1.35.mod: the same commands built against it with
 * `go build -modfile`). SECRETWIRE_KUBERNETES selects one for a test run or the demo; default the newest.
 */
export const kubernetesMinors = { '1.37': 'go.mod', '1.35': 'go.1.35.mod' } as const
export type KubernetesMinor = keyof typeof kubernetesMinors

export function selectedKubernetes(env: NodeJS.ProcessEnv = process.env): KubernetesMinor {
  const wanted = env.SECRETWIRE_KUBERNETES ?? '1.37'
  if (!(wanted in kubernetesMinors)) {
    throw new Error(`SECRETWIRE_KUBERNETES=${wanted}: must be one of ${Object.keys(kubernetesMinors).join(', ')}`)
  }
  return wanted as KubernetesMinor
}

/** Builds (or reuses) the launcher, etcd, and the newest Kubernetes: API server, controller manager, scheduler, kubelet, kube-proxy, kubectl. */
export async function buildControlPlane(out?: Say): Promise<string> {
  return buildGo({
    name: 'controlplane',
    moduleDir,
    packages: ['./cmd/controlplane', './cmd/etcd', './cmd/kube-apiserver', './cmd/kubectl', './cmd/kube-controller-manager',
      './cmd/kube-scheduler', './cmd/kubelet', './cmd/kube-proxy'],
    ldflags: await versionLdflags('go.mod'),
  }, out)
}

/** The directory holding kube-apiserver, kube-controller-manager, kube-scheduler and kubectl of that version. */
export async function buildKubernetes(minor: KubernetesMinor = selectedKubernetes(), out?: Say): Promise<string> {
  const modfile = kubernetesMinors[minor]
  if (modfile === 'go.mod') return buildControlPlane(out)
  return buildGo({
    name: `kubernetes-${minor}`,
    moduleDir,
    modfile,
    packages: ['./cmd/kube-apiserver', './cmd/kubectl', './cmd/kube-controller-manager', './cmd/kube-scheduler'],
    ldflags: await versionLdflags(modfile),
  }, out)
}

/** The kubectl matching the selected Kubernetes (kubectl supports one minor of skew, not two). */
export async function kubectlPath(): Promise<string> {
  return join(await buildKubernetes(), 'kubectl')
}

/** Without these the binaries report v0.0.0-master. */
async function versionLdflags(modfile: string): Promise<string> {
  const text = await readFile(join(moduleDir, modfile), 'utf8')
  const k8s = /^\s*k8s\.io\/kubernetes v(\d+)\.(\d+)\.(\S+)/m.exec(text)
  if (k8s === null) throw new Error(`tools/go/controlplane/${modfile} does not require k8s.io/kubernetes`)
  const [, major, minor, patch] = k8s
  return [
    `-X k8s.io/component-base/version.gitVersion=v${major}.${minor}.${patch}`,
    `-X k8s.io/component-base/version.gitMajor=${major}`,
    `-X k8s.io/component-base/version.gitMinor=${minor}`,
  ].join(' ')
}

/**
 * ESO's controller, and in the same `go build` (so its packages compile once) the test fixture passwordforms: ESO's
 * Password generator and template engine with Go's net/url (tools/go/eso/cmd/passwordforms).
 */
async function buildEsoModule(out?: Say): Promise<string> {
  return buildGo({ name: 'eso', moduleDir: join(repoRoot, 'tools', 'go', 'eso'), packages: ['./cmd/external-secrets', './cmd/passwordforms'] }, out)
}

export async function buildEso(out?: Say): Promise<string> {
  return join(await buildEsoModule(out), 'external-secrets')
}

export async function passwordFormsFixture(): Promise<string> {
  return join(await buildEsoModule(), 'passwordforms')
}

export async function buildHelm(out?: Say): Promise<string> {
  const goMod = await readFile(join(moduleDir, 'go.mod'), 'utf8')
  const helm = /^\s*helm\.sh\/helm\/v3 (v\S+)/m.exec(goMod)?.[1]
  const clientGo = /k8s\.io\/client-go v0\.(\d+)\./.exec(goMod)?.[1]
  if (helm === undefined || clientGo === undefined) throw new Error('tools/go/controlplane/go.mod requires no helm.sh/helm/v3, or no k8s.io/client-go v0.MINOR')
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

export const KYVERNO_VERSION = 'v1.19.1'

export async function buildKyverno(out?: Say): Promise<{ readonly admission: string, readonly background: string }> {
  const dir = await buildGo({
    name: 'kyverno', moduleDir: join(repoRoot, 'tools', 'go', 'kyverno'),
    packages: ['github.com/kyverno/kyverno/cmd/kyverno', 'github.com/kyverno/kyverno/cmd/background-controller'],
  }, out)
  return { admission: join(dir, 'kyverno'), background: join(dir, 'background-controller') }
}

/** The Go peer `npm run bench` measures secretwire against (tools/go/gopeer/main.go says what it does). */
export async function buildGoPeer(out?: Say): Promise<string> {
  const dir = await buildGo({ name: 'gopeer', moduleDir: join(repoRoot, 'tools', 'go', 'gopeer'), packages: ['.'] }, out)
  return join(dir, 'gopeer')
}
