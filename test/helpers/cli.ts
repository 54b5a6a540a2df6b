// `secretwire …` run as a user runs it: a child process of the built CLI (dist/cli/main.js), its exit status and output.
import { execFile, spawnSync } from 'node:child_process'
import { repoRoot } from '../../tools/paths.ts'
import { builtCli } from './built.ts'

export interface CliResult {
  readonly status: number | null
  readonly stdout: string
  readonly stderr: string
}

/** The environment of a CLI run: the test's, with `extra` added (or, where undefined, removed). */
function cliEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  // NODE_OPTIONS emptied: without tap's loaders and coverage hooks, which cost seconds per process.
  const env: Record<string, string | undefined> = { ...process.env, NODE_OPTIONS: '', ...extra }
  return Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined)) as NodeJS.ProcessEnv
}

/** `env` adds to (or, with undefined, removes from) the test's environment. */
export function cli(args: readonly string[], opts: { input?: string, env?: Record<string, string | undefined> } = {}): CliResult {
  const res = spawnSync(process.execPath, [builtCli(), ...args], { cwd: repoRoot, input: opts.input, encoding: 'utf8', env: cliEnv(opts.env) })
  return { status: res.status, stdout: res.stdout, stderr: res.stderr }
}

/** As `cli`, without blocking: several runs go side by side. */
export function cliAsync(args: readonly string[], opts: { env?: Record<string, string | undefined> } = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [builtCli(), ...args], { cwd: repoRoot, encoding: 'utf8', env: cliEnv(opts.env) }, (err, stdout, stderr) =>
      resolve({ status: err === null ? 0 : typeof err.code === 'number' ? err.code : null, stdout, stderr }))
  })
}
