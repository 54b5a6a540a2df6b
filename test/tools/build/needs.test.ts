// Room: tools/build/needs.ts, tools/build/gomodules.ts, tools/build/gobuild.ts
// A machine that never saw the project: the node run's namespaces have no network, so everything it reads from the
// Go module cache must be fetched by tools/build/needs.ts `prepare` before it enters them. Proven with an empty
// module cache: prepare fills it (from a proxy made of this machine's module cache, so the test itself needs no
// network), then the run's reads succeed in a network namespace of their own with the real proxy configured; with
// the cache left empty the same reads fail, naming the fix. Also: a module a run did not declare is refused even
// when cached, and a build that is not cached is never started offline.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { buildGo } from '../../../tools/build/gobuild.ts'
import { goModuleDir, goModules } from '../../../tools/build/gomodules.ts'
import { needs } from '../../../tools/build/needs.ts'
import { repoRoot } from '../../../tools/paths.ts'

const goEnv = (name: string) => spawnSync('go', ['env', name], { encoding: 'utf8' }).stdout.trim()
const realCache = goEnv('GOMODCACHE')
/** The environment of a run started by a person: none of the offline settings a test run inherits. */
function personEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env = { ...process.env }
  for (const k of ['SECRETWIRE_OFFLINE', 'SECRETWIRE_RUN_MODULES', 'GOPROXY', 'GOSUMDB', 'GOTOOLCHAIN', 'npm_config_offline']) delete env[k]
  return { ...env, ...extra }
}
const tsx = join(repoRoot, 'node_modules', '.bin', 'tsx')
const sandboxReads = join(repoRoot, 'test', 'tools', 'build', 'sandbox-reads.ts')
/** In a new network namespace: loopback only, down; nothing outside can be reached. */
const inNetworkNamespace = (env: NodeJS.ProcessEnv) => spawnSync('unshare', ['--net', '--', tsx, sandboxReads], { cwd: repoRoot, env, encoding: 'utf8', timeout: 120_000 })

t.test('the node run, from an empty module cache: prepare fetches everything, then its sandbox needs nothing more', async (t) => {
  const cache = mkdtempSync(join(tmpdir(), 'secretwire-gomodcache-'))
  // Go makes the module cache read-only; chmod first so it can be removed.
  t.teardown(() => { spawnSync('chmod', ['-R', 'u+w', cache]); rmSync(cache, { recursive: true, force: true }) })

  // Outside, as with-node.ts runs it: `npm run setup node` (prepare(['node'])), the module proxy being this
  // machine's module cache (what the real proxy served it), checksums off as a file proxy has no database.
  const setup = spawnSync(tsx, [join(repoRoot, 'tools', 'build', 'needs.ts'), 'node'], {
    cwd: repoRoot, encoding: 'utf8', timeout: 600_000,
    env: personEnv({ GOMODCACHE: cache, GOPROXY: `file://${realCache}/cache/download`, GOSUMDB: 'off' }),
  })
  t.equal(setup.status, 0, `npm run setup node succeeds: ${setup.stderr.slice(-2000)}`)
  t.match(setup.stderr, /Go modules: downloading/, 'it downloaded the modules, the cache being empty')
  for (const name of needs.node.modules) {
    const m = goModules[name]
    t.ok(existsSync(join(cache, `${m.module.replace(/[A-Z]/g, (c) => `!${c.toLowerCase()}`)}@${m.version}`)), `${m.module}@${m.version} is in the cache`)
  }

  // Inside a network namespace, with the real proxy configured: anything that tried to download would fail.
  const inside = inNetworkNamespace(personEnv({ GOMODCACHE: cache, SECRETWIRE_OFFLINE: '1', SECRETWIRE_RUN_MODULES: needs.node.modules.join(',') }))
  t.equal(inside.status, 0, `the sandbox's reads succeed with no network: ${inside.stderr.slice(-2000)}`)
  const read = JSON.parse(inside.stdout.trim().split('\n').at(-1) ?? '{}') as { crds?: number, esoRbac?: number }
  t.ok((read.crds ?? 0) > 10 && (read.esoRbac ?? 0) > 0, `the CRDs and ESO's chart RBAC were read from the module cache (${inside.stdout.trim()})`)
})

t.test('a control: the same reads, in the same sandbox, with an empty cache, fail and name the fix', async (t) => {
  const cache = mkdtempSync(join(tmpdir(), 'secretwire-gomodcache-'))
  t.teardown(() => rmSync(cache, { recursive: true, force: true }))
  const inside = inNetworkNamespace(personEnv({ GOMODCACHE: cache, SECRETWIRE_OFFLINE: '1', SECRETWIRE_RUN_MODULES: needs.node.modules.join(',') }))
  t.not(inside.status, 0, 'the sandbox cannot fetch what prepare did not')
  t.match(inside.stderr, /is not in the module cache: `npm run setup` downloads it/, 'the error says what to run')
})

t.test('a module the run did not declare is refused, even when the cache has it', async (t) => {
  const saved = process.env.SECRETWIRE_RUN_MODULES
  t.teardown(() => { if (saved === undefined) delete process.env.SECRETWIRE_RUN_MODULES; else process.env.SECRETWIRE_RUN_MODULES = saved })
  process.env.SECRETWIRE_RUN_MODULES = 'certManager'
  t.ok(await goModuleDir('certManager'), 'a declared module is read')
  await t.rejects(goModuleDir('eso'), /is not among the modules tools\/build\/needs\.ts declares for this run \(certManager\)/)
})

t.test('offline, a build that is not cached is refused, never started', async (t) => {
  const moduleDir = mkdtempSync(join(tmpdir(), 'secretwire-gomod-'))
  t.teardown(() => rmSync(moduleDir, { recursive: true, force: true }))
  mkdirSync(join(moduleDir, 'cmd', 'x'), { recursive: true })
  writeFileSync(join(moduleDir, 'go.mod'), 'module example.test/x\n\ngo 1.22\n')
  // A fresh name and source: no cached build can match it.
  writeFileSync(join(moduleDir, 'cmd', 'x', 'main.go'), `package main\n\nfunc main() { println(${JSON.stringify(moduleDir)}) }\n`)
  const saved = process.env.SECRETWIRE_OFFLINE
  t.teardown(() => { if (saved === undefined) delete process.env.SECRETWIRE_OFFLINE; else process.env.SECRETWIRE_OFFLINE = saved })
  process.env.SECRETWIRE_OFFLINE = '1'
  const lines: string[] = []
  await t.rejects(buildGo({ name: 'offline-probe', moduleDir, packages: ['./cmd/x'] }, (l) => lines.push(l)),
    /offline-probe is not built, and this run is offline/)
  t.same(lines, [], 'nothing was started')
})
