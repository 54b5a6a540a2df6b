// Room: tools/cluster/controlplane.ts, tools/go/controlplane/
// The launcher's promises: the API server can be stopped and started again over the same etcd (fault tests rely
// on it), and stopping the control plane leaves no process and no files behind; a launcher killed outright
// leaves its directory, and the next one removes it.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
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

t.test('a launcher killed outright leaves its directory; the next launcher removes it, and not what may be in use', async (t) => {
  // A TMPDIR of this test's own: the launcher sweeps $TMPDIR, and the run's other control planes are in the usual one.
  const parent = mkdtempSync(join(tmpdir(), 'secretwire-sweep-'))
  const saved = process.env.TMPDIR
  process.env.TMPDIR = parent
  t.teardown(() => {
    if (saved === undefined) delete process.env.TMPDIR
    else process.env.TMPDIR = saved
    rmSync(parent, { recursive: true, force: true })
  })

  const killed = await startControlPlane()
  t.equal(join(killed.info.dir, '..'), parent, 'its directory is in $TMPDIR')
  const launcher = Number(readFileSync(join(killed.info.dir, 'owner'), 'utf8').split(' ')[0])
  process.kill(launcher, 'SIGKILL')
  const deadline = Date.now() + 30_000
  while (alive(launcher) || alive(killed.info.apiserverPid) || alive(killed.info.etcdPid)) {
    if (Date.now() > deadline) throw new Error('the killed launcher or its servers still run after 30 s')
    await new Promise((r) => setTimeout(r, 100))
  }
  t.ok(existsSync(killed.info.dir), 'killed outright (SIGKILL), the launcher left its directory')

  // Made before owner files existed: one touched today, which may belong to a run still going, and one a day old.
  const recent = join(parent, 'secretwire-controlplane-recent')
  const old = join(parent, 'secretwire-controlplane-old')
  for (const dir of [recent, old]) mkdirSync(dir)
  const dayAgo = new Date(Date.now() - 25 * 3600_000)
  utimesSync(old, dayAgo, dayAgo)

  const next = await startControlPlane()
  t.teardown(() => next.stop())
  t.notOk(existsSync(killed.info.dir), 'the next launcher removed the killed run\'s directory')
  t.notOk(existsSync(old), 'and one with no owner, unchanged for a day')
  t.ok(existsSync(recent), 'but not one with no owner changed today')
  t.ok(existsSync(next.info.dir), 'nor its own')
  await next.stop()
  t.notOk(existsSync(next.info.dir), 'which it removes when stopped')
})
