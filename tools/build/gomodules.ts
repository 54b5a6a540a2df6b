// The Go modules a run reads as files (CRDs, a Helm chart, a C source), each declared here with its version and
// why it is needed. `goModuleDir` only ever reads the module cache: downloading is `downloadGoModule`'s job, and
// only tools/build/needs.ts `prepare` calls it, before a run starts. A module no one declared cannot be asked for,
// so a new use of a module fails on every machine at once instead of only on one that never saw it.
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { repoRoot } from '../paths.ts'

const run = promisify(execFile)

export const ESO_MODULE = 'github.com/external-secrets/external-secrets'

/** The version a tool module's go.mod requires of `module`: the one place each is pinned. */
function required(toolModule: string, module: string): string {
  const goMod = readFileSync(join(repoRoot, 'tools', 'go', toolModule, 'go.mod'), 'utf8')
  const version = new RegExp(`^\\s*(?:require\\s+)?${module.replaceAll('.', '\\.')} (v\\S+)`, 'm').exec(goMod)?.[1]
  if (version === undefined) throw new Error(`tools/go/${toolModule}/go.mod does not require ${module}`)
  return version
}

export interface GoModule {
  readonly module: string
  readonly version: string
  readonly why: string
}

export const goModules = {
  eso: {
    module: ESO_MODULE, version: required('eso', ESO_MODULE),
    why: 'the CRDs the control plane installs and the RBAC of ESO\'s chart, at the version tools/go/eso builds',
  },
  esoNewest: {
    module: ESO_MODULE, version: 'v1.3.2',
    why: 'the newest ESO whose module the proxy serves whole: its CRDs, to check secretwire\'s objects against (test/core/esoobjects.test.ts)',
  },
  certManager: {
    module: 'github.com/cert-manager/cert-manager', version: 'v1.21.2',
    why: 'cert-manager\'s Certificate and Issuer CRDs, so deploy/cert-manager can be applied',
  },
  kubernetes: {
    module: 'k8s.io/kubernetes', version: required('controlplane', 'k8s.io/kubernetes'),
    why: 'build/pause/linux/pause.c, compiled into the node\'s sandbox image',
  },
  kyverno: {
    module: 'github.com/kyverno/kyverno', version: required('kyverno', 'github.com/kyverno/kyverno'),
    why: 'Kyverno\'s CRDs, for npm run bench:kyverno',
  },
} as const satisfies Record<string, GoModule>

export type GoModuleName = keyof typeof goModules

/**
 * Where the module's files are in the module cache. Never downloads: a module not there is an error naming the fix.
 * Inside a run, only the modules tools/build/needs.ts declares for that run (SECRETWIRE_RUN_MODULES) may be read,
 * so a code path that reads another fails on a warm machine too, not only on one whose cache lacks it.
 */
export async function goModuleDir(name: GoModuleName): Promise<string> {
  const m = goModules[name]
  const allowed = process.env.SECRETWIRE_RUN_MODULES?.split(',')
  if (allowed !== undefined && !allowed.includes(name)) {
    throw new Error(`Go module ${m.module}@${m.version} (${name}: ${m.why}) is not among the modules tools/build/needs.ts ` +
      `declares for this run (${allowed.join(', ') || 'none'}): add it there, so the run fetches it before it starts`)
  }
  try {
    // Nothing is fetched, so there is nothing new to check against the checksum database: downloadGoModule
    // checked the module when it fetched it.
    return await modDownload(m, { GOPROXY: 'off', GOSUMDB: 'off', GOTOOLCHAIN: 'local' })
  } catch (err) {
    throw new Error(`Go module ${m.module}@${m.version} (${m.why}) is not in the module cache: ` +
      `\`npm run setup\` downloads it (npm test and npm run demo do so before they start). ${(err as Error).message}`)
  }
}

/** Downloads the module into the module cache (if not there yet) and returns its folder: for prepare only. */
export async function downloadGoModule(name: GoModuleName): Promise<string> {
  return modDownload(goModules[name], {})
}

async function modDownload(m: GoModule, env: Record<string, string>): Promise<string> {
  // Outside any go.mod, so the download is of exactly this version.
  const { stdout } = await run('go', ['mod', 'download', '-json', `${m.module}@${m.version}`], {
    cwd: tmpdir(), maxBuffer: 1 << 20, env: { ...process.env, ...env },
  }).catch((err: { stdout?: string, message: string }) => ({ stdout: err.stdout ?? '', error: err.message }))
  let info: { Dir?: string, Error?: string } = {}
  try { info = JSON.parse(stdout) as typeof info } catch { /* no JSON: the error says why */ }
  if (info.Dir === undefined) throw new Error(`go mod download ${m.module}@${m.version}: ${info.Error ?? 'no Dir'}`)
  return info.Dir
}
