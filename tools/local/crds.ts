// The CRDs the local control plane installs, taken from their projects' own Go modules at pinned versions
// (fetched through the Go module proxy; no copied files): every CRD of the External Secrets Operator, at the
// version tools/eso builds its controller from, and cert-manager's Certificate and Issuer, so
// deploy/cert-manager can be applied.
import { execFile } from 'node:child_process'
import { readdir, readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { repoRoot } from './paths.ts'

const run = promisify(execFile)

export const ESO_MODULE = 'github.com/external-secrets/external-secrets'
export const CERT_MANAGER_MODULE = 'github.com/cert-manager/cert-manager'
export const CERT_MANAGER_VERSION = 'v1.21.2'

/** The ESO version, as tools/eso/go.mod requires it: the one place it is pinned. */
export async function esoVersion(): Promise<string> {
  const goMod = await readFile(join(repoRoot, 'tools', 'eso', 'go.mod'), 'utf8')
  const version = new RegExp(`^\\s*(?:require\\s+)?${ESO_MODULE.replaceAll('.', '\\.')} (v\\S+)`, 'm').exec(goMod)?.[1]
  if (version === undefined) throw new Error(`tools/eso/go.mod does not require ${ESO_MODULE}`)
  return version
}

/**
 * The newest ESO whose root module the proxy serves whole (its controller cannot be built here: the sub-modules it
 * replaces into itself are refused), so only its CRDs are installed, to check secretwire's objects against them.
 */
export const ESO_NEWEST_CRDS_VERSION = 'v1.3.2'

/**
 * Downloads the modules (once; Go caches them) and returns the absolute paths of the CRD files: ESO's at `eso`
 * (default: the version tools/eso builds).
 */
export async function crdFiles(eso?: string): Promise<string[]> {
  const [esoModule, certManager] = await Promise.all([
    (eso === undefined ? esoVersion() : Promise.resolve(eso)).then((v) => goModuleDir(ESO_MODULE, v)),
    goModuleDir(CERT_MANAGER_MODULE, CERT_MANAGER_VERSION),
  ])
  const esoDir = join(esoModule, 'config', 'crds', 'bases')
  const esoFiles = (await readdir(esoDir)).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml').sort()
  return [
    ...esoFiles.map((f) => join(esoDir, f)),
    ...['cert-manager.io_certificates.yaml', 'cert-manager.io_issuers.yaml'].map((f) => join(certManager, 'deploy', 'crds', f)),
  ]
}

export async function goModuleDir(module: string, version: string): Promise<string> {
  // Outside any go.mod, so the download is of exactly this version.
  const { stdout } = await run('go', ['mod', 'download', '-json', `${module}@${version}`], {
    cwd: tmpdir(), maxBuffer: 1 << 20,
  })
  const info = JSON.parse(stdout) as { Dir?: string, Error?: string }
  if (info.Dir === undefined) throw new Error(`go mod download ${module}@${version}: ${info.Error ?? 'no Dir'}`)
  return info.Dir
}
