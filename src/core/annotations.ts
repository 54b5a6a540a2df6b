// Reads secretwire's annotations into a typed request. Everything a user can get wrong in an annotation is
// refused here, with the annotation and the offending value in the message.
import { annotationKey, annotations, defaultEnvVar, limits, namePrefix, passwordFormNames, secretShapes, type PasswordForm, type SecretShape } from './contract.ts'
import { InvalidAnnotation } from './errors.ts'
import { memo } from '../util/memo.ts'
import { isDnsLabel, isDnsSubdomain, isEnvVarName, namePatterns, sharedSecretNameProblem } from './names.ts'

const secretKey = annotationKey(annotations.sharedSecret)
const containersKey = annotationKey(annotations.containers)
const namedKey = annotationKey(annotations.secret)

/** One entry of the shared-secret annotation: NAME[:FORM][=ENV_VAR]. */
export interface WiringEntry {
  readonly sharedSecret: string
  readonly form: PasswordForm
  readonly envVar: string
}

/** One entry of the secret annotation: NAME[:basic-auth:USERNAME]=SECRET. */
export interface NamedSecretEntry {
  readonly sharedSecret: string
  /** The Secret to make in the object's namespace. */
  readonly secret: string
  readonly shape: SecretShape
  /** For basic-auth: the `username` key. */
  readonly username?: string
}

/** The entry as written back for the reconciler (contract.ts namedSecretsAnnotation), and as parsed from there. */
export function formatNamedSecret(e: NamedSecretEntry): string {
  return `${e.sharedSecret}${e.shape === 'basic-auth' ? `:basic-auth:${e.username}` : ''}=${e.secret}`
}

export interface Wiring {
  /** Shared secret NAME → env var, in annotation order; one NAME may feed several env vars, in several forms. */
  readonly entries: readonly WiringEntry[]
  /** Secrets to make by name (the secret annotation), in annotation order; no env var goes with them. */
  readonly secrets: readonly NamedSecretEntry[]
  /** Container names from the containers annotation; undefined means every container of `containers`. */
  readonly containers: readonly string[] | undefined
  /** The containers annotation as written (for messages about it). */
  readonly containersValue: string
  readonly warnings: readonly string[]
}


/**
 * Reads the annotations of each metadata given (a workload's own and its pod template's: their union counts).
 * Returns undefined when none carries the shared-secret or the secret annotation.
 */
export function readWiring(sources: readonly unknown[]): Wiring | undefined {
  const secretValues = values(sources, secretKey)
  const namedValues = values(sources, namedKey)
  if (secretValues.length === 0 && namedValues.length === 0) return undefined
  const containerValues = values(sources, containersKey)
  // Invalid annotations throw, so only valid ones are remembered.
  return parsed.get(JSON.stringify([secretValues, containerValues, namedValues]), () => parseWiring(secretValues, containerValues, namedValues))
}

const parsed = memo<Wiring>(1024)

function parseWiring(secretValues: string[], containerValues: string[], namedValues: string[]): Wiring {
  checkLength(secretKey, secretValues)
  checkLength(containersKey, containerValues)
  checkLength(namedKey, namedValues)
  const entries: WiringEntry[] = []
  const warnings: string[] = []
  const envSource = new Map<string, string>()
  for (const value of secretValues) {
    const items = split(value)
    if (items.length === 0) throw new InvalidAnnotation(secretKey, value, 'names no shared secret')
    const seen = new Set<string>()
    for (const item of items) {
      const entry = parseEntry(secretKey, value, item)
      const source = entry.form === 'raw' ? entry.sharedSecret : `${entry.sharedSecret}:${entry.form}`
      const id = `${source}=${entry.envVar}`
      if (seen.has(id)) warnings.push(`${secretKey}: entry ${JSON.stringify(item)} is repeated`)
      seen.add(id)
      const previous = envSource.get(entry.envVar)
      // The same entry on the workload and on its template is the expected union, not a repeat.
      if (previous === source) continue
      if (previous !== undefined) {
        throw new InvalidAnnotation(secretKey, value,
          `env var ${entry.envVar} would be set from both ${JSON.stringify(previous)} and ${JSON.stringify(source)}`)
      }
      envSource.set(entry.envVar, source)
      entries.push(entry)
    }
  }
  const secrets = parseNamedSecrets(namedValues, warnings)
  const names = new Set([...entries, ...secrets].map((e) => e.sharedSecret))
  if (names.size > limits.sharedSecretsPerObject) {
    const [key, value] = secretValues.length > 0 ? [secretKey, secretValues] : [namedKey, namedValues]
    throw new InvalidAnnotation(key, value.join(', '), `names ${names.size} shared secrets; one object may name at most ${limits.sharedSecretsPerObject}`)
  }

  let containers: string[] | undefined
  for (const value of containerValues) {
    const names = split(value)
    if (names.length === 0) throw new InvalidAnnotation(containersKey, value, 'names no container')
    for (const name of names) {
      if (!isDnsLabel(name)) throw new InvalidAnnotation(containersKey, value, `${JSON.stringify(name)} is not a container name`)
    }
    containers = [...new Set([...(containers ?? []), ...names])]
  }
  return { entries, secrets, containers, containersValue: containerValues.join(', '), warnings }
}

/** The secret annotation's entries, each SECRET once. */
function parseNamedSecrets(namedValues: readonly string[], warnings: string[]): NamedSecretEntry[] {
  const bySecret = new Map<string, NamedSecretEntry>()
  for (const value of namedValues) {
    const items = split(value)
    if (items.length === 0) throw new InvalidAnnotation(namedKey, value, 'names no Secret')
    // As for shared-secret: a repeat within one value is a warning; the same entry on a workload and on its
    // template is the expected union.
    const seen = new Set<string>()
    for (const item of items) {
      const entry = parseNamedEntry(value, item)
      const id = formatNamedSecret(entry)
      if (seen.has(id)) warnings.push(`${namedKey}: entry ${JSON.stringify(item)} is repeated`)
      seen.add(id)
      const previous = bySecret.get(entry.secret)
      if (previous === undefined) bySecret.set(entry.secret, entry)
      else if (formatNamedSecret(previous) !== id) {
        throw new InvalidAnnotation(namedKey, value, `Secret ${entry.secret} would be made both as ${JSON.stringify(formatNamedSecret(previous))} and as ${JSON.stringify(id)}`)
      }
    }
  }
  return [...bySecret.values()]
}

const shapeNames = Object.keys(secretShapes).filter((s) => s !== 'opaque')

function parseNamedEntry(value: string, item: string): NamedSecretEntry {
  const eq = item.indexOf('=')
  if (eq === -1) throw new InvalidAnnotation(namedKey, value, `${JSON.stringify(item)} names no Secret: write NAME=SECRET or NAME:basic-auth:USERNAME=SECRET`)
  const [name = '', shapeName, username, ...rest] = item.slice(0, eq).split(':').map((p) => p.trim())
  const secret = item.slice(eq + 1).trim()
  const problem = sharedSecretNameProblem(name)
  if (problem !== undefined) throw new InvalidAnnotation(namedKey, value, `${JSON.stringify(name)} is not a valid NAME: ${problem}`)
  if (!isDnsSubdomain(secret)) {
    throw new InvalidAnnotation(namedKey, value, `${JSON.stringify(secret)} is not a Secret name: lower-case letters, digits, '-' and '.', at most 253 characters`)
  }
  if (secret.startsWith(namePrefix)) {
    throw new InvalidAnnotation(namedKey, value, `Secret ${secret}: names starting with ${namePrefix} are secretwire's own Secrets; choose another`)
  }
  if (shapeName === undefined) return { sharedSecret: name, secret, shape: 'opaque' }
  if (!shapeNames.includes(shapeName) || rest.length > 0) {
    throw new InvalidAnnotation(namedKey, value, `${JSON.stringify(item.slice(0, eq).trim())}: write NAME=SECRET, or NAME:basic-auth:USERNAME=SECRET`)
  }
  if (username === undefined || !namePatterns.basicAuthUsername.test(username)) {
    throw new InvalidAnnotation(namedKey, value, `${JSON.stringify(item.slice(0, eq).trim())}: basic-auth needs a USERNAME (no spaces, ',', '=' or ':'): NAME:basic-auth:USERNAME=SECRET`)
  }
  return { sharedSecret: name, secret, shape: shapeName as SecretShape, username }
}

/** The entries of a namedSecretsAnnotation value written at admission (invalid ones are skipped: it is secretwire's). */
export function parseNamedSecretsMarker(value: string | undefined): NamedSecretEntry[] {
  const out: NamedSecretEntry[] = []
  for (const item of split(value ?? '')) {
    try { out.push(parseNamedEntry(item, item)) } catch { /* not written by this secretwire */ }
  }
  return out
}

function checkLength(key: string, values: readonly string[]): void {
  for (const value of values) {
    if (value.length > limits.annotationLength) {
      throw new InvalidAnnotation(key, value, `is ${value.length} characters long; secretwire reads at most ${limits.annotationLength}`)
    }
  }
}

function values(sources: readonly unknown[], key: string): string[] {
  const found: string[] = []
  for (const source of sources) {
    const value = typeof source === 'object' && source !== null ? (source as Record<string, unknown>)[key] : undefined
    if (typeof value === 'string' && !found.includes(value)) found.push(value)
  }
  return found
}

function split(value: string): string[] {
  return value.split(',').map((s) => s.trim()).filter((s) => s !== '')
}

function parseEntry(key: string, value: string, item: string): WiringEntry {
  const eq = item.indexOf('=')
  const head = (eq === -1 ? item : item.slice(0, eq)).trim()
  const colon = head.indexOf(':')
  const sharedSecret = (colon === -1 ? head : head.slice(0, colon)).trim()
  const problem = sharedSecretNameProblem(sharedSecret)
  if (problem !== undefined) throw new InvalidAnnotation(key, value, `${JSON.stringify(sharedSecret)} is not a valid NAME: ${problem}`)
  const formName = colon === -1 ? 'raw' : head.slice(colon + 1).trim()
  if (!(passwordFormNames as string[]).includes(formName)) {
    throw new InvalidAnnotation(key, value, `${JSON.stringify(formName)} in ${JSON.stringify(head)} is not a FORM: write one of ${passwordFormNames.join(', ')}`)
  }
  const form = formName as PasswordForm
  if (eq === -1) {
    const envVar = defaultEnvVar(sharedSecret, form)
    if (!isEnvVarName(envVar)) {
      throw new InvalidAnnotation(key, value,
        `the default env var ${JSON.stringify(envVar)} for ${JSON.stringify(head)} is not a C identifier: write ${head}=ENV_VAR`)
    }
    return { sharedSecret, form, envVar }
  }
  const envVar = item.slice(eq + 1).trim()
  if (!isEnvVarName(envVar)) {
    throw new InvalidAnnotation(key, value, `${JSON.stringify(envVar)} is not a valid ENV_VAR: it must be a C identifier ([A-Za-z_][A-Za-z0-9_]*)`)
  }
  return { sharedSecret, form, envVar }
}
