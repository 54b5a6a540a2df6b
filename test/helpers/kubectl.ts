// The kubectl built with the control plane (kustomize included), run against a given kubeconfig.
import { spawnSync } from 'node:child_process'
import { kubectlPath } from '../../tools/build/builds.ts'

export interface Kubectl {
  (args: readonly string[], input?: string): { status: number | null, stdout: string, stderr: string }
}

export async function kubectl(kubeconfig: string): Promise<Kubectl> {
  const bin = await kubectlPath()
  return (args, input) => {
    const res = spawnSync(bin, ['--kubeconfig', kubeconfig, ...args], { input, encoding: 'utf8' })
    return { status: res.status, stdout: res.stdout, stderr: res.stderr }
  }
}
