// The pure core: an admission request and the settings in, a decision out — the JSON patch for the object and
// the ESO objects that must exist. No I/O: the webhook and `secretwire render` both run exactly this.
import type { Operation } from 'fast-json-patch'
import type { AdmissionRequest } from './review.ts'
import { formatNamedSecret, readWiring, type NamedSecretEntry, type Wiring } from './annotations.ts'
import { annotationKey, annotations, consumerAnnotation, consumerLabel, excludedNamespaces, namedSecretsAnnotation, type InjectMode } from './contract.ts'
import { EnvConflict, InvalidAnnotation, InvalidObject, MountConflict, NamespaceExcluded, NamespaceNotAllowed, StorageNamespace } from './errors.ts'
import { consumerExternalSecret, envVar, fileVolume, fileVolumeMount, namedExternalSecret, storageObjects, type EnvVar, type EsoSettings, type ManagedObject } from './esoobjects.ts'
import { memo, type Memo } from '../util/memo.ts'
import type { Policy } from './policy.ts'
import { workloadKind, type WorkloadKind } from './workload.ts'

export interface PlanSettings extends EsoSettings {
  readonly inject: InjectMode
  /** The policy in force, read once per admission. */
  readonly policy: { readonly current: Policy }
}

export type Plan =
  | { readonly wire: false, readonly reason: string }
  | {
    readonly wire: true
    readonly namespace: string
    readonly sharedSecrets: readonly string[]
    readonly patch: readonly Operation[]
    /** In creation order: generators and stored secrets first, then the workload namespace's ExternalSecrets. */
    readonly ensure: readonly ManagedObject[]
    readonly warnings: readonly string[]
  }

type Json = Record<string, unknown>

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function child(value: unknown, key: string): Json | undefined {
  return isObject(value) && isObject(value[key]) ? value[key] : undefined
}

export function plan(request: AdmissionRequest, settings: PlanSettings): Plan {
  const workload = workloadKind(request.kind.group, request.kind.kind)
  if (workload === undefined) return { wire: false, reason: `kind ${request.kind.kind} is not wired by secretwire` }
  if (!workload.operations.includes(request.operation)) {
    return { wire: false, reason: `${request.operation} of ${workload.kind} is not wired by secretwire` }
  }
  const object = request.object
  if (!isObject(object)) throw new InvalidObject(`the AdmissionReview carries no object to ${request.operation}`)
  const metadata = child(object, 'metadata')

  // What controllers do to an object after its admission is theirs: secretwire neither blocks nor changes it.
  if (metadata?.deletionTimestamp != null) return { wire: false, reason: `${workload.kind} is being deleted` }
  const owner = workload.kind === 'Pod' ? undefined : controllerOf(metadata)
  if (request.operation === 'UPDATE') {
    // Any change to a Job's pod template is refused by the API server: its Pods are wired when created.
    if (workload.templateImmutable === true) return { wire: false, reason: `a ${workload.kind}'s pod template cannot change after creation` }
    // A ReplicaSet of a Deployment, a Job of a CronJob: a template changed here no longer matches the owner's, and
    // the owner's controller would make another copy, and another. Its owner carries the wiring, its Pods too.
    if (owner !== undefined) return { wire: false, reason: `controlled by ${owner}, which carries the wiring` }
  }

  const template = templateOf(workload, object)
  const wiring = readWiring(annotationSources(workload, object))
  if (wiring === undefined) return { wire: false, reason: 'not annotated' }
  if (settings.inject === 'pods' && workload.templatePath.length > 0) annotationsOnTemplate(workload, metadata, template)

  const namespace = request.namespace || (child(object, 'metadata')?.namespace as string | undefined)
  if (namespace === undefined || namespace === '') throw new InvalidObject(`${workload.kind} has no namespace`)
  if (excludedNamespaces.includes(namespace)) throw new NamespaceExcluded(namespace)
  if (namespace === settings.storageNamespace) throw new StorageNamespace(namespace)
  const policy = settings.policy.current
  // Every NAME the object uses; those it takes as env vars or files get the Secret secretwire-NAME here.
  const sharedSecrets = [...new Set([...wiring.entries, ...wiring.secrets].map((e) => e.sharedSecret))]
  const injected = [...new Set(wiring.entries.map((e) => e.sharedSecret))]
  for (const name of sharedSecrets) {
    const secretPolicy = policy.forSecret(name)
    if (!secretPolicy.allows(namespace)) throw new NamespaceNotAllowed(name, namespace, secretPolicy.namespaces)
  }

  // Computed even when templates are left alone (inject=pods): a workload whose Pods would be denied is denied now.
  const patch = wiring.entries.length > 0 ? envPatch(workload, template, wiring) : []
  // A controlled workload's template is its owner's copy (see above): left alone, its Pods are wired at creation.
  const injectHere = workload.kind === 'Pod' || (settings.inject === 'templates' && owner === undefined)
  const warnings = [...wiring.warnings]
  if (!injectHere && owner === undefined && patch.length > 0) {
    warnings.push(`SECRETWIRE_INJECT=pods: this ${workload.kind}'s pod template is left as is; ` +
      `${wiring.entries.map((e) => e.envVar).join(', ')} are added to its Pods when they are created`)
  }

  const ensure = [...objectsToEnsure(sharedSecrets, injected, namespace, settings, policy), ...wiring.secrets.map((e) => namedExternalSecret(e, namespace, settings))]
  // The object secretwire wires says so in its own metadata, for the reconciler to find (contract.ts).
  const mark = injectHere ? consumerPatch(metadata, injected, wiring.secrets) : []
  return { wire: true, namespace, sharedSecrets, patch: injectHere ? [...mark, ...patch] : [], ensure, warnings }
}

// They depend only on the NAMEs, the namespace, the settings and the policy (for the generator's shape), and
// every Pod of a workload asks for the same. A reloaded policy is a new object, so it gets fresh memos.
const ensureMemos = new WeakMap<PlanSettings, WeakMap<Policy, Memo<readonly ManagedObject[]>>>()

function objectsToEnsure(sharedSecrets: readonly string[], injected: readonly string[], namespace: string, settings: PlanSettings, policy: Policy): readonly ManagedObject[] {
  let byPolicy = ensureMemos.get(settings)
  if (byPolicy === undefined) ensureMemos.set(settings, byPolicy = new WeakMap())
  let memos = byPolicy.get(policy)
  if (memos === undefined) byPolicy.set(policy, memos = memo(1024))
  return memos.get(`${namespace}/${sharedSecrets.join(',')}/${injected.join(',')}`, () => [
    ...sharedSecrets.flatMap((name) => storageObjects(name, policy.forSecret(name).password, settings)),
    ...injected.map((name) => consumerExternalSecret(name, namespace, settings)),
  ])
}

function templateOf(workload: WorkloadKind, object: Json): Json | undefined {
  let template: Json | undefined = object
  for (const key of workload.templatePath) template = child(template, key)
  return template
}

/** The annotations that count: a Pod's own; a workload's own and its pod template's. */
function annotationSources(workload: WorkloadKind, object: Json): unknown[] {
  const own = child(object, 'metadata')?.annotations
  return workload.templatePath.length === 0 ? [own] : [own, child(templateOf(workload, object), 'metadata')?.annotations]
}

/** A JSON pointer's escaping of one key (RFC 6901). */
const pointer = (key: string) => key.replaceAll('~', '~0').replaceAll('/', '~1')
// The keys are constants: their paths are made once, not per admission (measured by bench/profile.ts: 2 µs each time).
const consumerLabelPath = `/metadata/labels/${pointer(consumerLabel.key)}`
const notePaths: Readonly<Record<string, string>> = Object.fromEntries([consumerAnnotation, namedSecretsAnnotation].map((key) => [key, `/metadata/annotations/${pointer(key)}`]))

/** Adds what is missing of the consumer label and annotations (contract.ts) to the object's metadata. */
function consumerPatch(metadata: Json | undefined, injected: readonly string[], secrets: readonly NamedSecretEntry[]): Operation[] {
  const notesWanted: Record<string, string> = {}
  if (injected.length > 0) notesWanted[consumerAnnotation] = [...injected].sort().join(',')
  if (secrets.length > 0) notesWanted[namedSecretsAnnotation] = secrets.map(formatNamedSecret).join(',')
  const ops: Operation[] = []
  const labels = child(metadata, 'labels')
  if (labels === undefined) ops.push({ op: 'add', path: '/metadata/labels', value: { [consumerLabel.key]: consumerLabel.value } })
  else if (labels[consumerLabel.key] !== consumerLabel.value) ops.push({ op: 'add', path: consumerLabelPath, value: consumerLabel.value })
  const notes = child(metadata, 'annotations')
  if (notes === undefined) ops.push({ op: 'add', path: '/metadata/annotations', value: notesWanted })
  else {
    for (const [key, value] of Object.entries(notesWanted)) {
      if (notes[key] !== value) ops.push({ op: 'add', path: notePaths[key]!, value })
    }
  }
  return ops
}

/** "Deployment web" for an object with a controller owner reference. */
function controllerOf(metadata: Json | undefined): string | undefined {
  const refs = metadata?.ownerReferences
  const ref = Array.isArray(refs) ? refs.find((r: unknown) => isObject(r) && r.controller === true) as Json | undefined : undefined
  return ref === undefined ? undefined : `${String(ref.kind)} ${String(ref.name)}`
}

/**
 * With SECRETWIRE_INJECT=pods the Pods are wired from their own annotations, and a Pod inherits only its
 * template's: an annotation on the workload alone would wire nothing. Refused, saying where it belongs.
 */
function annotationsOnTemplate(workload: WorkloadKind, metadata: Json | undefined, template: Json | undefined): void {
  const own = child(metadata, 'annotations') ?? {}
  const onTemplate = child(child(template, 'metadata'), 'annotations') ?? {}
  for (const a of [annotations.sharedSecret, annotations.containers, annotations.secret]) {
    const key = annotationKey(a)
    if (typeof own[key] === 'string' && own[key] !== onTemplate[key]) {
      throw new InvalidAnnotation(key, own[key], `with SECRETWIRE_INJECT=pods it must be on the pod template: Pods are wired ` +
        `from their own annotations and inherit only spec.${workload.templatePath.slice(1).join('.')}.metadata's; move it there`)
    }
  }
}

/**
 * True for an UPDATE that leaves every secretwire annotation as it was: such an update (a scale, a label, a
 * controller's write) must never be refused by secretwire, whatever has changed since the object was wired.
 */
export function wiringUnchanged(request: AdmissionRequest): boolean {
  const workload = workloadKind(request.kind.group, request.kind.kind)
  const { object, oldObject } = request
  if (request.operation !== 'UPDATE' || workload === undefined || !isObject(object) || !isObject(oldObject)) return false
  const values = (o: Json) => JSON.stringify(annotationSources(workload, o).map((a) => [annotations.sharedSecret, annotations.containers, annotations.secret]
    .map((k) => isObject(a) ? a[annotationKey(k)] : undefined)))
  return values(object) === values(oldObject)
}

interface Container {
  readonly name?: unknown
  readonly env?: unknown
  readonly volumeMounts?: unknown
}

/**
 * Add operations putting the missing env vars first in each selected container (so `$(VAR)` in later ones works),
 * and for the `file` form the Pod's volume and each selected container's read-only mount of it.
 */
function envPatch(workload: WorkloadKind, template: Json | undefined, wiring: Wiring): Operation[] {
  const spec = child(template, 'spec')
  const lists = { containers: spec?.containers, initContainers: spec?.initContainers }
  if (!Array.isArray(lists.containers)) throw new InvalidObject(`${workload.kind} has no containers`)
  const specPath = ['', ...workload.templatePath, 'spec'].join('/')

  const targets: { path: string, container: Container }[] = []
  if (wiring.containers === undefined) {
    lists.containers.forEach((container: Container, i) => targets.push({ path: `${specPath}/containers/${i}`, container }))
  } else {
    for (const name of wiring.containers) {
      const found = (['containers', 'initContainers'] as const).flatMap((list) => {
        const items = lists[list]
        const i = Array.isArray(items) ? items.findIndex((c: Container) => c?.name === name) : -1
        return i === -1 ? [] : [{ path: `${specPath}/${list}/${i}`, container: (items as Container[])[i]! }]
      })[0]
      if (found === undefined) {
        throw new InvalidAnnotation(annotationKey(annotations.containers), wiring.containersValue,
          `this ${workload.kind} has no container or init container named ${JSON.stringify(name)}`)
      }
      targets.push(found)
    }
  }
  const files = [...new Set(wiring.entries.filter((e) => e.form === 'file').map((e) => e.sharedSecret))]
  return [
    ...volumePatch(specPath, spec, files),
    ...targets.flatMap(({ path, container }) => [...containerPatch(path, container, wiring), ...mountPatch(path, container, files)]),
  ]
}

function containerPatch(path: string, container: Container, wiring: Wiring): Operation[] {
  const env = Array.isArray(container.env) ? (container.env as unknown[]) : undefined
  const missing = []
  for (const { envVar: name, sharedSecret, form } of wiring.entries) {
    const wanted = envVar(name, sharedSecret, form)
    const existing = env?.find((e) => isObject(e) && e.name === name)
    if (existing === undefined) {
      missing.push(wanted)
    } else if (!sameEnv(existing, wanted)) {
      throw new EnvConflict(String(container.name), name, sharedSecret)
    }
  }
  return appended(`${path}/env`, env, missing, true)
}

/** The `file` form's volumes the Pod lacks; one of that name but another source is a conflict. */
function volumePatch(specPath: string, spec: Json | undefined, files: readonly string[]): Operation[] {
  const volumes = Array.isArray(spec?.volumes) ? (spec.volumes as unknown[]) : undefined
  const missing = []
  for (const name of files) {
    const wanted = fileVolume(name)
    const existing = volumes?.find((v) => isObject(v) && v.name === wanted.name)
    if (existing === undefined) missing.push(wanted)
    else if (!sameJson(existing, wanted)) throw new MountConflict(`the Pod already has a volume named ${wanted.name}`, name)
  }
  return appended(`${specPath}/volumes`, volumes, missing, false)
}

/** The read-only mounts a container lacks; its path taken by another mount is a conflict. */
function mountPatch(path: string, container: Container, files: readonly string[]): Operation[] {
  const mounts = Array.isArray(container.volumeMounts) ? (container.volumeMounts as unknown[]) : undefined
  const missing = []
  for (const name of files) {
    const wanted = fileVolumeMount(name)
    const existing = mounts?.find((m) => isObject(m) && (m.mountPath === wanted.mountPath || m.name === wanted.name))
    if (existing === undefined) missing.push(wanted)
    else if (!sameJson(existing, wanted)) {
      throw new MountConflict(`container ${JSON.stringify(String(container.name))} already mounts ${wanted.mountPath} or volume ${wanted.name}`, name)
    }
  }
  return appended(`${path}/volumeMounts`, mounts, missing, false)
}

/** Adds `items` to the list at `path` (created when absent): first (env, for `$(VAR)`) or last. */
function appended(path: string, list: readonly unknown[] | undefined, items: readonly unknown[], first: boolean): Operation[] {
  if (items.length === 0) return []
  if (list === undefined) return [{ op: 'add', path, value: items }]
  return items.map((value, i) => ({ op: 'add', path: `${path}/${first ? i : '-'}`, value }))
}

/** An env var already wired by secretwire (on re-invocation, or by a template that was wired before). */
function sameEnv(existing: unknown, wanted: EnvVar): boolean {
  if (!isObject(existing)) return false
  if ('value' in wanted) return existing.value === wanted.value && existing.valueFrom === undefined
  const ref = child(child(existing, 'valueFrom'), 'secretKeyRef')
  return existing.value === undefined &&
    ref?.name === wanted.valueFrom.secretKeyRef.name && ref?.key === wanted.valueFrom.secretKeyRef.key
}

/** What secretwire wrote is all there (the API server adds defaults, a user may add fields: both are fine). */
function sameJson(existing: unknown, wanted: unknown): boolean {
  if (typeof wanted !== 'object' || wanted === null) return existing === wanted
  if (typeof existing !== 'object' || existing === null || Array.isArray(existing) !== Array.isArray(wanted)) return false
  return Object.entries(wanted).every(([k, v]) => sameJson((existing as Record<string, unknown>)[k], v))
}
