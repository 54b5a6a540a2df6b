// Room: src/core/reconcileplan.ts, src/core/consumers.ts
// The reconciler's decision: recreate for live consumers the policy allows, collect after the grace period, never
// the generator or the stored password.
import t from 'tap'
import { parsePolicy } from '../../src/core/policy.ts'
import { reconcilePlan, syncStateOf, type ManagedExternalSecret, type ReconcileInput } from '../../src/core/reconcileplan.ts'
import { settings } from '../helpers/objects.ts'

const s = settings({ SECRETWIRE_CONFIG: 'p.yaml' }, { 'p.yaml': 'sharedSecrets:\n  db: { namespaces: ["team-*"] }\n  closed: { namespaces: [] }\n' })
const consumer = (namespace: string, name = 'web') => ({ kind: 'Deployment', namespace, name, uid: `${namespace}-${name}` })
const es = (namespace: string, sharedSecret = 'db'): ManagedExternalSecret => ({ namespace, sharedSecret, uid: `es-${namespace}`, state: 'synced' })
const input = (over: Partial<ReconcileInput>): ReconcileInput => ({
  consumers: new Map(), externalSecrets: [], existing: new Set(), unconsumedSince: new Map(), now: 1_000_000, graceMs: 60_000, settings: s, ...over,
})

t.test('a live consumer the policy allows: its objects, the storage ones included, are ensured', async (t) => {
  const p = reconcilePlan(input({ consumers: new Map([['team-a/db', [consumer('team-a')]]]) }))
  t.same(p.ensure.map((e) => e.key), ['team-a/db'])
  t.same(p.ensure[0]!.objects.map((o) => `${o.kind} ${o.metadata.namespace}/${o.metadata.name}`), [
    'Password eso-secret-storage/secretwire-db', 'ExternalSecret eso-secret-storage/secretwire-db', 'ExternalSecret team-a/secretwire-db',
  ])
  t.same(p.collect, [])
})

t.test('a consumer the policy no longer allows: nothing is recreated for it', async (t) => {
  const p = reconcilePlan(input({ consumers: new Map([['other/db', [consumer('other')]], ['team-a/closed', [consumer('team-a')]]]) }))
  t.same(p.ensure, [])
  t.same(p.refused.map((r) => r.key), ['other/db', 'team-a/closed'])
})

t.test('an ExternalSecret without consumers waits for the grace period, then goes; a returning consumer keeps it', async (t) => {
  const first = reconcilePlan(input({ externalSecrets: [es('team-a'), es('team-b')], consumers: new Map([['team-b/db', [consumer('team-b')]]]) }))
  t.same(first.collect, [], 'not before the grace period')
  t.same(first.waiting.map((w) => [w.externalSecret.namespace, w.collectAt]), [['team-a', 1_060_000]])
  t.same([...first.unconsumedSince], [['team-a/db', 1_000_000]], 'the clock starts when first seen unused')
  const later = reconcilePlan(input({ externalSecrets: [es('team-a')], unconsumedSince: first.unconsumedSince, now: 1_059_999 }))
  t.same(later.collect, [], 'still within it')
  const due = reconcilePlan(input({ externalSecrets: [es('team-a')], unconsumedSince: first.unconsumedSince, now: 1_060_000 }))
  t.same(due.collect.map((e) => e.namespace), ['team-a'], 'collected once it has passed')
  const back = reconcilePlan(input({ externalSecrets: [es('team-a')], unconsumedSince: first.unconsumedSince, now: 1_059_000, consumers: new Map([['team-a/db', [consumer('team-a')]]]) }))
  t.same(back.collect, [])
  t.same([...back.unconsumedSince], [], 'a consumer back within the grace period resets the clock')
})

t.test('the storage namespace\'s objects are never collected nor taken for consumers', async (t) => {
  const p = reconcilePlan(input({ consumers: new Map([['eso-secret-storage/db', [consumer('eso-secret-storage')]]]) }))
  t.same(p.ensure, [])
  t.same(p.refused, [])
})

t.test('a reloaded policy is used', async (t) => {
  s.policy.replace(parsePolicy('sharedSecrets:\n  db: { namespaces: [elsewhere] }\n', 'p.yaml'))
  t.same(reconcilePlan(input({ consumers: new Map([['team-a/db', [consumer('team-a')]]]) })).refused.map((r) => r.key), ['team-a/db'])
})

t.test('ESO\'s sync state, from its Ready condition', async (t) => {
  const ready = (status: string, reason?: string, message?: string) => ({ status: { conditions: [{ type: 'Ready', status, ...(reason && { reason }), ...(message && { message }) }] } })
  t.same(syncStateOf(ready('True', 'SecretSynced')), { state: 'synced' })
  t.same(syncStateOf(ready('False', 'SecretSyncedError', 'could not get secret data from provider')),
    { state: 'failed', detail: 'SecretSyncedError: could not get secret data from provider' }, 'an ExternalSecret\'s error')
  t.same(syncStateOf(ready('False', 'Errored', 'set secret failed')), { state: 'failed', detail: 'Errored: set secret failed' }, 'a PushSecret\'s error')
  t.same(syncStateOf(ready('False', 'SecretDeleted')), { state: 'pending', detail: 'SecretDeleted' }, 'not ready, not an error')
  t.same(syncStateOf({}), { state: 'pending', detail: 'no status from ESO yet' }, 'ESO has not looked yet')
  t.same(syncStateOf({ status: { conditions: [{ type: 'Deleted', status: 'True' }] } }), { state: 'pending', detail: 'no status from ESO yet' })
  // ESO v0.16's retry loop on the stored secret's immutable Secret (seen on this suite's clusters): the password is there.
  const immutable = ready('False', 'SecretSyncedError', 'could not update secret, target is immutable')
  t.match(syncStateOf(immutable, true), { state: 'synced', detail: 'unchanged (ESO generated again; the immutable Secret refused it)' }, 'the stored secret')
  t.equal(syncStateOf(immutable).state, 'failed', 'a consumer\'s ExternalSecret (never immutable): failed')
})

t.test('named Secrets: ensured for live consumers the policy allows, collected after the grace period when none is left', async (t) => {
  const entry = { sharedSecret: 'db', secret: 'app-user', shape: 'basic-auth' as const, username: 'app' }
  // Its own settings: an earlier test reloads the shared policy.
  const own = settings({ SECRETWIRE_CONFIG: 'p.yaml' }, { 'p.yaml': 'sharedSecrets:\n  db: { namespaces: ["team-*"] }\n' })
  const input = (over: Partial<ReconcileInput>): ReconcileInput => ({
    consumers: new Map(), externalSecrets: [], existing: new Set(), unconsumedSince: new Map(), now: 1_000_000, graceMs: 60_000, settings: own, ...over,
  })
  const named = new Map([['team-a/db:basic-auth:app=app-user', { entry, consumers: [consumer('team-a')] }]])
  const p = reconcilePlan(input({ named }))
  t.same(p.ensure.map((e) => e.key), ['team-a/db:basic-auth:app=app-user'])
  t.same(p.ensure[0]!.objects.map((o) => `${o.kind} ${o.metadata.namespace}/${o.metadata.name}`), [
    'Password eso-secret-storage/secretwire-db', 'ExternalSecret eso-secret-storage/secretwire-db', 'ExternalSecret team-a/app-user',
  ], 'its own ExternalSecret, not secretwire-db')
  const existing = new Set(['Password eso-secret-storage/secretwire-db', 'ExternalSecret eso-secret-storage/secretwire-db', 'ExternalSecret team-a/app-user'])
  t.same(reconcilePlan(input({ named, existing })).ensure, [], 'nothing when all is there')
  t.same(reconcilePlan(input({ named: new Map([['other/db=x', { entry: { sharedSecret: 'db', secret: 'x', shape: 'opaque' }, consumers: [consumer('other')] }]]) })).refused.map((r) => r.key),
    ['other/db=x'], 'the policy counts as for env vars')
  const made: ManagedExternalSecret = { namespace: 'team-a', sharedSecret: 'db', entry: 'db:basic-auth:app=app-user', uid: 'es-named', state: 'synced' }
  t.same(reconcilePlan(input({ externalSecrets: [made], named })).waiting, [], 'consumed: kept')
  const unused = reconcilePlan(input({ externalSecrets: [made], consumers: new Map([['team-a/db', [consumer('team-a')]]]) }))
  t.same(unused.waiting.map((w) => w.externalSecret.uid), ['es-named'], 'a consumer of secretwire-db does not keep a named Secret alive')
  t.same(reconcilePlan(input({ externalSecrets: [made], unconsumedSince: unused.unconsumedSince, now: 1_060_000 })).collect.map((e) => e.uid), ['es-named'])
})

t.test('the consumer index reads the named Secrets written at admission', async (t) => {
  const { ConsumerIndex } = await import('../../src/core/consumers.ts')
  const index = new ConsumerIndex()
  index.apply('Deployment', { name: 'web', namespace: 'team-a', uid: 'u1', annotations: { 'secretwire.io/secrets': 'db:basic-auth:app=app-user,db=creds' } }, false)
  index.apply('Pod', { name: 'p', namespace: 'team-a', uid: 'u2', annotations: { 'secretwire.io/consumes': 'db', 'secretwire.io/secrets': 'db=creds' } }, false)
  t.same([...index.namedSecrets()].map(([k, v]) => [k, v.consumers.map((c) => c.name)]), [
    ['team-a/db:basic-auth:app=app-user', ['web']], ['team-a/db=creds', ['web', 'p']],
  ])
  t.same([...index.byNamespaceAndName().keys()], ['team-a/db'], 'only the Pod consumes secretwire-db')
  index.apply('Deployment', { name: 'web', namespace: 'team-a', uid: 'u1' }, true)
  t.same([...index.namedSecrets().keys()], ['team-a/db=creds'])
})
