// The policy file (SECRETWIRE_CONFIG), reloaded when it changes: deploy/webhook mounts it from a ConfigMap, so
// granting a NAME to another namespace is an edit of that ConfigMap, not a new rollout. A file that no longer
// parses is logged and the policy in force stays: a typo never opens or closes anything.
import { readFileSync } from 'node:fs'
import type { Logger } from 'pino'
import { readPolicy } from './settings.ts'
import { watchFiles, type Watch } from '../util/filewatch.ts'
import type { PolicyHolder } from '../core/policy.ts'

export function watchPolicy(path: string, holder: PolicyHolder, log: Logger, onReload: (ok: boolean) => void, pollMs = 30_000): Watch {
  let last = readFileSync(path, 'utf8')
  let rejected: string | undefined
  const check = () => {
    let text = ''
    try {
      text = readFileSync(path, 'utf8')
      if (text === last || text === rejected) return
      holder.replace(readPolicy(path, () => text))
    } catch (err) {
      // Logged once per version of the file, not on every poll.
      rejected = text
      log.error({ file: path, err: (err as Error).message }, 'policy file unusable; keeping the policy in force')
      onReload(false)
      return
    }
    last = text
    log.info({ file: path }, 'policy reloaded')
    onReload(true)
  }
  return watchFiles([path], check, pollMs)
}
