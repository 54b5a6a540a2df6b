// Room: src/cli/main.ts, src/cli/commands.ts
// `secretwire render` as a user runs it: YAML in, YAML out, the webhook's denial and a non-zero exit on bad input.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { parseAllDocuments } from 'yaml'
import { commands } from '../../src/cli/commands.ts'
import { repoRoot } from '../../tools/paths.ts'
import { cli } from '../helpers/cli.ts'

t.test('render prints the mutated manifest and the ESO objects', async (t) => {
  const res = cli(['render', '-f', 'examples/grafana.yaml'])
  t.equal(res.status, 0, res.stderr)
  const docs = parseAllDocuments(res.stdout).map((d) => d.toJS() as { kind: string, spec: Record<string, unknown> })
  t.same(docs.map((d) => d.kind), ['Deployment', 'Password', 'ExternalSecret', 'ExternalSecret'])
  t.match(res.stdout, /^# secretwire render: /)
  t.match(docs[0], { spec: { template: { spec: { containers: [{ env: [{ name: 'GRAFANA_DB', valueFrom: { secretKeyRef: { name: 'secretwire-grafana-db', key: 'password' } } }, { name: 'GF_DATABASE_URL' }] }] } } } })
})

t.test('settings come from the same environment variables as the webhook', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'secretwire-cli-'))
  writeFileSync(join(dir, 'policy.yaml'), 'sharedSecrets:\n  grafana-db:\n    password: { length: 20 }\n')
  const res = cli(['render', '-f', '-', '-n', 'team'], {
    input: 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  annotations:\n    secretwire.io/shared-secret: grafana-db\nspec:\n  containers: [{name: c, image: x}]\n',
    env: { SECRETWIRE_STRATEGY: 'generate', SECRETWIRE_CONFIG: join(dir, 'policy.yaml') },
  })
  t.equal(res.status, 0, res.stderr)
  const docs = parseAllDocuments(res.stdout).map((d) => d.toJS() as { kind: string, metadata: { namespace?: string }, spec: Record<string, unknown> })
  t.same(docs.map((d) => `${d.kind} ${d.metadata.namespace ?? ''}`), ['Pod ', 'Password eso-secret-storage', 'ExternalSecret eso-secret-storage', 'ExternalSecret team'])
  t.equal(docs[1]?.spec.length, 20)
})

t.test('a denial prints the webhook\'s message and exits 1', async (t) => {
  const res = cli(['render', '-f', '-'], { input: 'apiVersion: v1\nkind: Pod\nmetadata:\n  annotations:\n    secretwire.io/shared-secret: "db=1X"\nspec:\n  containers: [{name: c}]\n' })
  t.equal(res.status, 1)
  t.equal(res.stdout, '')
  t.equal(res.stderr, 'denied (400 BadRequest): annotation secretwire.io/shared-secret: "db=1X": "1X" is not a valid ENV_VAR: it must be a C identifier ([A-Za-z_][A-Za-z0-9_]*)\n')
})

t.test('usage and input errors exit 2 with one line saying what, then the usage', async (t) => {
  t.match(cli(['render']), { status: 2, stderr: /^secretwire render: -f FILE is required\nusage: secretwire render -f FILE \[-n NAMESPACE\]\n/ })
  t.match(cli(['frobnicate']), { status: 2, stderr: /^secretwire: unknown command "frobnicate"\n[\s\S]*usage: secretwire COMMAND/ })
  t.match(cli(['render', '-f', '/no/such.yaml']), { status: 2, stderr: /^secretwire: ENOENT/ })
  t.match(cli(['render', '-f', '-'], { input: 'a: [' }), { status: 2, stderr: /^secretwire: -: / })
  t.match(cli(['render', '-f', '-'], { input: 'kind: Pod', env: { SECRETWIRE_STRATEGY: 'x' } }), { status: 2, stderr: /^secretwire: SECRETWIRE_STRATEGY="x": must be one of generate, push\n$/ })
})

t.test('every command: --help prints its options from the one table, a wrong option exits 2 naming it', async (t) => {
  for (const [name, command] of Object.entries(commands)) {
    const help = cli([name, '--help'])
    t.equal(help.status, 0, `${name} --help`)
    t.match(help.stdout, new RegExp(`^secretwire ${name}: ${command.summary.replace(/[()]/g, '\\$&')}\n\nusage: secretwire ${name}`))
    for (const [option, o] of Object.entries(command.options)) {
      t.ok(help.stdout.includes(`--${option}`) && help.stdout.includes(o.help), `${name} --help lists --${option}`)
    }
    const wrong = cli([name, '--frobnicate'])
    t.equal(wrong.status, 2, `${name} --frobnicate`)
    t.match(wrong.stderr, new RegExp(`^secretwire ${name}: Unknown option '--frobnicate'\nusage: secretwire ${name}`))
    t.equal(wrong.stdout, '')
  }
  t.match(cli(['--help']), { status: 0, stdout: /^secretwire: [^\n]+\n\nusage: secretwire COMMAND \[options\]\n\ncommands:\n  serve /m })
  t.match(cli(['status', '-o']), { status: 2, stderr: /^secretwire status: Option '-o, --output <value>' argument missing\n/ })
})

t.test('--version prints the package\'s version', async (t) => {
  const { version } = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string }
  t.same(cli(['--version']), { status: 0, stdout: `secretwire ${version}\n`, stderr: '' })
})

t.test('serve refuses to start without a reachable configuration, saying why', async (t) => {
  const res = cli(['serve'], { env: { KUBECONFIG: '', KUBERNETES_SERVICE_HOST: '' } })
  t.equal(res.status, 2)
  t.match(res.stderr, /^secretwire: KUBECONFIG is not set and secretwire is not running in a cluster/)
})

t.test('status and delete: bad arguments exit 2 before any cluster is asked', async (t) => {
  const none = { KUBECONFIG: '/no/such/kubeconfig' }
  t.match(cli(['status', '-o', 'xml'], { env: none }), { status: 2, stderr: /^secretwire status: -o xml: must be one of table, json, yaml\nusage:/ })
  t.match(cli(['status', '-n', 'a', '-A'], { env: none }), { status: 2, stderr: /^secretwire status: -n and -A exclude each other\n/ })
  t.match(cli(['status', 'a', 'b'], { env: none }), { status: 2, stderr: /^secretwire status: at most one NAME, not 2\n/ })
  t.match(cli(['status', 'Bad_Name'], { env: none }), { status: 2, stderr: /^secretwire: shared secret "Bad_Name": it must be a DNS-1123 label/ })
  t.match(cli(['delete'], { env: none }), { status: 2, stderr: /^secretwire delete: NAME is required\nusage: secretwire delete NAME / })
  t.match(cli(['delete', 'a', 'b'], { env: none }), { status: 2, stderr: /^secretwire delete: one NAME, not 2\n/ })
  t.match(cli(['delete', 'Bad_Name'], { env: none }), { status: 2, stderr: /^secretwire: shared secret "Bad_Name": it must be a DNS-1123 label/ })
})
