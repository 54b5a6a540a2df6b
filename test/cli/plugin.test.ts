// Room: package.json (bin), src/cli/commands.ts (programName), docs/operations.md (kubectl-plugin)
// `kubectl secretwire`: the package installs dist/cli/main.js also as `kubectl-secretwire`, which kubectl runs as a
// plugin once it is on PATH. The docs' install commands, word for word (npm links the checkout into ~/.local, a
// HOME of the test's own), then the project's real kubectl runs the plugin against the run's API server.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import t from 'tap'
import { kubectlPath } from '../../tools/build/builds.ts'
import { repoRoot } from '../../tools/paths.ts'
import { builtCli } from '../helpers/built.ts'
import { kubeConfig } from '../helpers/cluster.ts'
import { describeRuns, runDocBlock } from '../helpers/docs.ts'

const bin = (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { bin: Record<string, string> }).bin

t.test('installed as the docs say, `kubectl secretwire ...` runs the CLI as a kubectl plugin', async (t) => {
  t.equal(bin['kubectl-secretwire'], bin.secretwire, 'package.json installs the CLI as kubectl-secretwire too')
  builtCli()
  const home = mkdtempSync(join(tmpdir(), 'secretwire-plugin-'))
  t.teardown(() => rmSync(home, { recursive: true, force: true }))
  writeFileSync(join(home, 'kubeconfig'), (await kubeConfig()).exportConfig())
  const runs = await runDocBlock('kubectl-plugin', {
    cwd: repoRoot,
    path: [join(home, '.local', 'bin'), dirname(await kubectlPath())],
    env: { HOME: home, KUBECONFIG: join(home, 'kubeconfig'), NODE_OPTIONS: '' },
  })
  const [install, help, status] = runs
  t.equal(install?.status, 0, describeRuns(runs))
  t.equal(help?.status, 0, describeRuns(runs))
  t.match(help?.stdout, /^kubectl secretwire: .*\n\nusage: kubectl secretwire COMMAND/, 'the help names it as the user typed it')
  // 1 when another test's shared secret is failing at this moment; 2 or more would be an error.
  t.ok(status?.status === 0 || status?.status === 1, describeRuns(runs))
  t.match(status?.stdout, /^SHARED SECRET\s+NAMESPACE\s+CONSUMERS\s+ESO\s+NEXT\n/, 'kubectl ran secretwire status, with its KUBECONFIG')
  t.notMatch(status?.stdout, /not readable with your rights/, 'as the kubeconfig\'s admin')
})
