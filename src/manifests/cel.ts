// Small pieces of CEL that the generated admission policies share.
import { identities, serviceAccountUser } from '../core/contract.ts'

/** A CEL string literal. */
export function cel(value: string): string {
  return `'${value.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`
}

/** True when the request is made by secretwire's ServiceAccount. */
export const bySecretwire = `request.userInfo.username == ${cel(serviceAccountUser(identities.secretwire))}`

/** True when the requester is in the break-glass group. */
export const byBreakGlass = `${cel(identities.breakGlassGroup)} in request.userInfo.groups`

/** True while the object's namespace is being deleted: its contents must be able to go. */
export const namespaceTerminating = 'namespaceObject != null && has(namespaceObject.metadata.deletionTimestamp)'

/** `object.F == oldObject.F`, where either may lack F. */
export function unchanged(field: string): string {
  return `(has(object.${field}) == has(oldObject.${field}) && (!has(object.${field}) || object.${field} == oldObject.${field}))`
}
