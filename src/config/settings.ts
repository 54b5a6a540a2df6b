// Settings, read once at start into one frozen object; nothing else reads process.env. Every setting, its
// default and its doc are declared in contract.ts.
import { readFileSync } from 'node:fs'
import { admissionHeadroomMs, removedSettings, settings, webhookTimeoutSeconds, type InjectMode, type PushUpdatePolicy, type Strategy } from '../core/contract.ts'
import { ConfigError } from '../core/errors.ts'
import { isDnsLabel, isDnsSubdomain } from '../core/names.ts'
import { openPolicy, parsePolicy, PolicyHolder } from '../core/policy.ts'

export interface Config {
  readonly port: number
  readonly tls: { readonly certFile: string, readonly keyFile: string } | undefined
  readonly kubeconfig: string | undefined
  readonly storageNamespace: string
  readonly clusterSecretStore: string
  readonly strategy: Strategy
  readonly pushUpdatePolicy: PushUpdatePolicy
  readonly inject: InjectMode
  /** The policy in force: the file's, replaced when the file changes (serve watches `policyFile`). */
  readonly policy: PolicyHolder
  readonly policyFile: string | undefined
  readonly apiTimeoutMs: number
  readonly gracePeriodMs: number
  readonly reconcileIntervalMs: number
  /** Where the reconciler's Lease lives; undefined: this replica does not reconcile. */
  readonly leaseNamespace: string | undefined
  readonly shutdownDelayMs: number
  readonly logLevel: string
}

type Env = Readonly<Record<string, string | undefined>>

const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']

export function loadConfig(env: Env, readFile: (path: string) => string = (p) => readFileSync(p, 'utf8')): Config {
  const get = (setting: { env: string, default: string }): string => {
    const value = env[setting.env]?.trim()
    return value === undefined || value === '' ? setting.default : value
  }
  const oneOf = <T extends string>(setting: { env: string, default: string }, allowed: readonly T[]): T => {
    const value = get(setting)
    if (!(allowed as readonly string[]).includes(value)) {
      throw new ConfigError(`${setting.env}=${JSON.stringify(value)}: must be one of ${allowed.join(', ')}`)
    }
    return value as T
  }
  const integer = (setting: { env: string, default: string }, min: number, max: number): number => {
    const value = get(setting)
    const n = Number(value)
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new ConfigError(`${setting.env}=${JSON.stringify(value)}: must be an integer from ${min} to ${max}`)
    }
    return n
  }
  const checked = (setting: { env: string, default: string }, valid: (v: string) => boolean, what: string): string => {
    const value = get(setting)
    if (!valid(value)) throw new ConfigError(`${setting.env}=${JSON.stringify(value)}: must be ${what}`)
    return value
  }

  for (const [name, reason] of Object.entries(removedSettings)) {
    if (env[name] !== undefined) throw new ConfigError(`${name} is no longer supported: ${reason}; unset it`)
  }
  const certFile = get(settings.tlsCertFile)
  const keyFile = get(settings.tlsKeyFile)
  if ((certFile === '') !== (keyFile === '')) {
    throw new ConfigError(`${settings.tlsCertFile.env} and ${settings.tlsKeyFile.env} must be set together`)
  }
  const policyFile = get(settings.config)
  const policy = new PolicyHolder(policyFile === '' ? openPolicy : readPolicy(policyFile, readFile))
  const kubeconfig = get(settings.kubeconfig)
  const strategy = oneOf<Strategy>(settings.strategy, ['generate', 'push'])
  const pushUpdatePolicy = oneOf<PushUpdatePolicy>(settings.pushUpdatePolicy, ['Replace', 'IfNotExists'])
  if (pushUpdatePolicy !== settings.pushUpdatePolicy.default && strategy !== 'push') {
    // Not ignored silently: whoever set it expects stored passwords that are never overwritten.
    throw new ConfigError(`${settings.pushUpdatePolicy.env}=${pushUpdatePolicy}: applies to ${settings.strategy.env}=push only (the strategy is ${strategy})`)
  }
  const leaseNamespace = checked(settings.leaseNamespace, (v) => v === 'none' || isDnsLabel(v), 'a namespace name or none')

  return Object.freeze({
    port: integer(settings.port, 0, 65535),
    tls: certFile === '' ? undefined : Object.freeze({ certFile, keyFile }),
    kubeconfig: kubeconfig === '' ? undefined : kubeconfig,
    storageNamespace: checked(settings.storageNamespace, isDnsLabel, 'a namespace name'),
    clusterSecretStore: checked(settings.clusterSecretStore, isDnsSubdomain, 'a ClusterSecretStore name'),
    strategy,
    pushUpdatePolicy,
    inject: oneOf<InjectMode>(settings.inject, ['templates', 'pods']),
    policy,
    policyFile: policyFile === '' ? undefined : policyFile,
    // Past the webhook's timeout the API server stops waiting and admits the object unwired (failurePolicy Ignore).
    apiTimeoutMs: integer(settings.apiTimeoutMs, 100, webhookTimeoutSeconds * 1000 - admissionHeadroomMs),
    shutdownDelayMs: integer(settings.shutdownDelayMs, 0, 120_000),
    gracePeriodMs: integer(settings.gracePeriodSeconds, 0, 30 * 24 * 3600) * 1000,
    reconcileIntervalMs: integer(settings.reconcileIntervalSeconds, 1, 3600) * 1000,
    leaseNamespace: leaseNamespace === 'none' ? undefined : leaseNamespace,
    logLevel: oneOf(settings.logLevel, logLevels),
  })
}

/** Reads and parses the policy file; every problem is a ConfigError naming the file. */
export function readPolicy(path: string, readFile: (path: string) => string = (p) => readFileSync(p, 'utf8')) {
  let text: string
  try {
    text = readFile(path)
  } catch (err) {
    throw new ConfigError(`${settings.config.env}=${path}: cannot read: ${(err as Error).message}`)
  }
  return parsePolicy(text, path)
}
