// The CRDs the local control plane installs, taken from their projects' own Go modules at pinned versions
// (tools/build/gomodules.ts; no copied files): every CRD of the External Secrets Operator, at the version
// tools/go/eso builds its controller from, and cert-manager's Certificate and Issuer, so deploy/cert-manager can be
// applied.
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { goModuleDir } from '../build/gomodules.ts'

/** Whose ESO CRDs: the controller's version (`eso`), or the newest served (`esoNewest`). */
export type EsoCrds = 'eso' | 'esoNewest'

/** The absolute paths of the CRD files, read from the module cache. */
export async function crdFiles(eso: EsoCrds = 'eso'): Promise<string[]> {
  const [esoModule, certManager] = await Promise.all([goModuleDir(eso), goModuleDir('certManager')])
  const esoDir = join(esoModule, 'config', 'crds', 'bases')
  const esoFiles = (await readdir(esoDir)).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml').sort()
  return [
    ...esoFiles.map((f) => join(esoDir, f)),
    ...['cert-manager.io_certificates.yaml', 'cert-manager.io_issuers.yaml'].map((f) => join(certManager, 'deploy', 'crds', f)),
  ]
}
