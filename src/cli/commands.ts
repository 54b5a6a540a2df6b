// The CLI's commands and their options, declared once: `parseCommand` hands them to Node's util.parseArgs (strict:
// an unknown option or a missing value is an error) and `commandHelp` prints them for `--help`. Adding an option
// here is all it takes for both.
import { parseArgs } from 'node:util'

interface Option {
  readonly type: 'string' | 'boolean'
  readonly short?: string
  readonly default?: string
  /** What the value is, in the help: FILE, NAME. */
  readonly value?: string
  /** The command cannot run without it (util.parseArgs has no such notion: parseCommand checks). */
  readonly required?: true
  readonly help: string
}

export interface Command {
  readonly summary: string
  /** The positional arguments, as the usage line shows them: '', 'NAME', '[NAME]'. */
  readonly positionals: '' | 'NAME' | '[NAME]'
  readonly options: Readonly<Record<string, Option>>
  /** More words for `--help`, after the options. */
  readonly more?: string
}

const help = { help: { type: 'boolean', short: 'h', help: 'print this help and exit' } } as const satisfies Record<string, Option>

/** Every command that talks to a cluster finds it as kubectl does (kubeconfig.ts). */
const cluster = {
  kubeconfig: { type: 'string', value: 'FILE', help: 'the kubeconfig file (default: the KUBECONFIG list, else ~/.kube/config, else in-cluster)' },
  context: { type: 'string', value: 'NAME', help: 'the kubeconfig context to use (default: its current context)' },
} as const satisfies Record<string, Option>

export const commands = {
  serve: {
    summary: 'run the admission webhook',
    positionals: '',
    options: help,
    more: 'Settings come from the environment (SECRETWIRE_*; docs/operations.md), the cluster from KUBECONFIG (one file) or in-cluster.',
  },
  render: {
    summary: 'print what admission would do to a manifest, with no cluster',
    positionals: '',
    options: {
      filename: { type: 'string', short: 'f', value: 'FILE', required: true, help: 'the manifest, YAML or JSON, one or more documents (- for stdin)' },
      namespace: { type: 'string', short: 'n', value: 'NAMESPACE', default: 'default', help: 'the namespace the manifest is admitted to' },
      ...help,
    },
  },
  status: {
    summary: 'every shared secret in the cluster, or one, and what is wrong with it',
    positionals: '[NAME]',
    options: {
      output: { type: 'string', short: 'o', value: 'table|json|yaml', default: 'table', help: 'the output format (json and yaml: docs/operations.md#status-output)' },
      namespace: { type: 'string', short: 'n', value: 'NAMESPACE', help: 'only the shared secrets consumed in this namespace, and only its rows' },
      'all-namespaces': { type: 'boolean', short: 'A', help: 'every namespace (the default: a shared secret spans namespaces)' },
      ...cluster,
      ...help,
    },
    more: 'Exit status 1 when something is failing. Reads with your own rights; never a Secret.',
  },
  delete: {
    summary: 'delete a shared secret\'s password for good (break-glass rights)',
    positionals: 'NAME',
    options: {
      'dry-run': { type: 'boolean', help: 'ask the API server whether it would allow every deletion, and stop there' },
      yes: { type: 'boolean', help: 'do not ask to type NAME (needed when stdin is not a terminal)' },
      ...cluster,
      ...help,
    },
    more: 'Refused while any workload or Pod names NAME. Every deletion is dry-run first: a refusal changes nothing.',
  },
} as const satisfies Record<string, Command>

export type CommandName = keyof typeof commands

export function isCommand(name: string): name is CommandName {
  return Object.hasOwn(commands, name)
}

/** The program's name as the user typed it: `kubectl secretwire` when run as a kubectl plugin. */
export function programName(argv1: string | undefined): string {
  return /(^|\/)kubectl-secretwire(\.[cm]?js)?$/.test(argv1 ?? '') ? 'kubectl secretwire' : 'secretwire'
}

export class UsageError extends Error {}

type Values<C extends Command> = { [K in keyof C['options']]?: C['options'][K]['type'] extends 'boolean' ? boolean : string }

/** An option as the usage and the help show it: `-o table|json|yaml`, `--dry-run`. */
function flag(key: string, o: Option, long = false): string {
  const name = o.short !== undefined ? (long ? `-${o.short}, --${key}` : `-${o.short}`) : `${long ? '    ' : ''}--${key}`
  return `${name}${o.type === 'string' ? ` ${o.value ?? 'VALUE'}` : ''}`
}

/** Parses a command's arguments; throws UsageError with one line saying what is wrong. */
export function parseCommand<N extends CommandName>(name: N, args: readonly string[]): { values: Values<typeof commands[N]>, positionals: string[] } {
  const command: Command = commands[name]
  let parsed
  try {
    parsed = parseArgs({
      args: [...args], strict: true, allowPositionals: command.positionals !== '',
      options: Object.fromEntries(Object.entries(command.options).map(([k, o]) => [k, { type: o.type, ...(o.short && { short: o.short }), ...(o.default !== undefined && { default: o.default }) }])),
    })
  } catch (err) {
    // util.parseArgs' messages are one sentence each, with advice on `--` after it; keep the sentence.
    throw new UsageError((err as Error).message.split('. ')[0]!.replace(/\.$/, ''))
  }
  const { positionals } = parsed
  if (parsed.values.help !== true) {
    for (const [k, o] of Object.entries(command.options)) {
      if (o.required === true && parsed.values[k] === undefined) throw new UsageError(`${flag(k, o)} is required`)
    }
    if (command.positionals === 'NAME' && positionals.length !== 1) throw new UsageError(positionals.length === 0 ? 'NAME is required' : `one NAME, not ${positionals.length}`)
    if (command.positionals === '[NAME]' && positionals.length > 1) throw new UsageError(`at most one NAME, not ${positionals.length}`)
  }
  return { values: parsed.values as Values<typeof commands[N]>, positionals }
}

/** One line: the command and its options. */
export function usageLine(program: string, name: CommandName): string {
  const command: Command = commands[name]
  const options = Object.entries(command.options).filter(([k]) => k !== 'help')
    .map(([k, o]) => o.required === true ? flag(k, o) : `[${flag(k, o)}]`)
  return [program, name, command.positionals, ...options].filter((w) => w !== '').join(' ')
}

/** `COMMAND --help`. */
export function commandHelp(program: string, name: CommandName): string {
  const command: Command = commands[name]
  const flags = Object.entries(command.options).map(([k, o]) =>
    [flag(k, o, true), `${o.help}${o.required === true ? ' (required)' : ''}${o.default !== undefined ? ` (default: ${o.default})` : ''}`] as const)
  const width = Math.max(...flags.map(([f]) => f.length))
  return [
    `${program} ${name}: ${command.summary}`, '',
    `usage: ${usageLine(program, name)}`, '',
    'options:',
    ...flags.map(([f, h]) => `  ${f.padEnd(width)}  ${h}`),
    ...(command.more !== undefined ? ['', command.more] : []),
  ].join('\n') + '\n'
}

/** `--help` with no command, and what a wrong command gets. */
export function programHelp(program: string): string {
  const width = Math.max(...Object.keys(commands).map((n) => n.length))
  return [
    `${program}: shared passwords, generated by the External Secrets Operator, wired into workloads at admission`, '',
    `usage: ${program} COMMAND [options]`, '',
    'commands:',
    ...Object.entries(commands).map(([n, c]) => `  ${n.padEnd(width)}  ${c.summary}`), '',
    `${program} COMMAND --help says more; ${program} --version prints the version.`,
  ].join('\n') + '\n'
}
