#!/usr/bin/env node
// secretwire serve                      run the webhook (settings from the environment, see docs/operations.md)
// secretwire render -f FILE [-n NS]     print what admission would do to FILE (- for stdin), with no cluster
// secretwire status [NAME] [-n NS]      every shared secret in the cluster, or one (your kubeconfig, your rights)
// secretwire delete NAME [--dry-run]    delete a shared secret's password for good (break-glass rights)
// The commands and their options are declared once, in commands.ts; installed as `kubectl-secretwire` too, so
// `kubectl secretwire status` runs it as a kubectl plugin.
import { readFileSync } from 'node:fs'
import { parseAllDocuments, stringify } from 'yaml'
import { loadConfig } from '../config/settings.ts'
import { AdmissionError, ConfigError } from '../core/errors.ts'
import { sharedSecretNameProblem } from '../core/names.ts'
import { commandHelp, isCommand, parseCommand, programHelp, programName, UsageError, usageLine, type CommandName } from './commands.ts'
import { render } from './render.ts'

const program = programName(process.argv[1])

function version(): string {
  // package.json sits two levels up from src/cli/ and from dist/cli/ alike (the image copies it too).
  return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version
}

async function main(argv: string[]): Promise<number> {
  const [first = 'serve', ...rest] = argv
  if (first === '--version') {
    process.stdout.write(`secretwire ${version()}\n`)
    return 0
  }
  if (first === '--help' || first === '-h' || first === 'help') {
    process.stdout.write(programHelp(program))
    return 0
  }
  if (!isCommand(first)) {
    process.stderr.write(`${program}: unknown command ${JSON.stringify(first)}\n${programHelp(program)}`)
    return 2
  }
  try {
    return await run(first, rest)
  } catch (err) {
    if (!(err instanceof UsageError)) throw err
    process.stderr.write(`${program} ${first}: ${err.message}\nusage: ${usageLine(program, first)}\nSee '${program} ${first} --help'.\n`)
    return 2
  }
}

async function run(command: CommandName, args: string[]): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    parseCommand(command, args)
    process.stdout.write(commandHelp(program, command))
    return 0
  }
  if (command === 'serve') {
    parseCommand('serve', args)
    // Loaded only here: render must not pay for the HTTP server and Kubernetes client.
    const { serve } = await import('../server/serve.ts')
    await serve(process.env)
    return -1
  }
  if (command === 'status') return statusCommand(args)
  if (command === 'delete') return deleteCommand(args)
  const { values } = parseCommand('render', args)
  const file = values.filename!
  const text = readFileSync(file === '-' ? 0 : file, 'utf8')
  const parsed = parseAllDocuments(text)
  const docs = (Array.isArray(parsed) ? parsed : [parsed]).map((d) => {
    if (d.errors.length > 0) throw new ConfigError(`${file}: ${d.errors[0]!.message}`)
    return d.toJS() as unknown
  })
  const rendered = render(docs, values.namespace ?? 'default', loadConfig(process.env))
  for (const warning of rendered.warnings) process.stderr.write(`Warning: ${warning}\n`)
  const out = [
    ...rendered.documents.filter((d) => d !== null && d !== undefined),
    ...rendered.ensure,
  ].map((d) => stringify(d)).join('---\n')
  process.stdout.write(`# secretwire render: admission of ${file}, then the objects secretwire ensures ` +
    '(created if absent, never updated)\n' + out)
  return 0
}

/** A NAME argument, refused (exit 2) before any cluster is asked when it could not be a shared secret's. */
function checkName(name: string): string {
  const problem = sharedSecretNameProblem(name)
  if (problem !== undefined) throw new ConfigError(`shared secret ${JSON.stringify(name)}: ${problem}`)
  return name
}

async function statusCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseCommand('status', args)
  const output = values.output ?? 'table'
  if (!['table', 'json', 'yaml'].includes(output)) throw new UsageError(`-o ${output}: must be one of table, json, yaml`)
  if (values.namespace !== undefined && values['all-namespaces'] === true) throw new UsageError('-n and -A exclude each other')
  const [name] = positionals
  if (name !== undefined) checkName(name)
  // Loaded only here: render must not pay for the Kubernetes client.
  const [{ clusterStatus, statusTable }, { cliKubeConfig }] = await Promise.all([import('./status.ts'), import('./kubeconfig.ts')])
  const config = loadConfig(process.env)
  const status = await clusterStatus(cliKubeConfig(values), config, { ...(name !== undefined && { name }), ...(values.namespace !== undefined && { namespace: values.namespace }) })
  process.stdout.write(output === 'json' ? `${JSON.stringify(status, null, 2)}\n` : output === 'yaml' ? stringify(status) : statusTable(status))
  return status.failing ? 1 : 0
}

async function deleteCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseCommand('delete', args)
  const name = checkName(positionals[0]!)
  const [{ clusterStatus }, { DeletionRefused, deletionPlan, runDeletions }, { cliKubeConfig }] = await Promise.all([import('./status.ts'), import('./delete.ts'), import('./kubeconfig.ts')])
  const config = loadConfig(process.env)
  const kc = cliKubeConfig(values)
  const plan = deletionPlan(name, await clusterStatus(kc, config), config.storageNamespace)
  if ('refused' in plan) {
    process.stderr.write(`secretwire: not deleting: ${plan.refused}\n`)
    return 1
  }
  const list = plan.deletions.map((d) => `  ${d.kind} ${d.namespace}/${d.name}`).join('\n')
  process.stdout.write(`shared secret ${name}: ${values['dry-run'] === true ? 'would delete' : 'deleting'}, in this order:\n${list}\n`)
  if (values['dry-run'] !== true && values.yes !== true && !(await confirmed(name))) {
    process.stderr.write('secretwire: not confirmed: nothing deleted\n')
    return 1
  }
  const result = await runDeletions(kc, plan.deletions, values['dry-run'] === true, (d, outcome) =>
    process.stdout.write(`${outcome === 'deleted' ? 'deleted' : 'already gone'}: ${d.kind} ${d.namespace}/${d.name}\n`)).catch((err: unknown) => {
    if (!(err instanceof DeletionRefused)) throw err
    process.stderr.write(`secretwire: ${err.message}\n`)
    return undefined
  })
  if (result === undefined) return 1
  process.stdout.write(values['dry-run'] === true
    ? `dry run: the API server would allow all ${result.deleted.length + result.absent.length} (${result.absent.length} already gone); nothing was deleted\n`
    : `shared secret ${name} deleted: a workload naming it again gets a new password\n`)
  return 0
}

/** Asks on the terminal for NAME to be typed; never when stdin is not a terminal (scripts pass --yes). */
async function confirmed(name: string): Promise<boolean> {
  if (!process.stdin.isTTY) {
    process.stderr.write('secretwire: stdin is not a terminal: pass --yes to confirm\n')
    return false
  }
  const { createInterface } = await import('node:readline/promises')
  const rl = createInterface({ input: process.stdin, output: process.stdout })
  try {
    return (await rl.question(`type ${name} to delete its password for good: `)).trim() === name
  } finally {
    rl.close()
  }
}

main(process.argv.slice(2)).then(
  (code) => { if (code >= 0) process.exitCode = code },
  (err: unknown) => {
    if (err instanceof AdmissionError) {
      process.stderr.write(`denied (${err.code} ${err.reason}): ${err.message}\n`)
      process.exitCode = 1
    } else if (err instanceof ConfigError || (err as NodeJS.ErrnoException).code !== undefined) {
      process.stderr.write(`secretwire: ${(err as Error).message}\n`)
      process.exitCode = 2
    } else {
      process.stderr.write(`secretwire: ${(err as Error).stack ?? String(err)}\n`)
      process.exitCode = 70
    }
  },
)
