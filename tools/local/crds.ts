// The CRDs the local control plane installs, taken from their projects' own Go modules at pinned versions
// (fetched through the Go module proxy; no copied files): the External Secrets Operator's, which secretwire
// creates objects of, and cert-manager's Certificate and Issuer, so deploy/cert-manager can be applied.
import { execFile } from 'node:child_process'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)

export const ESO_MODULE = 'github.com/external-secrets/external-secrets'
export const ESO_VERSION = 'v1.3.2'
export const CERT_MANAGER_MODULE = 'github.com/cert-manager/cert-manager'
export const CERT_MANAGER_VERSION = 'v1.21.2'

const sources = [
  {
    module: ESO_MODULE, version: ESO_VERSION, dir: 'config/crds/bases',
    files: [
      'external-secrets.io_externalsecrets.yaml',
      'external-secrets.io_clustersecretstores.yaml',
      'external-secrets.io_secretstores.yaml',
      'external-secrets.io_pushsecrets.yaml',
      'generators.external-secrets.io_passwords.yaml',
      'generators.external-secrets.io_generatorstates.yaml',
    ],
  },
  {
    module: CERT_MANAGER_MODULE, version: CERT_MANAGER_VERSION, dir: 'deploy/crds',
    files: ['cert-manager.io_certificates.yaml', 'cert-manager.io_issuers.yaml'],
  },
] as const

/** Downloads the modules (once; Go caches them) and returns the absolute paths of the CRD files. */
export async function crdFiles(): Promise<string[]> {
  const dirs = await Promise.all(sources.map((s) => goModuleDir(s.module, s.version)))
  return sources.flatMap((s, i) => s.files.map((file) => join(dirs[i]!, s.dir, file)))
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
