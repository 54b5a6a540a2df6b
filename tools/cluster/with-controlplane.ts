// `tsx tools/cluster/with-controlplane.ts [-- command args...]`: starts the local control plane, runs the command
// with SECRETWIRE_TEST_KUBECONFIG pointing at it and exits with the command's status, stopping the control plane
// on the way out. Without a command it keeps the control plane up until Ctrl-C.
import { spawn } from 'node:child_process'
import { startControlPlane } from './controlplane.ts'
import { selectedKubernetes } from '../build/builds.ts'
import { offlineEnv, prepare } from '../build/needs.ts'

const separator = process.argv.indexOf('--')
const command = separator === -1 ? [] : process.argv.slice(separator + 1)

const started = Date.now()
const run = command.length > 0 ? 'tests' : 'controlplane'
let controlPlane
try {
  // Everything the tests use (ESO's controller, Helm, the modules whose files they read) is fetched and built
  // here, first; the tests run offline.
  await prepare([run])
  controlPlane = await startControlPlane()
} catch (err) {
  process.stderr.write(`[secretwire] ${(err as Error).message}\n`)
  process.exit(1)
}
const { info } = controlPlane
process.stderr.write(`[secretwire] Kubernetes ${selectedKubernetes()} control plane ready at ${info.server} in ${Date.now() - started} ms ` +
  `(servers ${info.readyMillis} ms); kubeconfig: ${info.kubeconfig}\n`)

let status = 0
if (command.length === 0) {
  process.stderr.write('[secretwire] press Ctrl-C to stop\n')
  await new Promise<void>((res) => { process.once('SIGINT', res); process.once('SIGTERM', res) })
} else {
  const child = spawn(command[0]!, command.slice(1), {
    stdio: 'inherit',
    env: { ...process.env, ...offlineEnv(run), SECRETWIRE_TEST_KUBECONFIG: info.kubeconfig },
  })
  const forward = (signal: NodeJS.Signals) => child.kill(signal)
  process.on('SIGINT', forward).on('SIGTERM', forward)
  status = await new Promise<number>((res) => child.on('exit', (code, signal) => res(code ?? (signal ? 1 : 0))))
}
await controlPlane.stop()
process.exit(status)
