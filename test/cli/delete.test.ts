// Room: src/cli/delete.ts
// What `secretwire delete NAME` deletes, and when it refuses, pure. (test/e2e/isolation.test.ts runs it on a real
// cluster as break-glass, a cluster admin and a tenant.)
import t from 'tap'
import { deletionPlan } from '../../src/cli/delete.ts'
import type { SharedSecretStatus, Status } from '../../src/cli/status.ts'

const storage = 'eso-secret-storage'
const db = (over: Partial<SharedSecretStatus> = {}): SharedSecretStatus => ({
  name: 'db', generator: true, stored: { kind: 'ExternalSecret', namespace: storage, name: 'secretwire-db', state: 'synced' },
  namespaces: [{ namespace: 'team-a', secret: 'secretwire-db', consumers: [], next: undefined, problem: undefined, externalSecret: { kind: 'ExternalSecret', namespace: 'team-a', name: 'secretwire-db', state: 'synced' } }],
  problem: undefined,
  ...over,
})
const status = (sharedSecrets: SharedSecretStatus[], unreadable: string[] = []): Status => ({ sharedSecrets, failing: false, unreadable })

t.test('nothing names it: the copies first, then the stored object, the generator and the stored Secret', async (t) => {
  t.same(deletionPlan('db', status([db()]), storage), { deletions: [
    { kind: 'ExternalSecret', namespace: 'team-a', name: 'secretwire-db' },
    { kind: 'ExternalSecret', namespace: storage, name: 'secretwire-db' },
    { kind: 'Password', namespace: storage, name: 'secretwire-db' },
    { kind: 'Secret', namespace: storage, name: 'secretwire-db' },
  ] })
  const pushed = deletionPlan('db', status([db({ stored: { kind: 'PushSecret', namespace: storage, name: 'secretwire-db', state: 'synced' } })]), storage)
  t.same('deletions' in pushed && pushed.deletions[1], { kind: 'PushSecret', namespace: storage, name: 'secretwire-db' }, 'the push strategy\'s PushSecret')
})

t.test('refused while anything names it, saying what', async (t) => {
  const named = db({ namespaces: [{ namespace: 'team-a', secret: 'secretwire-db', consumers: ['Deployment/app', 'Pod/app-1'], next: undefined, problem: 'no ExternalSecret: the consumers have no Secret to read', externalSecret: undefined }] })
  t.same(deletionPlan('db', status([named]), storage),
    { refused: 'shared secret db is still named by team-a/Deployment/app, team-a/Pod/app-1: remove the annotation from those first (their next Pods would get a new password)' })
})

t.test('refused when the caller cannot see every consumer', async (t) => {
  t.match(deletionPlan('db', status([db()], ['Pods (403)']), storage), { refused: /^cannot see every consumer with your rights \(Pods \(403\)\)/ })
})

t.test('an unknown NAME: only the stored Secret, by name, in case it outlived its objects', async (t) => {
  t.same(deletionPlan('other', status([db()]), storage), { deletions: [{ kind: 'Secret', namespace: storage, name: 'secretwire-other' }] })
})
