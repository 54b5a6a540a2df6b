// `secretwire …` run as a user runs it: a child process of the built CLI (dist/cli/main.js), its exit status and output.
import { spawnSync } from 'node:child_process'
import { repoRoot } from '../../tools/paths.ts'
import { builtCli } from './built.ts'

export interface CliResult {
  readonly status: number | null
  readonly stdout: string
  readonly stderr: string
}

/** `env` adds to (or, with undefined, removes from) the test's environment. */
export function cli(args: readonly string[], opts: { input?: string, env?: Record<string, string | undefined> } = {}): CliResult {
  const env: Record<string, string | undefined> = { ...process.env, NODE_OPTIONS: '', ...opts.env }
  const res = spawnSync(process.execPath, [builtCli(), ...args], {
    // NODE_OPTIONS emptied: without tap's loaders and coverage hooks, which cost seconds per process.
    cwd: repoRoot, input: opts.input, encoding: 'utf8', env: Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined)) as NodeJS.ProcessEnv,
  })
  return { status: res.status, stdout: res.stdout, stderr: res.stderr }
}
