// The External Secrets Operator on the node as production runs it: ESO's own Helm chart, from its Go module at the
// version tools/go/eso builds, rendered by `helm template` with the values secretwire asks of an installer
// (deploy/eso/eso-chart-values.yaml, otherwise the chart's defaults) and applied. Its controller,
// webhook and cert-controller run as Pods from the image tools/build/images.ts made of that build, each with its
// ServiceAccount token mounted, and the chart's RBAC (the view/edit roles aggregated into the built-in ones).
//
// What differs from the chart's defaults, and why:
//   installCRDs=false             the launcher installs the same version's CRDs from the same module
//   [webhook.|certController.]image.repository, .tag   the local image (no registry is reachable); pull policy
//                                 stays IfNotPresent
//   concurrent=4, store-requeue-interval=5s   a test cluster should not wait minutes on a store check
//   podSpecExtra.hostAliases      kubernetes.default.svc (deploy/eso's store URL, as written) → the kubernetes
//                                 Service's address: the local cluster runs no DNS, which is what resolves it in a real one
// The chart names the bitwarden-sdk-server subchart as a dependency, off by default and not in the module: a copy
// of the chart without that entry renders the same objects (helm refuses a chart whose dependency is missing).
import { spawnSync } from 'node:child_process'
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parse, stringify } from 'yaml'
import { buildHelm } from '../build/builds.ts'
import { goModuleDir } from '../build/gomodules.ts'
import { images } from '../build/images.ts'
import type { Kubectl } from './install.ts'
import { repoRoot } from '../paths.ts'
import { ESO_NAMESPACE } from '../cluster/eso.ts'

export { ESO_NAMESPACE }
/** The chart's release name: its ServiceAccount and Deployment are named after it. */
export const ESO_RELEASE = 'external-secrets'
/** The controller's Pods (the webhook's and cert-controller's carry other names). */
export const ESO_CONTROLLER_SELECTOR = `app.kubernetes.io/name=external-secrets,app.kubernetes.io/instance=${ESO_RELEASE}`
/** The Deployments the chart makes, each waited for. */
export const esoDeployments = [ESO_RELEASE, `${ESO_RELEASE}-webhook`, `${ESO_RELEASE}-cert-controller`] as const

/** The chart's manifests, as `helm template` renders them with the values above. */
export async function renderEsoChart(apiServiceIP: string): Promise<string> {
  const chart = join(await goModuleDir('eso'), 'deploy', 'charts', 'external-secrets')
  const work = mkdtempSync(join(tmpdir(), 'secretwire-eso-chart-'))
  try {
    const copy = join(work, 'external-secrets')
    cpSync(chart, copy, { recursive: true })
    const meta = parse(readFileSync(join(copy, 'Chart.yaml'), 'utf8')) as { dependencies?: { name: string, condition?: string }[] }
    const values = parse(readFileSync(join(copy, 'values.yaml'), 'utf8')) as Record<string, { enabled?: boolean } | undefined>
    for (const dep of meta.dependencies ?? []) {
      // Only a dependency the default values leave off may go: anything else would change what renders.
      if (values[dep.name]?.enabled !== false) throw new Error(`${chart}: dependency ${dep.name} is not off by default; it cannot be left out`)
    }
    delete meta.dependencies
    writeFileSync(join(copy, 'Chart.yaml'), stringify(meta))
    const [repository, tag] = [images.eso.slice(0, images.eso.lastIndexOf(':')), images.eso.slice(images.eso.lastIndexOf(':') + 1)]
    // The controller, the webhook and the cert-controller are one binary, one image.
    const image = ['image', 'webhook.image', 'certController.image'].flatMap((v) => ['--set', `${v}.repository=${repository}`, '--set', `${v}.tag=${tag}`])
    const res = spawnSync(await buildHelm(), ['template', ESO_RELEASE, copy, '--namespace', ESO_NAMESPACE,
      '--values', join(repoRoot, 'deploy', 'eso', 'eso-chart-values.yaml'), '--set', 'installCRDs=false', ...image,
      '--set', 'concurrent=4', '--set', 'extraArgs.store-requeue-interval=5s',
      '--set-json', `podSpecExtra=${JSON.stringify({ hostAliases: [{ ip: apiServiceIP, hostnames: ['kubernetes.default.svc'] }] })}`], { encoding: 'utf8' })
    if (res.status !== 0) throw new Error(`helm template ${chart}: ${res.stderr || res.error?.message}`)
    return res.stdout
  } finally {
    rmSync(work, { recursive: true, force: true })
  }
}

/** Applies the rendered chart into its namespace and waits until its Deployments are available. */
export async function installEso(kubectl: Kubectl): Promise<void> {
  const run = (args: string[], input?: string) => {
    const res = kubectl(args, input)
    if (res.status !== 0) throw new Error(`kubectl ${args.join(' ')}: ${res.stderr}`)
    return res.stdout
  }
  const manifests = await renderEsoChart(run(['get', 'service', 'kubernetes', '-n', 'default', '-o', 'jsonpath={.spec.clusterIP}']).trim())
  run(['create', 'namespace', ESO_NAMESPACE])
  run(['apply', '-f', '-'], manifests)
  for (const name of esoDeployments) {
    const res = kubectl(['rollout', 'status', '-n', ESO_NAMESPACE, `deployment/${name}`, '--timeout=120s'])
    if (res.status !== 0) {
      const pods = kubectl(['get', 'pods', '-n', ESO_NAMESPACE, '-o', 'wide']).stdout
      const events = kubectl(['get', 'events', '-n', ESO_NAMESPACE, '--sort-by=.lastTimestamp']).stdout.split('\n').slice(-15).join('\n')
      throw new Error(`ESO's ${name} did not become available: ${res.stderr || res.stdout}\n${pods}\n${events}`)
    }
  }
}
