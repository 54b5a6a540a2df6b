// Room: src/cli/status.ts
// The status model and table, pure: from the objects `secretwire status` reads to what it prints, and when it
// calls the cluster failing. (test/e2e/reconcile.test.ts runs the command on a real cluster with a broken store.)
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { parsePolicy } from '../../src/core/policy.ts'
import { repoRoot } from '../../tools/paths.ts'
import { scoped, statusModel, statusTable, type StatusInput } from '../../src/cli/status.ts'

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
    namespaces: [{ namespace: 'team-a', secret: 'secretwire-db', consumers: ['Deployment/app'], next: undefined, problem: undefined,
      externalSecret: { kind: 'ExternalSecret', namespace: 'team-a', name: 'secretwire-db', state: 'synced' } }],
    problem: undefined,
  }])
  const table = statusTable({ ...s, unreadable: [] })
  t.match(table, /^SHARED SECRET\s+NAMESPACE\s+CONSUMERS\s+ESO\s+NEXT\n/)
  t.match(table, /\ndb\s+\(stored\)\s+generator present\s+ExternalSecret synced\n\s+team-a\s+Deployment\/app\s+synced\s+-\n/)
  t.match(table, /\nok\n$/)
})

t.test('ESO failing in a namespace: failing, with ESO\'s words', async (t) => {
  const s = statusModel(input({ externalSecrets: [labelled(storage, 'db', synced), labelled('team-a', 'db', { status: 'False', reason: 'SecretSyncedError', message: 'store not ready' })] }))
  t.equal(s.failing, true)
  t.match(statusTable({ ...s, unreadable: [] }), /team-a\s+Deployment\/app\s+failed: SecretSyncedError: store not ready[\s\S]*\nFAILING:\n  db in team-a: ESO cannot sync the ExternalSecret: SecretSyncedError: store not ready\n$/)
})

t.test('a consumer without its ExternalSecret: failing, and the reconciler creates it', async (t) => {
  const s = statusModel(input({ externalSecrets: [labelled(storage, 'db', synced)] }))
  t.equal(s.failing, true)
  t.same(s.sharedSecrets[0]?.namespaces[0], { namespace: 'team-a', secret: 'secretwire-db', consumers: ['Deployment/app'], externalSecret: undefined, next: 'create the ExternalSecret', problem: 'no ExternalSecret: the consumers have no Secret to read' })
})

t.test('an ExternalSecret without consumers: waiting for the grace period, not failing', async (t) => {
  const s = statusModel(input({ consumers: [] }))
  t.equal(s.failing, false)
  t.match(s.sharedSecrets[0]?.namespaces[0], { namespace: 'team-a', consumers: [], next: /^delete the ExternalSecret/ })
})

t.test('a consumer the policy no longer allows: failing, nothing recreated', async (t) => {
  const s = statusModel(input({ policy: parsePolicy('sharedSecrets:\n  db: { namespaces: [team-b] }\n', 'p.yaml') }))
  t.equal(s.failing, true)
  t.match(s.sharedSecrets[0]?.namespaces[0]?.next, /policy does not allow this NAME here/)
  t.equal(s.sharedSecrets[0]?.namespaces[0]?.problem, 'the policy does not allow db in team-a')
})

t.test('what the caller could not read is said, and a pending store is not failing', async (t) => {
  const s = statusModel(input({ externalSecrets: [labelled(storage, 'db'), labelled('team-a', 'db', synced)] }))
  t.equal(s.failing, false)
  const table = statusTable({ ...s, unreadable: ['Pods (403)'] })
  t.match(table, /ExternalSecret pending: no status from ESO yet/)
  t.match(table, /not readable with your rights: Pods \(403\)/)
})

t.test('the stored password failing: said on the NAME\'s own line of the summary', async (t) => {
  const s = statusModel(input({ externalSecrets: [labelled(storage, 'db', { status: 'False', reason: 'SecretSyncedError', message: 'generator gone' }), labelled('team-a', 'db', synced)] }))
  t.equal(s.failing, true)
  t.equal(s.sharedSecrets[0]?.problem, 'ESO cannot sync the stored password: SecretSyncedError: generator gone')
  t.match(statusTable({ ...s, unreadable: [] }), /\nFAILING:\n  db: ESO cannot sync the stored password: SecretSyncedError: generator gone\n$/)
})

t.test('scoped to a NAME or a namespace: only those rows, and failing only for what is shown', async (t) => {
  const s = statusModel(input({
    externalSecrets: [labelled(storage, 'db', synced), labelled('team-a', 'db', synced), labelled(storage, 'cache', synced)],
    consumers: [{ kind: 'Deployment', namespace: 'team-a', name: 'app', names: ['db', 'cache'] }, { kind: 'Pod', namespace: 'team-b', name: 'p', names: ['db'] }],
  }))
  t.equal(s.failing, true, 'cache has no ExternalSecret in team-a, db none in team-b')
  t.same(scoped(s, {}), s, 'no scope: all')
  const db = scoped(s, { name: 'db' })
  t.same(db.sharedSecrets.map((x) => [x.name, x.namespaces.map((n) => n.namespace)]), [['db', ['team-a', 'team-b']]])
  t.equal(db.failing, true)
  const dbInA = scoped(s, { name: 'db', namespace: 'team-a' })
  t.same(dbInA.sharedSecrets.map((x) => [x.name, x.namespaces.map((n) => n.namespace)]), [['db', ['team-a']]])
  t.equal(dbInA.failing, false, 'db in team-a is healthy')
  t.same(scoped(s, { namespace: 'team-b' }).sharedSecrets.map((x) => x.name), ['db'], 'a namespace: the NAMEs consumed there')
  t.same(scoped(s, { name: 'nope' }), { sharedSecrets: [], failing: false })
})

t.test('-o json: the documented schema (docs/operations.md#status-output), every field with its type', async (t) => {
  const s = statusModel(input({
    externalSecrets: [labelled(storage, 'db', { status: 'False', reason: 'SecretSyncedError', message: 'gone' }), labelled('team-a', 'db', { status: 'False', reason: 'SecretSyncedError', message: 'y' })],
  }))
  const doc = JSON.parse(JSON.stringify({ ...s, unreadable: ['Pods (403)'] })) as Record<string, unknown>
  const type = (v: unknown) => Array.isArray(v) ? 'array' : typeof v
  const shape = (o: unknown) => Object.fromEntries(Object.entries(o as Record<string, unknown>).map(([k, v]) => [k, type(v)]))
  const object = { kind: 'string', namespace: 'string', name: 'string', state: 'string', detail: 'string' }
  t.same(shape(doc), { sharedSecrets: 'array', failing: 'boolean', unreadable: 'array' })
  const secret = (doc.sharedSecrets as Record<string, unknown>[])[0]!
  t.same(shape(secret), { name: 'string', generator: 'boolean', stored: 'object', namespaces: 'array', problem: 'string' })
  t.same(shape(secret.stored), object)
  const namespace = (secret.namespaces as Record<string, unknown>[])[0]!
  t.same(shape(namespace), { namespace: 'string', secret: 'string', externalSecret: 'object', consumers: 'array', problem: 'string' }, '`next` absent: nothing to do')
  t.same(shape(namespace.externalSecret), object)
  t.ok(['synced', 'pending', 'failed'].includes((secret.stored as { state: string }).state))
  // Each field is in the docs' table.
  const docs = readFileSync(join(repoRoot, 'docs', 'operations.md'), 'utf8')
  const section = docs.slice(docs.indexOf('### Status output'), docs.indexOf('On ESO before 0.19.1'))
  for (const field of ['failing', 'unreadable', 'sharedSecrets[]', '.name', '.generator', '.stored', '.problem', '.namespaces[]', 'namespace', 'secret', 'consumers', 'externalSecret', 'next', 'problem', 'kind', 'state', 'detail']) {
    t.ok(section.includes(`\`${field}\``), `docs/operations.md#status-output documents \`${field}\``)
  }
})
