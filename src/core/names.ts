// Kubernetes name rules secretwire checks before using a value in an object name, a label or an env var.
import { maxNameLength } from './contract.ts'

/**
 * The patterns, also read by the in-apiserver injection (src/manifests/injection.ts) as RE2: keep them to the
 * syntax both engines read alike.
 */
export const namePatterns = {
  dns1123Label: /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/,
  dns1123Subdomain: /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/,
  cIdentifier: /^[A-Za-z_][A-Za-z0-9_]*$/,
  /** The USERNAME of a basic-auth named Secret. */
  basicAuthUsername: /^[^\s,=:]+$/,
} as const
const { dns1123Label, dns1123Subdomain, cIdentifier } = namePatterns

export function isDnsLabel(value: string): boolean {
  return value.length <= 63 && dns1123Label.test(value)
}

export function isDnsSubdomain(value: string): boolean {
  return value.length <= 253 && dns1123Subdomain.test(value)
}

/** Why a shared-secret NAME is unusable, or undefined when it is fine. */
export function sharedSecretNameProblem(name: string): string | undefined {
  if (!dns1123Label.test(name)) {
    return 'it must be a DNS-1123 label: lower-case letters, digits and \'-\', starting and ending with a letter or digit'
  }
  if (name.length > maxNameLength) return `it must be at most ${maxNameLength} characters`
  return undefined
}

/** An env var name secretwire will inject: a C identifier, so `$(VAR)` references to it work. */
export function isEnvVarName(value: string): boolean {
  return cIdentifier.test(value)
}
