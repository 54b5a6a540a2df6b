// Which cluster, and as whom, a CLI command talks to: as kubectl decides it, with @kubernetes/client-node's own
// loading rather than merging of our own.
//   1. --kubeconfig FILE: that file alone.
//   2. KUBECONFIG: the list (colon-separated), loaded and merged by client-node's loadFromDefault; the first file
//      that names a current-context decides it, as with kubectl. Unlike kubectl, a cluster, user or context named
//      in two files is an error (client-node refuses duplicates where kubectl takes the first silently); an empty
//      KUBECONFIG counts as unset, as with kubectl.
//   3. ~/.kube/config.
//   4. In a Pod: its ServiceAccount.
// --context picks another context of what was loaded. Never client-node's last resort, http://localhost:8080:
// with none of the above the command says what it looked for.
import { existsSync } from 'node:fs'
import { homedir } from 'node:os'
import { delimiter, join } from 'node:path'
import { KubeConfig } from '@kubernetes/client-node'
import { ConfigError } from '../core/errors.ts'

export interface ClusterFlags {
  readonly kubeconfig?: string
  readonly context?: string
}

export function cliKubeConfig(flags: ClusterFlags, env: NodeJS.ProcessEnv = process.env): KubeConfig {
  const kc = new KubeConfig()
  const home = join(env.HOME ?? homedir(), '.kube', 'config')
  let source: string
  try {
    if (flags.kubeconfig !== undefined && flags.kubeconfig !== '') {
      source = `--kubeconfig ${flags.kubeconfig}`
      kc.loadFromFile(flags.kubeconfig)
    } else if ((env.KUBECONFIG ?? '') !== '') {
      source = `KUBECONFIG=${env.KUBECONFIG}`
      // Reads process.env.KUBECONFIG; true: the first file's current-context is kept, not the last one's.
      kc.loadFromDefault(undefined, true)
      // kubectl takes the first file that names one; client-node keeps the first file's, even when it names none.
      if ((kc.getCurrentContext() ?? '') === '') {
        for (const path of env.KUBECONFIG!.split(delimiter).filter((p) => p !== '')) {
          const one = new KubeConfig()
          one.loadFromFile(path)
          if ((one.getCurrentContext() ?? '') !== '') { kc.setCurrentContext(one.getCurrentContext()); break }
        }
      }
    } else if (existsSync(home)) {
      source = home
      kc.loadFromFile(home)
    } else if ((env.KUBERNETES_SERVICE_HOST ?? '') !== '') {
      source = 'the in-cluster ServiceAccount'
      kc.loadFromCluster()
    } else {
      throw new ConfigError(`no kubeconfig: no --kubeconfig, KUBECONFIG is not set, ${home} does not exist, and this is not a Pod`)
    }
  } catch (err) {
    if (err instanceof ConfigError) throw err
    throw new ConfigError(`${source!}: ${(err as Error).message}`)
  }
  if (flags.context !== undefined) {
    if (kc.getContextObject(flags.context) === null) {
      throw new ConfigError(`--context ${flags.context}: no such context in ${source} (it has: ${kc.getContexts().map((c) => c.name).join(', ') || 'none'})`)
    }
    kc.setCurrentContext(flags.context)
  }
  if ((kc.getCurrentContext() ?? '') === '' && kc.getContexts().length > 0) {
    throw new ConfigError(`${source}: no current-context; pick one with --context (it has: ${kc.getContexts().map((c) => c.name).join(', ')})`)
  }
  const server = kc.getCurrentCluster()?.server ?? ''
  if (!/^https?:\/\/[^/]/.test(server)) {
    throw new ConfigError(`${source}: context ${JSON.stringify(kc.getCurrentContext())} names no API server`)
  }
  return kc
}
