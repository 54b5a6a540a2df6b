// Room: src/core/contract.ts (passwordForms), src/core/esoobjects.ts (the consumer ExternalSecret's template)
// Every documented form of the password, through real parsers, over many passwords of the default shape: ESO's own
// Password generator and template engine make them (tools/go/eso/cmd/passwordforms, built with ESO), and the URL
// is the one examples/grafana.yaml and the README write. Parsers: Go's net/url (in the fixture), Node's URL, and
// libpq (psql, logging in to a real PostgreSQL on loopback) for the url form in that URL and the raw form in PGPASSWORD.
// The file form is the raw value written to a file (the node test reads it in a container, PostgreSQL initdb too).
import { execFile, spawn, spawnSync } from 'node:child_process'
import { chownSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { parse } from 'yaml'
import { defaultPassword, passwordForms } from '../../src/core/contract.ts'
import { consumerExternalSecret, storageObjects, type EsoSettings } from '../../src/core/esoobjects.ts'
import { passwordFormsFixture } from '../../tools/build/builds.ts'
import { repoRoot } from '../../tools/paths.ts'

const settings: EsoSettings = { storageNamespace: 'eso-secret-storage', clusterSecretStore: 'secretwire', strategy: 'generate' }
const count = 200

// The URL as the example writes it; {password-url} stands where the kubelet expands $(GRAFANA_DB_URLENCODED).
const grafana = parse(readFileSync(join(repoRoot, 'examples', 'grafana.yaml'), 'utf8'))
const exampleUrl: string = grafana.spec.template.spec.containers[0].env.find((e: { name: string }) => e.name === 'GF_DATABASE_URL').value
const urlPattern = exampleUrl.replace('$(GRAFANA_DB_URLENCODED)', `{${passwordForms.url.key}}`)

interface Rendered { password: string, rendered: Record<string, string>, url: string, goUserinfo: string, goError: string }

const generator = storageObjects('grafana-db', defaultPassword, settings).find((o) => o.kind === 'Password')!
const template = (consumerExternalSecret('grafana-db', 'grafana', settings).spec as { target: { template: { data: Record<string, string> } } }).target.template.data
const { stdout } = await promisify(execFile)(await passwordFormsFixture(), ['-n', String(count), '-generator', JSON.stringify({ spec: generator.spec }),
  '-template', JSON.stringify(template), '-url', urlPattern], { maxBuffer: 16 << 20 })
const lines = stdout.trim().split('\n').map((l) => JSON.parse(l) as Rendered)

t.test(`${count} passwords of the default shape, rendered by ESO as the consumer ExternalSecret renders them`, async (t) => {
  t.equal(lines.length, count)
  t.equal(exampleUrl, 'postgres://grafana:$(GRAFANA_DB_URLENCODED)@postgres.db:5432/grafana', 'the URL of examples/grafana.yaml and the README')
  const held = new Set(lines.flatMap((l) => [...l.password].filter((c) => defaultPassword.symbolCharacters.includes(c))))
  t.same([...held].sort(), [...defaultPassword.symbolCharacters].sort(), `among them, passwords with each of ${defaultPassword.symbolCharacters}`)
  t.same(lines.filter((l) => l.rendered[passwordForms.raw.key] !== l.password).length, 0, 'raw and file form: key password is the generated password, byte for byte')
  t.same(lines.filter((l) => !/^[A-Za-z0-9\-_.~%]+$/.test(l.rendered[passwordForms.url.key]!)).map((l) => l.rendered[passwordForms.url.key]), [],
    'url form: nothing but unreserved characters and percent-escapes')
})

t.test('url form in the example\'s URL: Go\'s net/url and Node\'s URL give back every password', async (t) => {
  t.same(lines.filter((l) => l.goError !== '' || l.goUserinfo !== l.password).map((l) => `${l.url}: ${l.goError || l.goUserinfo}`), [], 'Go net/url: User.Password() is the password')
  const node = lines.filter((l) => {
    const u = new URL(l.url)
    return decodeURIComponent(u.password) !== l.password || u.username !== 'grafana' || u.hostname !== 'postgres.db' || u.port !== '5432' || u.pathname !== '/grafana'
  })
  t.same(node.map((l) => l.url), [], 'Node URL: the password (decoded), user, host, port and database as written')
})

t.test('libpq (psql) logs in to a real PostgreSQL with the url form in the example\'s URL and with the raw form in PGPASSWORD', async (t) => {
  const bin = '/usr/lib/postgresql/15/bin'
  // PostgreSQL refuses to run as root: the server runs as the postgres user Debian's package made.
  const id = (flag: string) => Number(spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' }).stdout.trim())
  const postgresUser = { uid: id('-u'), gid: id('-g') }
  const dir = mkdtempSync(join(tmpdir(), 'secretwire-libpq-'))
  chownSync(dir, postgresUser.uid, postgresUser.gid)
  const superPassword = 'superuser1'
  writeFileSync(join(dir, 'pw'), superPassword)
  const init = spawnSync(join(bin, 'initdb'), ['-D', join(dir, 'data'), '--auth=scram-sha-256', '-U', 'postgres', `--pwfile=${join(dir, 'pw')}`, '--locale=C'],
    { encoding: 'utf8', ...postgresUser })
  if (!t.equal(init.status, 0, `initdb ${init.stderr}`)) return
  const port = 20_000 + (process.pid % 20_000)
  const server = spawn(join(bin, 'postgres'), ['-D', join(dir, 'data'), '-k', dir, '-c', 'listen_addresses=127.0.0.1', '-p', String(port)], { stdio: 'ignore', ...postgresUser })
  const exited = new Promise((r) => server.once('exit', r))
  t.teardown(async () => { server.kill('SIGINT'); await exited; rmSync(dir, { recursive: true, force: true }) })
  // Every connection goes to loopback, whatever host the URL names: with hostaddr set libpq looks no name up. The
  // URL's port becomes this server's (the only change to it).
  const env = { ...process.env, PGHOSTADDR: '127.0.0.1', PGPORT: String(port), PGCONNECT_TIMEOUT: '5' }
  const psql = (args: string[], input?: string, extra: Record<string, string> = {}) =>
    spawnSync(join(bin, 'psql'), ['-X', '-w', '-q', '-t', '-A', ...args], { input, encoding: 'utf8', env: { ...env, ...extra } })
  const superuserUrl = `postgresql://postgres:${superPassword}@localhost:${port}/postgres`
  const superuser = ['-d', superuserUrl]
  for (let i = 0; psql([...superuser, '-c', 'select 1']).status !== 0; i++) {
    if (i > 100) { t.fail('PostgreSQL did not start'); return }
    await new Promise((r) => setTimeout(r, 100))
  }
  const literal = (s: string) => `'${s.replaceAll("'", "''")}'`
  psql(superuser, `CREATE ROLE grafana LOGIN; CREATE DATABASE grafana OWNER grafana;\n${lines.map((l, i) => `CREATE ROLE raw${i} LOGIN PASSWORD ${literal(l.password)};`).join('\n')}`)

  // One psql session: set grafana's password to each in turn, then \connect with the example's URL and ask who it is.
  // A failed \connect keeps the superuser's session, which answers as postgres.
  const script = lines.map((l, i) => [
    `\\connect ${superuserUrl}`,
    `ALTER ROLE grafana PASSWORD ${literal(l.password)};`,
    `\\connect ${l.url.replace(':5432/', `:${port}/`)}`,
    `SELECT '${i} ' || current_user || ' ' || current_database();`,
  ].join('\n')).join('\n')
  const byUrl = psql(superuser, script)
  const answered = byUrl.stdout.trim().split('\n')
  t.same(lines.map((_, i) => answered[i]).filter((a, i) => a !== `${i} grafana grafana`), [],
    `all ${count} logins with postgres://grafana:$(GRAFANA_DB_URLENCODED)@postgres.db:5432/grafana as grafana${byUrl.stderr.trim() ? `: ${byUrl.stderr.slice(0, 500)}` : ''}`)

  const raw = lines.map((l, i) => psql(['-U', `raw${i}`, '-d', 'grafana', '-c', 'select current_user'], undefined, { PGPASSWORD: l.password }))
  t.same(raw.map((r, i) => r.stdout.trim() === `raw${i}` ? '' : `raw${i}: ${r.stderr.trim()}`).filter(Boolean), [], `all ${count} logins with the raw form in PGPASSWORD`)

  // The control: the raw password in the same URL, as the README had it, fails wherever it holds an @. One whose
  // first @ is not its first character: libpq then sends a wrong password (or host); with an @ first it sends none
  // ("no password supplied"), a failure for the same reason but not the one asserted below.
  const withAt = lines.find((l) => l.password.indexOf('@') > 0)!
  const rawUrl = exampleUrl.replace('$(GRAFANA_DB_URLENCODED)', withAt.password).replace(':5432/', `:${port}/`)
  psql(superuser, `ALTER ROLE grafana PASSWORD ${literal(withAt.password)};`)
  const broken = psql([rawUrl, '-c', 'select current_user'])
  t.not(broken.status, 0, 'control: the raw password (with an @) in the URL does not log in')
  t.match(broken.stderr, /could not translate host name|password authentication failed|invalid/, `libpq split the URL at the password's @ (${broken.stderr.trim().split('\n')[0]})`)
})
