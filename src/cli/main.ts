#!/usr/bin/env node
// secretwire serve                      run the webhook (settings from the environment, see docs/operations.md)
// secretwire render -f FILE [-n NS]     print what admission would do to FILE (- for stdin), with no cluster
// secretwire status [-o json|yaml]      every shared secret in the cluster (KUBECONFIG, your own rights)
// secretwire delete NAME [--dry-run]    delete a shared secret's password for good (break-glass rights)
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { parseAllDocuments, stringify } from 'yaml'
import { loadConfig } from '../config/settings.ts'
import { AdmissionError, ConfigError } from '../core/errors.ts'
import { sharedSecretNameProblem } from '../core/names.ts'
import { render } from './render.ts'

const usage = `usage: secretwire serve
       secretwire render -f FILE [-n NAMESPACE]   (FILE may be - for stdin)
       secretwire status [-o table|json|yaml]      (exit status 1 when something is failing)
       secretwire delete NAME [--dry-run] [--yes]  (the password for good; refused while anything names NAME)`

async function main(argv: string[]): Promise<number> {
  const [command = 'serve', ...rest] = argv
  if (command === 'serve') {
    // Loaded only here: render must not pay for the HTTP server and Kubernetes client.
    const { serve } = await import('../server/serve.ts')
    await serve(process.env)
    return -1
  }
  if (command === 'status') {
    const { values } = parseArgs({ args: rest, options: { output: { type: 'string', short: 'o', default: 'table' } } })
    if (!['table', 'json', 'yaml'].includes(values.output)) {
      process.stderr.write(`${usage}\n`)
      return 2
    }
    // Loaded only here: render must not pay for the Kubernetes client.
    const [{ clusterStatus, statusTable }, { loadKubeConfig }] = await Promise.all([import('./status.ts'), import('../kube/client.ts')])
    const config = loadConfig(process.env)
    const status = await clusterStatus(loadKubeConfig(config.kubeconfig), config)
    process.stdout.write(values.output === 'json' ? `${JSON.stringify(status, null, 2)}\n` : values.output === 'yaml' ? stringify(status) : statusTable(status))
    return status.failing ? 1 : 0
  }
  if (command === 'delete') return deleteCommand(rest)
  if (command !== 'render') {
    process.stderr.write(`${usage}\n`)
    return 2
  }
  const { values } = parseArgs({
    args: rest,
    options: { file: { type: 'string', short: 'f' }, namespace: { type: 'string', short: 'n', default: 'default' } },
  })
  if (values.file === undefined) {
    process.stderr.write(`${usage}\n`)
    return 2
  }
  const text = readFileSync(values.file === '-' ? 0 : values.file, 'utf8')
  const parsed = parseAllDocuments(text)
  const docs = (Array.isArray(parsed) ? parsed : [parsed]).map((d) => {
    if (d.errors.length > 0) throw new ConfigError(`${values.file}: ${d.errors[0]!.message}`)
    return d.toJS() as unknown
  })
  const rendered = render(docs, values.namespace, loadConfig(process.env))
  for (const warning of rendered.warnings) process.stderr.write(`Warning: ${warning}\n`)
  const out = [
    ...rendered.documents.filter((d) => d !== null && d !== undefined),
    ...rendered.ensure,
  ].map((d) => stringify(d)).join('---\n')
  process.stdout.write(`# secretwire render: admission of ${values.file}, then the objects secretwire ensures ` +
    '(created if absent, never updated)\n' + out)
  return 0
}

async function deleteCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { 'dry-run': { type: 'boolean', default: false }, yes: { type: 'boolean', default: false } } })
  const [name] = positionals
  if (name === undefined || positionals.length !== 1) {
    process.stderr.write(`${usage}\n`)
    return 2
  }
  const problem = sharedSecretNameProblem(name)
  if (problem !== undefined) throw new ConfigError(`shared secret ${JSON.stringify(name)}: ${problem}`)
  const [{ clusterStatus }, { DeletionRefused, deletionPlan, runDeletions }, { loadKubeConfig }] = await Promise.all([import('./status.ts'), import('./delete.ts'), import('../kube/client.ts')])
  const config = loadConfig(process.env)
  const kc = loadKubeConfig(config.kubeconfig)
  const plan = deletionPlan(name, await clusterStatus(kc, config), config.storageNamespace)
  if ('refused' in plan) {
    process.stderr.write(`secretwire: not deleting: ${plan.refused}\n`)
    return 1
  }
  const list = plan.deletions.map((d) => `  ${d.kind} ${d.namespace}/${d.name}`).join('\n')
  process.stdout.write(`shared secret ${name}: ${values['dry-run'] ? 'would delete' : 'deleting'}, in this order:\n${list}\n`)
  if (!values['dry-run'] && !values.yes && !(await confirmed(name))) {
    process.stderr.write('secretwire: not confirmed: nothing deleted\n')
    return 1
  }
  const result = await runDeletions(kc, plan.deletions, values['dry-run'], (d, outcome) =>
    process.stdout.write(`${outcome === 'deleted' ? 'deleted' : 'already gone'}: ${d.kind} ${d.namespace}/${d.name}\n`)).catch((err: unknown) => {
    if (!(err instanceof DeletionRefused)) throw err
    process.stderr.write(`secretwire: ${err.message}\n`)
    return undefined
  })
  if (result === undefined) return 1
  process.stdout.write(values['dry-run']
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
