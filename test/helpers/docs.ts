// The shell commands of the docs (README.md, docs/*.md), run word for word by tests. Each ```sh block is tagged on
// the line before its fence with `<!-- test: ID -->`; the test that runs it calls runDocBlock('ID', ...), and
// test/docs/docs.test.ts checks that every block has a tag and every tag is run by a test.
import { spawn } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { delimiter, join } from 'node:path'
import { repoRoot } from '../../tools/paths.ts'

export interface DocBlock {
  readonly id: string | undefined
  /** Relative to the repository. */
  readonly file: string
  readonly line: number
  readonly language: string
  readonly text: string
}

/** The docs, relative to the repository: the README and everything under docs/. */
export function docFiles(): string[] {
  return ['README.md', ...readdirSync(join(repoRoot, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`)]
}

/** Every fenced block of every doc, with the tag on the line before it, if any. */
export function docBlocks(): DocBlock[] {
  return docFiles().flatMap((file) => {
    const lines = readFileSync(join(repoRoot, file), 'utf8').split('\n')
    const blocks: DocBlock[] = []
    for (let i = 0; i < lines.length; i++) {
      const open = /^```(\S*)\s*$/.exec(lines[i]!)
      if (open === null) continue
      const end = lines.findIndex((l, j) => j > i && l.startsWith('```'))
      if (end === -1) throw new Error(`${file}:${i + 1}: a code block that never ends`)
      const id = /^<!-- test: ([a-z0-9-]+) -->$/.exec(lines[i - 1] ?? '')?.[1]
      blocks.push({ id, file, line: i + 1, language: open[1]!, text: lines.slice(i + 1, end).join('\n') })
      i = end
    }
    return blocks
  })
}

/** The commands of the block tagged `id`: its lines, without blank lines and whole-line comments. */
export function docCommands(id: string): string[] {
  const block = docBlocks().find((b) => b.id === id)
  if (block === undefined) throw new Error(`no doc block is tagged <!-- test: ${id} -->`)
  return block.text.split('\n').filter((l) => l.trim() !== '' && !l.trim().startsWith('#'))
}

export interface DocRun { readonly command: string, readonly status: number | null, readonly stdout: string, readonly stderr: string }

/**
 * Runs the commands of the block tagged `id` one by one in bash (pipefail: a pipeline fails when any part does),
 * as a user would type them in `cwd`; stops at the first that fails. `path` is put in front of PATH (the
 * kubectl and helm the run built). Asynchronous: a test may serve the webhook those commands reach.
 */
export async function runDocBlock(id: string, opts: { cwd: string, path?: readonly string[], env?: Record<string, string> }): Promise<DocRun[]> {
  const runs: DocRun[] = []
  for (const command of docCommands(id)) {
    const child = spawn('bash', ['-o', 'pipefail', '-c', command], {
      cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...opts.env, PATH: [...opts.path ?? [], process.env.PATH].join(delimiter) },
    })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (c: string) => { stdout += c })
    child.stderr.setEncoding('utf8').on('data', (c: string) => { stderr += c })
    const status = await new Promise<number | null>((res, rej) => child.on('error', rej).on('close', (code) => res(code)))
    runs.push({ command, status, stdout, stderr })
    if (status !== 0) break
  }
  return runs
}

/** One line per command and how it ended, for an assertion's message. */
export function describeRuns(runs: readonly DocRun[]): string {
  return runs.map((r) => `$ ${r.command} → ${r.status}${r.status === 0 ? '' : `: ${r.stderr.trim() || r.stdout.trim()}`}`).join('\n')
}
