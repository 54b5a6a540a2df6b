// What each kind of run takes from outside — Go builds, Go modules read as files, the images (whose build runs
// `npm ci` and fetches Node.js 24 from the npm registry) — decided in this one module, and `prepare`, the one
// function that fetches and builds them. Every entry point calls it first, before the run enters its namespaces
// (with-node.ts) or starts its tests (with-controlplane.ts), and then hands its children `offlineEnv`: with it a
// module lookup reads only the cache, a build or image that is not cached is an error naming this file, and the
// Go tool itself may not reach the proxy. So nothing a run does later can download, on any machine.
//
// `npm run setup [RUN...]` runs prepare alone (default: everything `npm test` and `npm run demo` need).
import { pathToFileURL } from 'node:url'
import { buildControlPlane, buildEso, buildGoPeer, buildHelm, buildKubernetes, buildKyverno, type KubernetesMinor, kubernetesMinors, selectedKubernetes } from './builds.ts'
import { downloadGoModule, goModuleDir, goModules, type GoModuleName } from './gomodules.ts'
import { offline } from './gobuild.ts'
import { stopWithParent } from './lifeline.ts'
import { duration, say, startStep, type Say } from './progress.ts'
import { esoImage, nodeImages, type NodeImages } from './images.ts'

/** The environment of everything a run starts after prepare: nothing is fetched or built from then on. */
export function offlineEnv(run: Run): Record<string, string> {
  return {
    SECRETWIRE_OFFLINE: '1',
    // The only modules the run may read (gomodules.ts).
    SECRETWIRE_RUN_MODULES: needs[run].modules.join(','),
    // Go: no module proxy, no checksum database, no toolchain download.
    GOPROXY: 'off', GOSUMDB: 'off', GOTOOLCHAIN: 'local',
    // npm: the cache only.
    npm_config_offline: 'true',
  }
}

export type Run =
  /** `npm test`'s first part: the control plane of the selected Kubernetes, the suite (ESO, Helm, ESO's newest CRDs). */
  | 'tests'
  /** A bare control plane of the selected Kubernetes (`npm run controlplane`, a test file run alone). */
  | 'controlplane'
  /** The cluster with a node (`npm run test:node`, `npm run demo`). */
  | 'node'
  /** `npm run bench` (and its siblings but bench:kyverno): a control plane and the Go peer. */
  | 'bench'
  /** `npm run bench:kyverno`. */
  | 'bench-kyverno'

interface Needs {
  readonly builds: readonly ('controlplane' | 'kubernetes' | 'eso' | 'helm' | 'kyverno' | 'gopeer')[]
  readonly modules: readonly GoModuleName[]
  readonly images: boolean
}

/** What each run needs: the one place that decides. */
export const needs: Readonly<Record<Run, Needs>> = {
  controlplane: { builds: ['controlplane', 'kubernetes'], modules: ['eso', 'certManager'], images: false },
  tests: { builds: ['controlplane', 'kubernetes', 'eso', 'helm'], modules: ['eso', 'esoNewest', 'certManager'], images: false },
  // Helm renders ESO's chart, which installs ESO on the node as a Pod (tools/node/eso.ts).
  node: { builds: ['controlplane', 'kubernetes', 'eso', 'helm'], modules: ['eso', 'certManager', 'kubernetes'], images: true },
  bench: { builds: ['controlplane', 'gopeer'], modules: ['eso', 'certManager'], images: false },
  'bench-kyverno': { builds: ['controlplane', 'kyverno'], modules: ['eso', 'certManager', 'kyverno'], images: false },
}

export interface Prepared {
  /** The node's images, when the run needs them. */
  readonly images?: NodeImages
}

/**
 * Downloads and builds what the runs need, for the Kubernetes minors given; offline (SECRETWIRE_OFFLINE=1), checks
 * that it is all there. Silent when everything is.
 */
export async function prepare(runs: readonly Run[], minors: readonly KubernetesMinor[] = [selectedKubernetes()]): Promise<Prepared> {
  const started = Date.now()
  const wanted = runs.map((r) => needs[r])
  const builds = [...new Set(wanted.flatMap((n) => n.builds))]
  const all = [...new Set(wanted.flatMap((n) => n.modules))]
  // Offline, a module not in the cache is the lookup's error, which names the fix.
  const cached = async (m: GoModuleName) => offline() ? goModuleDir(m).then(() => true) : goModuleDir(m).then(() => true, () => false)
  const missing = (await Promise.all(all.map(async (m) => (await cached(m) ? [] : [m])))).flat()
  let worked = missing.length > 0
  if (missing.length > 0) {
    const step = startStep('Go modules', `downloading ${missing.map((m) => `${goModules[m].module}@${goModules[m].version}`).join(', ')}`)
    let fetched = 0
    await Promise.all(missing.map(async (m) => {
      await downloadGoModule(m)
      step.progress(`${++fetched} of ${missing.length} in the module cache`)
    }))
    step.done()
  }
  const build = {
    controlplane: buildControlPlane,
    kubernetes: (out: Say) => Promise.all(minors.map((minor) => buildKubernetes(minor, out))),
    eso: buildEso,
    helm: buildHelm,
    kyverno: buildKyverno,
    gopeer: buildGoPeer,
  } as const
  const log = (line: string) => { worked = true; say(line) }
  // Side by side: while one build waits on the module proxy or links, another compiles, and the images (which
  // need none of them, but ESO's) are made meanwhile. (Measured on 2 cores, cold: the control plane, ESO and Helm side by
  // side took 1257 s, the 1.35 build after them 445 s more.)
  const withImages = wanted.some((n) => n.images)
  const [made, images] = await Promise.all([
    Promise.all(builds.map(async (b) => {
      const path = await build[b](log)
      // ESO's image is made from its binary as soon as that build is done.
      return b === 'eso' && withImages ? esoImage(path as string) : undefined
    })),
    withImages ? nodeImages(log) : undefined,
  ])
  const esoTar = made.find((m) => m !== undefined)
  if (worked) say(`everything this run needs is here (${duration(Date.now() - started)}): from now on nothing is downloaded or built`)
  return { ...(images && { images: { ...images, files: [...images.files, ...(esoTar === undefined ? [] : [esoTar])] } }) }
}

// `npm run setup [RUN...]`: prepare alone, for a machine that should be ready before anyone runs anything.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const asked = process.argv.slice(2)
  const unknown = asked.filter((r) => !(r in needs))
  if (unknown.length > 0) {
    say(`unknown run ${unknown.join(', ')}: one of ${Object.keys(needs).join(', ')}`)
    process.exit(2)
  }
  // Started in the background by tools/test/run.ts: it goes when that run goes, even killed outright.
  stopWithParent()
  try {
    // Default: what `npm test` and `npm run demo` need, for every Kubernetes minor they run.
    await prepare(asked.length > 0 ? asked as Run[] : ['tests', 'node'], asked.length > 0 ? undefined : Object.keys(kubernetesMinors) as KubernetesMinor[])
  } catch (err) {
    say((err as Error).message)
    process.exit(1)
  }
}

