// The External Secrets Operator version the project is built and tested against, and where its CRDs come from:
// ESO's own Go module at that version, fetched through the Go module proxy (no copied files).
import { execFile } from 'node:child_process'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)

export const ESO_MODULE = 'github.com/external-secrets/external-secrets'
export const ESO_VERSION = 'v1.3.2'

/** The CRDs secretwire and its tests use, as named in ESO's config/crds/bases. */
export const ESO_CRDS = [
  'external-secrets.io_externalsecrets.yaml',
  'external-secrets.io_clustersecretstores.yaml',
  'external-secrets.io_secretstores.yaml',
  'external-secrets.io_pushsecrets.yaml',
  'generators.external-secrets.io_passwords.yaml',
  'generators.external-secrets.io_generatorstates.yaml',
] as const

/** Downloads ESO's module (once; Go caches it) and returns the absolute paths of the CRD files. */
export async function esoCrdFiles(): Promise<string[]> {
  const dir = await goModuleDir(ESO_MODULE, ESO_VERSION)
  return ESO_CRDS.map((file) => join(dir, 'config', 'crds', 'bases', file))
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
