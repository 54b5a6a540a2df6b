// Files that Kubernetes mounts from a Secret or ConfigMap (the serving certificate, the policy file) change in
// place: the kubelet writes a new `..data` directory and swaps a symlink to it, so the file itself is never
// modified and a watch on it sees nothing. The directories are watched instead, several events of one swap are
// settled into one check, and a slow poll covers events a watch can miss.
import { watch } from 'node:fs'
import { dirname } from 'node:path'

export interface Watch {
  stop(): void
}

/** Calls `check` once the files' directories settle after a change, and every `pollMs` regardless. */
export function watchFiles(paths: readonly string[], check: () => void, pollMs = 30_000): Watch {
  let timer: NodeJS.Timeout | undefined
  const schedule = () => {
    clearTimeout(timer)
    timer = setTimeout(check, 100)
  }
  const watchers = [...new Set(paths.map((p) => dirname(p)))].map((dir) => watch(dir, schedule))
  const poll = setInterval(check, pollMs).unref()
  return {
    stop() {
      for (const w of watchers) w.close()
      clearInterval(poll)
      clearTimeout(timer)
    },
  }
}
