// Reads secretwire's annotations into a typed request. Everything a user can get wrong in an annotation is
// refused here, with the annotation and the offending value in the message.
import { annotationKey, annotations, defaultEnvVar, limits, passwordFormNames, type PasswordForm } from './contract.ts'
import { InvalidAnnotation } from './errors.ts'
import { memo } from '../util/memo.ts'
import { isDnsLabel, isEnvVarName, sharedSecretNameProblem } from './names.ts'

const secretKey = annotationKey(annotations.sharedSecret)
const containersKey = annotationKey(annotations.containers)

/** One entry of the shared-secret annotation: NAME[:FORM][=ENV_VAR]. */
export interface WiringEntry {
  readonly sharedSecret: string
  readonly form: PasswordForm
  readonly envVar: string
}

export interface Wiring {
  /** Shared secret NAME → env var, in annotation order; one NAME may feed several env vars, in several forms. */
  readonly entries: readonly WiringEntry[]
  /** Container names from the containers annotation; undefined means every container of `containers`. */
  readonly containers: readonly string[] | undefined
  /** The containers annotation as written (for messages about it). */
  readonly containersValue: string
  readonly warnings: readonly string[]
}


/**
 * Reads the annotations of each metadata given (a workload's own and its pod template's: their union counts).
 * Returns undefined when none carries the shared-secret annotation.
 */
export function readWiring(sources: readonly unknown[]): Wiring | undefined {
  const secretValues = values(sources, secretKey)
  if (secretValues.length === 0) return undefined
  const containerValues = values(sources, containersKey)
  // Invalid annotations throw, so only valid ones are remembered.
  return parsed.get(JSON.stringify([secretValues, containerValues]), () => parseWiring(secretValues, containerValues))
}

const parsed = memo<Wiring>(1024)

function parseWiring(secretValues: string[], containerValues: string[]): Wiring {
  checkLength(secretKey, secretValues)
  checkLength(containersKey, containerValues)
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
  const names = new Set(entries.map((e) => e.sharedSecret))
  if (names.size > limits.sharedSecretsPerObject) {
    throw new InvalidAnnotation(secretKey, secretValues.join(', '),
      `names ${names.size} shared secrets; one object may name at most ${limits.sharedSecretsPerObject}`)
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
  return { entries, containers, containersValue: containerValues.join(', '), warnings }
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
