// Room: tools/cluster/controlplane.ts, tools/go/controlplane/
// The launcher's promises: the API server can be stopped and started again over the same etcd (fault tests rely
// on it), and stopping the control plane leaves no process and no files behind.
import { existsSync } from 'node:fs'
import { CoreV1Api } from '@kubernetes/client-node'
import t from 'tap'
import { startControlPlane } from '../../../tools/cluster/controlplane.ts'

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

t.test('API server restart keeps the data; stop leaves nothing behind', async (t) => {
  const cp = await startControlPlane()
  const { apiserverPid, etcdPid, dir } = cp.info
  t.ok(alive(apiserverPid) && alive(etcdPid), 'both servers run')
  const core = cp.kubeConfig().makeApiClient(CoreV1Api)
  await core.createNamespace({ body: { metadata: { name: 'survives-restart' } } })

  await cp.command('stop-apiserver')
  t.notOk(alive(apiserverPid), 'the API server process is gone')
  await t.rejects(core.readNamespace({ name: 'survives-restart' }), { code: 'ECONNREFUSED' })

  await cp.command('start-apiserver')
  const ns = await core.readNamespace({ name: 'survives-restart' })
  t.equal(ns.metadata?.name, 'survives-restart', 'etcd kept the namespace across the restart')

  await t.rejects(cp.command('start-apiserver'), /already running/)

  await cp.stop()
  t.notOk(alive(etcdPid), 'etcd stopped')
  t.notOk(existsSync(dir), 'working directory removed')
})
