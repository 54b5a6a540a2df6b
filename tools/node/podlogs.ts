// Keeps the logs of a set of Pods in one file for the whole run, as a cluster's log collector would: the kubelet
// drops a container's log with its Pod, and the tests read ESO's log after ESO has been scaled down and up again
// (test/node/node.test.ts, "a healthy install is quiet"). Each container (by Pod, name and restart count) is
// followed once, from its first line, with `kubectl logs -f`.
import { spawn, type ChildProcess } from 'node:child_process'
import { createWriteStream } from 'node:fs'
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node'

export interface LogFollower {
  stop(): void
}

export function followPodLogs(kc: KubeConfig, kubectl: string, kubeconfig: string, namespace: string, labelSelector: string, file: string): LogFollower {
  const core = kc.makeApiClient(CoreV1Api)
  const out = createWriteStream(file, { flags: 'a' })
  const followed = new Set<string>()
  const running = new Set<ChildProcess>()
  let stopped = false
  const poll = async () => {
    try {
      for (const pod of (await core.listNamespacedPod({ namespace, labelSelector })).items) {
        for (const c of pod.status?.containerStatuses ?? []) {
          const key = `${pod.metadata?.name}/${c.name}/${c.restartCount}`
          if (followed.has(key) || (c.state?.running === undefined && c.state?.terminated === undefined)) continue
          followed.add(key)
          const child = spawn(kubectl, ['--kubeconfig', kubeconfig, 'logs', '-f', '-n', namespace, pod.metadata!.name!, '-c', c.name], { stdio: ['ignore', 'pipe', 'ignore'] })
          running.add(child)
          child.stdout!.on('data', (chunk: Buffer) => out.write(chunk))
          child.on('exit', () => running.delete(child))
        }
      }
    } catch { /* the API server busy or restarting: the next poll catches up */ }
    if (!stopped) timer = setTimeout(() => void poll(), 1000)
  }
  let timer = setTimeout(() => void poll(), 0)
  return {
    stop: () => {
      stopped = true
      clearTimeout(timer)
      for (const child of running) child.kill()
      out.end()
    },
  }
}
