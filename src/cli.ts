#!/usr/bin/env node
// secretwire serve                      run the webhook (settings from the environment, see README)
// secretwire render -f FILE [-n NS]     print what admission would do to FILE (- for stdin), with no cluster
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { parseAllDocuments, stringify } from 'yaml'
import { loadConfig } from './config.ts'
import { AdmissionError, ConfigError } from './errors.ts'
import { render } from './render.ts'

const usage = `usage: secretwire serve
       secretwire render -f FILE [-n NAMESPACE]   (FILE may be - for stdin)`

async function main(argv: string[]): Promise<number> {
  const [command = 'serve', ...rest] = argv
  if (command === 'serve') {
    // Loaded only here: render must not pay for the HTTP server and Kubernetes client.
    const { serve } = await import('./serve.ts')
    await serve(process.env)
    return -1
  }
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
