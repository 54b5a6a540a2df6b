// Room: docs/recipes.md, examples/
// The recipes' commands, word for word (test/helpers/docs.ts), and what each prints: the wiring the recipe says.
import t from 'tap'
import { parseAllDocuments } from 'yaml'
import { repoRoot } from '../../tools/paths.ts'
import { builtCli } from '../helpers/built.ts'
import { describeRuns, runDocBlock } from '../helpers/docs.ts'

interface Container { name: string, env?: { name: string, value?: string, valueFrom?: { secretKeyRef?: { name: string, key: string } } }[], volumeMounts?: { name: string, mountPath: string, readOnly?: boolean }[] }
interface Workload { kind: string, spec: { template: { spec: { containers: Container[], volumes?: { name: string, secret?: { secretName: string, defaultMode?: number } }[] } } } }
const first = (stdout: string) => parseAllDocuments(stdout)[0]!.toJS() as Workload

builtCli()
const env = { NODE_OPTIONS: '' }

t.test('Grafana and PostgreSQL: the file for PostgreSQL, the percent-encoded password in Grafana\'s URL', async (t) => {
  const runs = await runDocBlock('recipe-grafana-postgres', { cwd: repoRoot, env })
  t.same(runs.map((r) => r.status), [0, 0], describeRuns(runs))
  const postgres = first(runs[0]!.stdout).spec.template.spec
  t.same(postgres.containers[0]!.env?.[0], { name: 'POSTGRES_PASSWORD_FILE', value: '/var/run/secretwire/grafana-db/password' })
  t.match(postgres.containers[0]!.volumeMounts, [{ name: 'secretwire-grafana-db', mountPath: '/var/run/secretwire/grafana-db', readOnly: true }])
  t.match(postgres.volumes, [{ name: 'secretwire-grafana-db', secret: { secretName: 'secretwire-grafana-db', defaultMode: 0o400 } }])
  const grafana = first(runs[1]!.stdout).spec.template.spec.containers[0]!
  t.same(grafana.env?.map((e) => e.name), ['GRAFANA_DB_URLENCODED', 'GF_DATABASE_URL'], 'the password first, so $(GRAFANA_DB_URLENCODED) expands')
  t.same(grafana.env?.[0]?.valueFrom?.secretKeyRef, { name: 'secretwire-grafana-db', key: 'password-url' })
})

t.test('an image that reads *_FILE: Grafana\'s GF_DATABASE_PASSWORD__FILE, no password in the environment', async (t) => {
  const runs = await runDocBlock('recipe-file', { cwd: repoRoot, env })
  t.same(runs.map((r) => r.status), [0], describeRuns(runs))
  const grafana = first(runs[0]!.stdout).spec.template.spec.containers[0]!
  t.same(grafana.env?.[0], { name: 'GF_DATABASE_PASSWORD__FILE', value: '/var/run/secretwire/grafana-db/password' })
  t.notOk(grafana.env?.some((e) => e.valueFrom?.secretKeyRef !== undefined), 'no env var holds the password itself')
  t.match(grafana.volumeMounts, [{ mountPath: '/var/run/secretwire/grafana-db', readOnly: true }])
})

t.test('a chart\'s existingSecret and CloudNativePG\'s bootstrap Secret: an ExternalSecret named after the Secret, in its shape', async (t) => {
  const runs = await runDocBlock('recipe-secret-name', { cwd: repoRoot, env })
  t.same(runs.map((r) => r.status), [0, 0], describeRuns(runs))
  interface Es { kind: string, metadata: { name: string, namespace: string }, spec: { target: { name: string, template: { type: string, data: Record<string, string> } } } }
  const docs = (stdout: string) => parseAllDocuments(stdout).map((d) => d.toJS() as Es)
  const chart = docs(runs[0]!.stdout)
  t.same(first(runs[0]!.stdout).spec.template.spec.containers[0]!.env?.map((e) => e.name), ['GF_DATABASE_PASSWORD'], 'nothing injected')
  const made = chart.find((d) => d.kind === 'ExternalSecret' && d.metadata.name === 'grafana-db-credentials')
  t.same([made?.metadata.namespace, made?.spec.target.name, made?.spec.target.template.type], ['grafana', 'grafana-db-credentials', 'Opaque'])
  t.same(Object.keys(made?.spec.target.template.data ?? {}), ['password', 'password-url'])
  const cnpg = docs(runs[1]!.stdout).find((d) => d.kind === 'ExternalSecret' && d.metadata.name === 'cluster-app-user')
  t.same([cnpg?.metadata.namespace, cnpg?.spec.target.template.type], ['db', 'kubernetes.io/basic-auth'], 'CloudNativePG\'s shape')
  t.same(cnpg?.spec.target.template.data, { username: '{{ "app" }}', password: '{{ .password }}' })
})
