// Room: src/cli/status.ts
// The status model and table, pure: from the objects `secretwire status` reads to what it prints, and when it
// calls the cluster failing. (test/e2e/reconcile.test.ts runs the command on a real cluster with a broken store.)
import t from 'tap'
import { parsePolicy } from '../../src/core/policy.ts'
import { statusModel, statusTable, type StatusInput } from '../../src/cli/status.ts'

const storage = 'eso-secret-storage'
const labelled = (namespace: string, name: string, ready?: { status: string, reason?: string, message?: string }) => ({
  metadata: { namespace, name: `secretwire-${name}`, labels: { 'app.kubernetes.io/managed-by': 'secretwire', 'secretwire.io/shared-secret': name } },
  ...(ready && { status: { conditions: [{ type: 'Ready', ...ready }] } }),
})
const synced = { status: 'True', reason: 'SecretSynced' }
const input = (over: Partial<StatusInput>): StatusInput => ({
  passwords: [labelled(storage, 'db')], pushSecrets: [], externalSecrets: [labelled(storage, 'db', synced), labelled('team-a', 'db', synced)],
  consumers: [{ kind: 'Deployment', namespace: 'team-a', name: 'app', names: ['db'] }], policy: undefined, storageNamespace: storage, ...over,
})

t.test('all synced: one row per shared secret and namespace, not failing', async (t) => {
  const s = statusModel(input({}))
  t.equal(s.failing, false)
  t.same(s.sharedSecrets, [{
    name: 'db', generator: true,
    stored: { kind: 'ExternalSecret', namespace: storage, name: 'secretwire-db', state: 'synced' },
    namespaces: [{ namespace: 'team-a', consumers: ['Deployment/app'], next: undefined,
      externalSecret: { kind: 'ExternalSecret', namespace: 'team-a', name: 'secretwire-db', state: 'synced' } }],
  }])
  const table = statusTable({ ...s, unreadable: [] })
  t.match(table, /^SHARED SECRET\s+NAMESPACE\s+CONSUMERS\s+ESO\s+NEXT\n/)
  t.match(table, /\ndb\s+\(stored\)\s+generator present\s+ExternalSecret synced\n\s+team-a\s+Deployment\/app\s+synced\s+-\n/)
  t.match(table, /\nok\n$/)
})

t.test('ESO failing in a namespace: failing, with ESO\'s words', async (t) => {
  const s = statusModel(input({ externalSecrets: [labelled(storage, 'db', synced), labelled('team-a', 'db', { status: 'False', reason: 'SecretSyncedError', message: 'store not ready' })] }))
  t.equal(s.failing, true)
  t.match(statusTable({ ...s, unreadable: [] }), /team-a\s+Deployment\/app\s+failed: SecretSyncedError: store not ready[\s\S]*FAILING/)
})

t.test('a consumer without its ExternalSecret: failing, and the reconciler creates it', async (t) => {
  const s = statusModel(input({ externalSecrets: [labelled(storage, 'db', synced)] }))
  t.equal(s.failing, true)
  t.same(s.sharedSecrets[0]?.namespaces[0], { namespace: 'team-a', consumers: ['Deployment/app'], externalSecret: undefined, next: 'create the ExternalSecret' })
})

t.test('an ExternalSecret without consumers: waiting for the grace period, not failing', async (t) => {
  const s = statusModel(input({ consumers: [] }))
  t.equal(s.failing, false)
  t.match(s.sharedSecrets[0]?.namespaces[0], { namespace: 'team-a', consumers: [], next: /^delete the ExternalSecret/ })
})

t.test('a consumer the policy no longer allows: failing, nothing recreated', async (t) => {
  const s = statusModel(input({ policy: parsePolicy('sharedSecrets:\n  db: { namespaces: [team-b] }\n', 'p.yaml') }))
  t.equal(s.failing, true)
  t.match(s.sharedSecrets[0]?.namespaces[0]?.next, /policy no longer allows/)
})

t.test('what the caller could not read is said, and a pending store is not failing', async (t) => {
  const s = statusModel(input({ externalSecrets: [labelled(storage, 'db'), labelled('team-a', 'db', synced)] }))
  t.equal(s.failing, false)
  const table = statusTable({ ...s, unreadable: ['Pods (403)'] })
  t.match(table, /ExternalSecret pending: no status from ESO yet/)
  t.match(table, /not readable with your rights: Pods \(403\)/)
})
