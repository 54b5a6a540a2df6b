// Room: src/core/annotations.ts, src/core/names.ts
import t from 'tap'
import { readWiring } from '../../src/core/annotations.ts'
import { limits } from '../../src/core/contract.ts'
import { InvalidAnnotation } from '../../src/core/errors.ts'

const key = 'secretwire.io/shared-secret'
const read = (value: string, containers?: string) =>
  readWiring([{ [key]: value, ...(containers !== undefined && { 'secretwire.io/containers': containers }) }])

t.test('entries parse to NAME and ENV_VAR', async (t) => {
  const cases: { value: string, entries: { sharedSecret: string, envVar: string }[] }[] = [
    { value: 'grafana-db', entries: [{ sharedSecret: 'grafana-db', envVar: 'GRAFANA_DB' }] },
    { value: ' grafana-db = DB_PASSWORD ', entries: [{ sharedSecret: 'grafana-db', envVar: 'DB_PASSWORD' }] },
    {
      value: 'a,b=B_PW,\n c',
      entries: [{ sharedSecret: 'a', envVar: 'A' }, { sharedSecret: 'b', envVar: 'B_PW' }, { sharedSecret: 'c', envVar: 'C' }],
    },
    { value: 'a,,a=OTHER,', entries: [{ sharedSecret: 'a', envVar: 'A' }, { sharedSecret: 'a', envVar: 'OTHER' }] },
    { value: `${'x'.repeat(52)}=X`, entries: [{ sharedSecret: 'x'.repeat(52), envVar: 'X' }] },
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
