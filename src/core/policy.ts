// Per shared secret policy from the SECRETWIRE_CONFIG file: which namespaces may use it and the shape of its
// generated password. Parsing validates everything up front, so a bad file stops secretwire at start instead of
// surfacing as an ESO error long after.
import { Type, type Static } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import picomatch from 'picomatch'
import { parse as parseYaml } from 'yaml'
import { defaultPassword, type PasswordShape } from './contract.ts'
import { ConfigError } from './errors.ts'
import { sharedSecretNameProblem } from './names.ts'

const PasswordSchema = Type.Partial(Type.Object({
  length: Type.Integer({ minimum: 1, maximum: 1024 }),
  digits: Type.Integer({ minimum: 0 }),
  symbols: Type.Integer({ minimum: 0 }),
  symbolCharacters: Type.String({ minLength: 1 }),
  noUpper: Type.Boolean(),
  allowRepeat: Type.Boolean(),
}, { additionalProperties: false }))

const SecretPolicySchema = Type.Object({
  /** Namespace names or globs (`team-*`); default: every namespace. An empty list allows none. */
  namespaces: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
  /** Overrides of the generator shape, field by field. */
  password: Type.Optional(PasswordSchema),
}, { additionalProperties: false })

export const PolicyFileSchema = Type.Object({
  /** Applies to every shared secret, listed or not; a listed secret's fields override it. */
  defaults: Type.Optional(SecretPolicySchema),
  sharedSecrets: Type.Optional(Type.Record(Type.String(), SecretPolicySchema)),
}, { additionalProperties: false })

type SecretPolicyFile = Static<typeof SecretPolicySchema>

export interface SecretPolicy {
  /** As written in the policy, for messages. */
  readonly namespaces: readonly string[]
  readonly password: PasswordShape
  allows(namespace: string): boolean
}

export interface Policy {
  forSecret(name: string): SecretPolicy
}

/**
 * The policy in force. An admission reads `current` once and decides with it throughout, so a reload never
 * splits one decision between two policies.
 */
export class PolicyHolder {
  constructor(private policy: Policy) {}
  get current(): Policy {
    return this.policy
  }
  replace(policy: Policy): void {
    this.policy = policy
  }
}

/** Every namespace, the seed's password: the policy when no file is given. */
export const openPolicy: Policy = compilePolicy({})

export function parsePolicy(text: string, source: string): Policy {
  let data: unknown
  try {
    data = parseYaml(text) ?? {}
  } catch (err) {
    throw new ConfigError(`${source}: not valid YAML: ${(err as Error).message}`)
  }
  const first = Value.Errors(PolicyFileSchema, data).First()
  if (first !== undefined) {
    throw new ConfigError(`${source}: ${first.path || '/'}: ${first.message}`)
  }
  return compilePolicy(data as Static<typeof PolicyFileSchema>)
}

function compilePolicy(file: Static<typeof PolicyFileSchema>): Policy {
  const defaults = secretPolicy('defaults', {}, file.defaults ?? {})
  const listed = new Map<string, SecretPolicy>()
  for (const [name, entry] of Object.entries(file.sharedSecrets ?? {})) {
    const problem = sharedSecretNameProblem(name)
    if (problem !== undefined) throw new ConfigError(`sharedSecrets.${name}: not a valid shared secret NAME: ${problem}`)
    listed.set(name, secretPolicy(`sharedSecrets.${name}`, file.defaults ?? {}, entry))
  }
  return { forSecret: (name) => listed.get(name) ?? defaults }
}

function secretPolicy(where: string, defaults: SecretPolicyFile, entry: SecretPolicyFile): SecretPolicy {
  const namespaces = entry.namespaces ?? defaults.namespaces ?? ['*']
  const password = Object.freeze({ ...defaultPassword, ...defaults.password, ...entry.password })
  const problem = passwordProblem(password)
  if (problem !== undefined) throw new ConfigError(`${where}.password: ${problem}`)
  const matchers = namespaces.map((glob) => picomatch(glob))
  return Object.freeze({
    namespaces: Object.freeze([...namespaces]),
    password,
    allows: (namespace: string) => matchers.some((match) => match(namespace)),
  })
}

/**
 * The constraints of the generator ESO uses (sethvargo/go-password): a shape that breaks them makes ESO fail to
 * generate, long after admission, so they are refused here.
 */
export function passwordProblem(p: PasswordShape): string | undefined {
  // ESO's urlquery (the url form) writes a space as '+', which a URL's userinfo reads as a plus; control and
  // non-ASCII characters break env files, shells and some drivers.
  if (!/^[!-~]+$/.test(p.symbolCharacters)) {
    return `symbolCharacters ${JSON.stringify(p.symbolCharacters)} may hold only printable ASCII characters, no space`
  }
  if (p.digits + p.symbols > p.length) return `digits (${p.digits}) + symbols (${p.symbols}) exceed length (${p.length})`
  if (!p.allowRepeat) {
    const letters = p.length - p.digits - p.symbols
    const available = p.noUpper ? 26 : 52
    if (letters > available) return `${letters} letters without repeats, only ${available} exist: set allowRepeat: true`
    if (p.digits > 10) return `${p.digits} digits without repeats, only 10 exist: set allowRepeat: true`
    const symbolCount = new Set(p.symbolCharacters).size
    if (p.symbols > symbolCount) {
      return `${p.symbols} symbols without repeats, symbolCharacters has ${symbolCount}: set allowRepeat: true`
    }
  }
  return undefined
}
