// Room: src/core/annotations.ts, src/core/names.ts
import t from 'tap'
import { readWiring } from '../../src/core/annotations.ts'
import { limits } from '../../src/core/contract.ts'
import { InvalidAnnotation } from '../../src/core/errors.ts'

const key = 'secretwire.io/shared-secret'
const read = (value: string, containers?: string) =>
  readWiring([{ [key]: value, ...(containers !== undefined && { 'secretwire.io/containers': containers }) }])

t.test('entries parse to NAME, FORM and ENV_VAR', async (t) => {
  const raw = (sharedSecret: string, envVar: string) => ({ sharedSecret, form: 'raw', envVar })
  const cases: { value: string, entries: { sharedSecret: string, form: string, envVar: string }[] }[] = [
    { value: 'grafana-db', entries: [raw('grafana-db', 'GRAFANA_DB')] },
    { value: ' grafana-db = DB_PASSWORD ', entries: [raw('grafana-db', 'DB_PASSWORD')] },
    { value: 'a,b=B_PW,\n c', entries: [raw('a', 'A'), raw('b', 'B_PW'), raw('c', 'C')] },
    { value: 'a,,a=OTHER,', entries: [raw('a', 'A'), raw('a', 'OTHER')] },
    { value: `${'x'.repeat(52)}=X`, entries: [raw('x'.repeat(52), 'X')] },
    { value: 'grafana-db:raw', entries: [raw('grafana-db', 'GRAFANA_DB')] },
    { value: 'grafana-db:url', entries: [{ sharedSecret: 'grafana-db', form: 'url', envVar: 'GRAFANA_DB_URLENCODED' }] },
    { value: 'grafana-db : file', entries: [{ sharedSecret: 'grafana-db', form: 'file', envVar: 'GRAFANA_DB_FILE' }] },
    {
      value: 'db, db:url=DB_URL_PW, db:file=POSTGRES_PASSWORD_FILE',
      entries: [raw('db', 'DB'), { sharedSecret: 'db', form: 'url', envVar: 'DB_URL_PW' }, { sharedSecret: 'db', form: 'file', envVar: 'POSTGRES_PASSWORD_FILE' }],
    },
  ]
  for (const c of cases) t.same(read(c.value)?.entries, c.entries, JSON.stringify(c.value))
})

t.test('without the annotation there is nothing to wire', async (t) => {
  t.equal(readWiring([undefined, { other: 'x' }, null, 'not-an-object']), undefined)
  t.equal(readWiring([{ 'example.com/shared-secret': 'a' }]), undefined, 'another prefix is not secretwire\'s')
})

t.test('a workload and its template: the union of both counts', async (t) => {
  const wiring = readWiring([{ [key]: 'a, b' }, { [key]: 'b,c', 'secretwire.io/containers': 'x' }])
  t.same(wiring?.entries.map((e) => e.sharedSecret), ['a', 'b', 'c'])
  t.same(wiring?.containers, ['x'])
  t.same(wiring?.warnings, [], 'the same entry on both is no repeat')
})

t.test('a repeated entry is a warning, not an error', async (t) => {
  t.same(read('a, a')?.warnings, [`${key}: entry "a" is repeated`])
})

t.test('containers annotation', async (t) => {
  t.same(read('a', 'web, migrate ,web')?.containers, ['web', 'migrate'])
  t.equal(read('a')?.containers, undefined, 'default: every container')
})

t.test('bad values are denied naming the annotation and the value', async (t) => {
  const cases: { value: string, containers?: string, match: RegExp }[] = [
    { value: 'Grafana_DB', match: /^annotation secretwire\.io\/shared-secret: "Grafana_DB": "Grafana_DB" is not a valid NAME: it must be a DNS-1123 label/ },
    { value: 'ok, -bad', match: /"ok, -bad": "-bad" is not a valid NAME/ },
    { value: 'x'.repeat(53), match: /is not a valid NAME: it must be at most 52 characters/ },
    { value: 'db=1PASSWORD', match: /"db=1PASSWORD": "1PASSWORD" is not a valid ENV_VAR: it must be a C identifier/ },
    { value: 'db=', match: /"" is not a valid ENV_VAR/ },
    { value: 'db=A=B', match: /"A=B" is not a valid ENV_VAR/ },
    { value: '9lives', match: /the default env var "9LIVES" for "9lives" is not a C identifier: write 9lives=ENV_VAR/ },
    { value: ' , ', match: /^annotation secretwire\.io\/shared-secret: " , ": names no shared secret$/ },
    { value: 'a=PW, b=PW', match: /"a=PW, b=PW": env var PW would be set from both "a" and "b"/ },
    { value: 'a-b, a_b=A_B', match: /"a_b" is not a valid NAME/ },
    { value: 'a-b, c=A_B', match: /env var A_B would be set from both "a-b" and "c"/ },
    { value: 'db:URL', match: /"db:URL": "URL" in "db:URL" is not a FORM: write one of raw, url, file$/ },
    { value: 'db:', match: /"" in "db:" is not a FORM/ },
    { value: 'db:url:file', match: /"url:file" in "db:url:file" is not a FORM/ },
    { value: 'db:url=PW, db=PW', match: /env var PW would be set from both "db:url" and "db"/ },
    { value: '9lives:file', match: /the default env var "9LIVES_FILE" for "9lives:file" is not a C identifier: write 9lives:file=ENV_VAR/ },
    { value: 'a', containers: 'web,Bad_Name', match: /^annotation secretwire\.io\/containers: "web,Bad_Name": "Bad_Name" is not a container name$/ },
    { value: 'a', containers: ',', match: /^annotation secretwire\.io\/containers: ",": names no container$/ },
  ]
  for (const c of cases) {
    t.throws(() => read(c.value, c.containers), InvalidAnnotation, c.value)
    t.throws(() => read(c.value, c.containers), { message: c.match, code: 400 }, c.value)
  }
})

t.test('very long values are cut in messages', async (t) => {
  const value = `${'a,'.repeat(200)}BAD`
  const message = (() => {
    try {
      read(value)
      return ''
    } catch (err) {
      return (err as Error).message
    }
  })()
  t.match(message, /^annotation secretwire\.io\/shared-secret: "a,a,a,[a,]*…": "BAD" is not a valid NAME/)
  t.ok(message.length < 300, `${message.length} characters`)
})

t.test('limits: names per object and annotation length, denied naming the limit', async (t) => {
  const names = (n: number) => Array.from({ length: n }, (_, i) => `s${i}`).join(',')
  t.equal(read(names(limits.sharedSecretsPerObject))?.entries.length, limits.sharedSecretsPerObject, 'at the limit: wired')
  t.throws(() => read(names(limits.sharedSecretsPerObject + 1)), {
    code: 400, message: /^annotation secretwire\.io\/shared-secret: "s0,s1,.*": names 17 shared secrets; one object may name at most 16$/,
  })
  t.throws(() => read(names(1000)), {
    code: 400, message: /^annotation secretwire\.io\/shared-secret: "s0,s1,[^"]*…": is 4889 characters long; secretwire reads at most 2048$/,
  }, 'the 1,000-name annotation is refused at once')
  t.throws(() => read('a', `web,${'c'.repeat(2100)}`), {
    code: 400, message: /^annotation secretwire\.io\/containers: "web,c+…": is 2104 characters long; secretwire reads at most 2048$/,
  })
  // Repeats of one NAME (several env vars) count once.
  t.equal(read(Array.from({ length: 20 }, (_, i) => `db=V${i}`).join(','))?.entries.length, 20)
})

t.test('the secret annotation: NAME=SECRET (Opaque) or NAME:basic-auth:USERNAME=SECRET, each SECRET once', async (t) => {
  const named = (value: string, shared?: string) => readWiring([{ 'secretwire.io/secret': value, ...(shared !== undefined && { [key]: shared }) }])
  t.same(named('db=db-credentials')?.secrets, [{ sharedSecret: 'db', secret: 'db-credentials', shape: 'opaque' }])
  t.same(named(' app-db : basic-auth : app = cluster-app-user, db=x.y')?.secrets, [
    { sharedSecret: 'app-db', secret: 'cluster-app-user', shape: 'basic-auth', username: 'app' },
    { sharedSecret: 'db', secret: 'x.y', shape: 'opaque' },
  ])
  t.same(named('db=a')?.entries, [], 'no env var goes with it')
  t.same(named('db=a', 'db')?.entries.map((e) => e.envVar), ['DB'], 'beside the shared-secret annotation')
  t.same(named('db=a, db=a')?.secrets.length, 1, 'a repeated entry counts once')
  const bad: [string, RegExp][] = [
    ['db', /"db" names no Secret: write NAME=SECRET or NAME:basic-auth:USERNAME=SECRET/],
    ['DB=x', /"DB" is not a valid NAME/],
    ['db=Not_A_Name', /"Not_A_Name" is not a Secret name/],
    ['db=secretwire-db', /names starting with secretwire- are secretwire's own Secrets/],
    ['db:tls=x', /"db:tls": write NAME=SECRET, or NAME:basic-auth:USERNAME=SECRET/],
    ['db:basic-auth=x', /basic-auth needs a USERNAME/],
    ['db:basic-auth:a:b=x', /write NAME=SECRET, or NAME:basic-auth:USERNAME=SECRET/],
    ['db=x, other=x', /Secret x would be made both as "db=x" and as "other=x"/],
    [',', /names no Secret/],
  ]
  for (const [value, message] of bad) {
    t.throws(() => named(value), InvalidAnnotation, value)
    t.throws(() => named(value), { message: message, annotation: 'secretwire.io/secret', code: 400 }, value)
  }
  const many = Array.from({ length: limits.sharedSecretsPerObject + 1 }, (_, i) => `n${i}=s${i}`).join(',')
  t.throws(() => named(many), /one object may name at most/, 'NAMEs count toward the limit')
})
