// Room: README.md, docs/
// The docs (README.md and docs/*.md) as a reader uses them: every link leads somewhere inside the repository (or to
// a public https address), every anchor to a heading that exists, and every shell command is run by a test, word for
// word (test/helpers/docs.ts): each ```sh block is tagged, and the tag is run by a test file.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import t from 'tap'
import { repoRoot } from '../../tools/paths.ts'
import { docBlocks, docCommands, docFiles } from '../helpers/docs.ts'
import { shippedRuntimeEnv } from '../../bench/common.ts'

/** GitHub's anchor for a heading: lower case, punctuation but - and _ dropped, spaces as -. */
function slug(heading: string): string {
  return heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-')
}

/** The text with code blocks and inline code blanked out, lines kept where they were. */
function withoutCode(text: string): string {
  return text.replace(/^```[\s\S]*?^```/gm, (block) => block.replace(/[^\n]/g, '')).replace(/`[^`\n]*`/g, (code) => ' '.repeat(code.length))
}

function anchors(file: string): Set<string> {
  const text = readFileSync(join(repoRoot, file), 'utf8').replace(/^```[\s\S]*?^```/gm, '')
  return new Set([...text.matchAll(/^#{1,6} (.+)$/gm)].map((m) => slug(m[1]!)))
}

/** Every Markdown link of a doc, outside code: [text](target). */
function links(file: string): { target: string, line: number }[] {
  const text = withoutCode(readFileSync(join(repoRoot, file), 'utf8'))
  return [...text.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => ({ target: m[1]!, line: text.slice(0, m.index).split('\n').length }))
}

t.test('every link resolves inside the repository, every anchor to a heading', async (t) => {
  let checked = 0
  for (const file of docFiles()) {
    for (const { target, line } of links(file)) {
      checked++
      const where = `${file}:${line}: ${target}`
      if (/^https:\/\//.test(target)) continue
      t.notOk(/^[a-z]+:/.test(target), `${where}: only https addresses leave the repository`)
      const [path, anchor] = target.split('#') as [string, string | undefined]
      const resolved = path === '' ? join(repoRoot, file) : resolve(dirname(join(repoRoot, file)), path)
      t.notOk(relative(repoRoot, resolved).startsWith('..'), `${where}: inside the repository`)
      if (!existsSync(resolved)) { t.fail(`${where}: no such file`); continue }
      if (anchor !== undefined) {
        t.ok(statSync(resolved).isFile() && anchors(relative(repoRoot, resolved)).has(anchor), `${where}: a heading with that anchor`)
      }
    }
  }
  t.ok(checked > 20, `${checked} links checked`)
})

t.test('every doc is reachable from the README', async (t) => {
  const fromReadme = new Set(links('README.md').map((l) => l.target.split('#')[0]))
  for (const file of readdirSync(join(repoRoot, 'docs')).filter((f) => f.endsWith('.md'))) {
    t.ok(fromReadme.has(`docs/${file}`), `README links docs/${file}`)
  }
})

t.test('every code block says its language; every shell block is tagged for the test that runs it', async (t) => {
  const blocks = docBlocks()
  const shell = blocks.filter((b) => ['sh', 'bash', 'shell', 'console'].includes(b.language))
  for (const b of blocks) t.not(b.language, '', `${b.file}:${b.line}: a language (sh, yaml, text, ...)`)
  for (const b of shell) t.ok(b.id, `${b.file}:${b.line}: tagged <!-- test: ID --> on the line before`)
  const ids = shell.map((b) => b.id).filter((id) => id !== undefined)
  t.strictSame(ids, [...new Set(ids)], 'each tag once')
  // The helper runs each line in a bash of its own, as independent commands: a block must not depend on a
  // previous line's shell state, and only ``` fences at the start of a line are blocks.
  for (const b of shell) {
    for (const line of b.text.split('\n')) t.notOk(/^\s*(cd|export|source|\.)\s/.test(line), `${b.file}:${b.line}: "${line}" changes the shell, and would not carry over`)
  }
  for (const file of docFiles()) {
    const other = readFileSync(join(repoRoot, file), 'utf8').split('\n').findIndex((l) => /^\s*~~~|^\s+```/.test(l))
    t.equal(other, -1, `${file}: no ~~~ or indented fences (line ${other + 1})`)
  }
  t.ok(shell.length >= 5, `${shell.length} shell blocks`)
})

t.test('every tagged block is run by a test file', async (t) => {
  const testFiles = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? testFiles(join(dir, e.name)) : e.name.endsWith('.test.ts') ? [join(dir, e.name)] : [])
  const sources = testFiles(join(repoRoot, 'test')).filter((f) => !f.endsWith('docs.test.ts')).map((f) => [relative(repoRoot, f), readFileSync(f, 'utf8')] as const)
  for (const b of docBlocks().filter((b) => b.id !== undefined)) {
    const runners = sources.filter(([, text]) => text.includes(`runDocBlock('${b.id}'`) || text.includes(`docCommands('${b.id}')`)).map(([f]) => f)
    t.ok(runners.length > 0, `${b.file}:${b.line} (${b.id}) is run by ${runners.join(', ') || 'no test'}`)
  }
})

t.test('the README\'s two commands: CI runs `npm ci` then `npm test`; test/demo runs `npm run demo`', async (t) => {
  const [demo, test] = docCommands('two-commands').map((c) => c.replace(/\s+#.*$/, ''))
  t.equal(demo, 'npm ci && npm run demo')
  t.equal(test, 'npm ci && npm test')
  // CI is the test of `npm ci && npm test`: it runs exactly these on a fresh clone.
  const ci = readFileSync(join(repoRoot, '.ci', 'run'), 'utf8').split('\n').map((l) => l.trim())
  const npmCi = ci.findIndex((l) => l.startsWith('npm ci'))
  t.ok(npmCi >= 0 && ci.indexOf('npm test') > npmCi, '.ci/run: npm ci, then npm test')
})

t.test('the runtime settings the docs quote are those deploy/ ships', async (t) => {
  // bench/common.ts reads them from deploy/webhook/deployment.yaml for the benches; deploy/chart renders the same
  // Deployment (test/deploy/chart.test.ts), so the kustomize base stands for both.
  const env = shippedRuntimeEnv()
  const flat = (file: string) => readFileSync(join(repoRoot, file), 'utf8').replace(/\s+/g, ' ')
  for (const name of ['NODE_OPTIONS', 'MALLOC_ARENA_MAX']) {
    const value = env[name]
    t.type(value, 'string', `deploy/webhook/deployment.yaml sets ${name}`)
    for (const file of ['docs/operations.md', 'docs/performance.md']) {
      // NAME="a value" or NAME=--flag --flag (an unquoted value ends at the first word that is not a flag).
      const quoted = [...flat(file).matchAll(new RegExp(`${name}=(?:"([^"]+)"|([^\`\\s]+(?: --[^\`\\s]+)*))`, 'g'))].map((m) => m[1] ?? m[2]!.replace(/[.,;:)]+$/, ''))
      t.ok(quoted.length > 0, `${file} quotes ${name}`)
      for (const q of quoted) t.equal(q, value, `${file}: ${name} as deploy/ ships it`)
    }
  }
})
