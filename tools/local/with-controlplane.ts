// `tsx tools/local/with-controlplane.ts [-- command args...]`: starts the local control plane, runs the command
// with SECRETWIRE_TEST_KUBECONFIG pointing at it and exits with the command's status, stopping the control plane
// on the way out. Without a command it keeps the control plane up until Ctrl-C.
import { spawn } from 'node:child_process'
import { selectedKubernetes, startControlPlane } from './controlplane.ts'
import { buildEso } from './eso.ts'
import { buildHelm } from './helm.ts'

const separator = process.argv.indexOf('--')
const command = separator === -1 ? [] : process.argv.slice(separator + 1)

const started = Date.now()
let controlPlane
try {
  // ESO's controller and Helm too, so no test file compiles them while others run (the end-to-end tests start
  // ESO; test/chart.test.ts runs Helm).
  ;[controlPlane] = await Promise.all([startControlPlane(), command.length > 0 ? buildEso() : undefined, command.length > 0 ? buildHelm() : undefined])
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
    env: { ...process.env, SECRETWIRE_TEST_KUBECONFIG: info.kubeconfig },
  })
  const forward = (signal: NodeJS.Signals) => child.kill(signal)
  process.on('SIGINT', forward).on('SIGTERM', forward)
  status = await new Promise<number>((res) => child.on('exit', (code, signal) => res(code ?? (signal ? 1 : 0))))
}
await controlPlane.stop()
process.exit(status)
