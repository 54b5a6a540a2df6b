// The MutatingAdmissionPolicy that does the webhook's Pod injection inside the API server (Kubernetes 1.36+,
// admissionregistration.k8s.io/v1), so annotated Pods are admitted wired while secretwire is down. Generated from
// the contract, and held equal to the webhook's planner (src/core/plan.ts) by test/manifests/injection.test.ts,
// which stores the same Pods through the real API server with only one or only the other active.
//
// It injects; it never refuses. An annotation the webhook would deny (a bad NAME, an env var set two ways, a
// container that is not there, a conflicting env var or mount) leaves the Pod as written: the webhook, when up,
// denies it with its message, and when down `secretwire-wired` refuses it unwired. Which namespaces may use which
// NAME is in the policy file, which CEL cannot read: the policy injects in every namespace its binding covers,
// and the reconciler makes the Secret only where the policy file allows (docs/operations.md, "In-apiserver
// injection").
import type { V1beta1MutatingAdmissionPolicy, V1beta1MutatingAdmissionPolicyBinding } from '@kubernetes/client-node'
import {
  annotationKey, annotations, consumerAnnotation, consumerLabel, excludedNamespaces, fileMode, fileMountRoot, limits, maxNameLength, namePrefix,
  namedSecretsAnnotation, passwordFormNames, passwordForms, passwordKey, secretShapes,
} from '../core/contract.ts'
import { namePatterns } from '../core/names.ts'
import { cel } from './cel.ts'
import type { GuardSettings } from './policies.ts'
import type { Manifest } from './yaml.ts'

export const injectionPolicyName = 'secretwire-inject'

// The v1 objects have the v1beta1 shape; the client library has no v1 types yet.
type Policy = Manifest<V1beta1MutatingAdmissionPolicy | V1beta1MutatingAdmissionPolicyBinding>

const secretKey = cel(annotationKey(annotations.sharedSecret))
const containersKey = cel(annotationKey(annotations.containers))
const namedKey = cel(annotationKey(annotations.secret))
const re = (pattern: RegExp) => cel(pattern.source)
/** A JSON pointer segment in CEL: an annotation or label key with its '/'. */
const pointer = (key: string) => cel(key.replaceAll('~', '~0').replaceAll('/', '~1'))

/** CEL: NAME → its Secret, volume name (`secretwire-NAME`). */
const resource = (name: string) => `${cel(namePrefix)} + ${name}`
const directory = (name: string) => `${cel(fileMountRoot + '/')} + ${name}`
/** CEL: a form's env var suffix and Secret key. */
const suffix = (form: string) => `(${passwordFormNames.filter((f) => passwordForms[f].envSuffix !== '')
  .map((f) => `${form} == ${cel(f)} ? ${cel(passwordForms[f].envSuffix)} : `).join('')}'')`
const key = (form: string) => passwordFormNames.filter((f) => passwordForms[f].key !== passwordForms.raw.key)
  .reduceRight((otherwise, f) => `(${form} == ${cel(f)} ? ${cel(passwordForms[f].key)} : ${otherwise})`, cel(passwordForms.raw.key))

/** CEL: the env var of wanted entry `w` (src/core/esoobjects.ts envVar), typed for container list `list`. */
function envVar(list: string, w: string): string {
  const t = `Object.spec.${list}.env`
  return `(${w}.form == 'file'\n` +
    `    ? ${t}{name: ${w}.env, value: ${directory(`${w}.name`)} + ${cel('/' + passwordKey)}}\n` +
    `    : ${t}{name: ${w}.env, valueFrom: ${t}.valueFrom{secretKeyRef: ${t}.valueFrom.secretKeyRef{name: ${resource(`${w}.name`)}, key: ${key(`${w}.form`)}}}})`
}

/** CEL: the read-only mount of NAME `n` (esoobjects.ts fileVolumeMount). */
function mount(list: string, n: string): string {
  return `Object.spec.${list}.volumeMounts{name: ${resource(n)}, mountPath: ${directory(n)}, readOnly: true}`
}

/** CEL: the Pod volume of NAME `n` (esoobjects.ts fileVolume). */
function volume(n: string): string {
  const t = 'Object.spec.volumes'
  return `${t}{name: ${resource(n)}, secret: ${t}.secret{secretName: ${resource(n)}, ` +
    `items: [${t}.secret.items{key: ${cel(passwordKey)}, path: ${cel(passwordKey)}}], defaultMode: ${fileMode}}}`
}

/** CEL: true when existing env var `e` is what the webhook would write for `w` (plan.ts sameEnv). */
const sameEnv = (e: string, w: string) => `(${w}.form == 'file'\n` +
  `      ? has(${e}.value) && ${e}.value == ${directory(`${w}.name`)} + ${cel('/' + passwordKey)} && !has(${e}.valueFrom)\n` +
  `      : !has(${e}.value) && has(${e}.valueFrom) && has(${e}.valueFrom.secretKeyRef) &&\n` +
  `        ${e}.valueFrom.secretKeyRef.name == ${resource(`${w}.name`)} && ${e}.valueFrom.secretKeyRef.key == ${key(`${w}.form`)})`

type ContainerList = 'containers' | 'initContainers'

/** CEL: true when container `c` of `list` is selected: every container without the containers annotation, else those it names. */
const selectedIn = (list: ContainerList, c: string) => list === 'containers'
  ? `!variables.hasSelection || ${c}.name in variables.selection`
  : `variables.hasSelection && ${c}.name in variables.selection`

/**
 * CEL: the operations for the selected containers of one list: the missing env vars first, in annotation order,
 * then the missing mounts last (plan.ts containerPatch and mountPatch).
 */
function containerOps(list: ContainerList): string {
  const selected = selectedIn(list, 'c')
  const path = `'/spec/${list}/' + string(i)`
  const missingEnv = 'variables.wanted.filter(w, !c.env.exists(e, e.name == w.env))'
  const missingMounts = `variables.files.filter(n, !c.volumeMounts.exists(m, m.mountPath == ${directory('n')} || m.name == ${resource('n')}))`
  return `(has(object.spec.${list}) ? object.spec.${list}.transformList(i, c, ${selected},\n` +
    '  (size(variables.wanted) == 0 ? [] : !has(c.env)\n' +
    `    ? [JSONPatch{op: 'add', path: ${path} + '/env', value: variables.wanted.map(w, ${envVar(list, 'w')})}]\n` +
    `    : lists.range(size(${missingEnv})).map(k, JSONPatch{op: 'add', path: ${path} + '/env/' + string(k),\n` +
    `        value: ${envVar(list, `${missingEnv}[k]`)}})) +\n` +
    '  (size(variables.files) == 0 ? [] : !has(c.volumeMounts)\n' +
    `    ? [JSONPatch{op: 'add', path: ${path} + '/volumeMounts', value: variables.files.map(n, ${mount(list, 'n')})}]\n` +
    `    : ${missingMounts}.map(n, JSONPatch{op: 'add', path: ${path} + '/volumeMounts/-', value: ${mount(list, 'n')}}))\n` +
    ').flatten() : [])'
}

/** CEL: true when container `c` holds nothing that conflicts with the wiring (the webhook's EnvConflict, MountConflict). */
const containerFits = (c: string) =>
  `(!has(${c}.env) || variables.wanted.all(w, ${c}.env.filter(e, e.name == w.env).all(e, ${sameEnv('e', 'w')}))) &&\n` +
  `  (!has(${c}.volumeMounts) || variables.files.all(n, ${c}.volumeMounts.filter(m, m.mountPath == ${directory('n')} || m.name == ${resource('n')})\n` +
  `    .all(m, m.name == ${resource('n')} && m.mountPath == ${directory('n')} && has(m.readOnly) && m.readOnly)))`

export function injectionPolicy(s: Pick<GuardSettings, 'storageNamespace'>): Policy[] {
  const forms = `[${passwordFormNames.map(cel).join(', ')}]`
  const basicAuth = cel(Object.keys(secretShapes).find((shape) => shape !== 'opaque')!)
  const name = (n: string) => `${n}.matches(${re(namePatterns.dns1123Label)}) && size(${n}) <= ${maxNameLength}`
  /** CEL: each item split at its first '=' into 'head' and `right` (both trimmed); 'eq' says whether it had one. */
  const atEquals = (items: string, right: string) => `${items}.map(e, e.contains('=')\n` +
    `  ? {'head': e.substring(0, e.indexOf('=')).trim(), '${right}': e.substring(e.indexOf('=') + 1).trim(), 'eq': 'y'}\n` +
    `  : {'head': e, '${right}': '', 'eq': 'n'})`
  /** CEL: the ':'-separated parts of a named entry's head, trimmed (-1: the list itself). */
  const part = (n: string, i: number) => i < 0 ? `${n}.head.split(':')` : `${n}.head.split(':')[${i}].trim()`
  const split = (k: string) => `${k} in variables.annotations\n  ? variables.annotations[${k}].split(',').map(e, e.trim()).filter(e, e != '') : []`
  return [{
    comment: 'Wires annotated Pods inside the API server, exactly as the webhook does (the same env vars first in the\n' +
      'selected containers and init containers, the file form\'s volume and mounts, the consumer label and markers),\n' +
      'so deploys go on while secretwire is down. It never refuses: what the webhook would deny it leaves unwired, for\n' +
      'the webhook or secretwire-wired to refuse. The ESO objects are made by secretwire\'s reconciler once it is back,\n' +
      'in the namespaces the policy file allows; until then the Pods wait for their Secret.',
    object: {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'MutatingAdmissionPolicy',
      metadata: { name: injectionPolicyName },
      spec: {
        // As the webhook: an error here never blocks a Pod; secretwire-wired refuses one left unwired.
        failurePolicy: 'Ignore',
        // Again after a later mutation (a webhook adding a container); every operation below is idempotent.
        reinvocationPolicy: 'IfNeeded',
        matchConstraints: { resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'] }] },
        matchConditions: [{
          name: 'annotated',
          expression: `has(object.metadata.annotations) && (${secretKey} in object.metadata.annotations || ${namedKey} in object.metadata.annotations)`,
        }],
        variables: [
          { name: 'annotations', expression: 'object.metadata.annotations' },
          { name: 'items', expression: split(secretKey) },
          {
            // Each entry NAME[:FORM][=ENV_VAR] (src/core/annotations.ts parseEntry); 'src' is NAME[:FORM], one per env var.
            name: 'parsed',
            expression: `${atEquals('variables.items', 'env')}.map(p, p.head.contains(':')\n` +
              '  ? {\'name\': p.head.substring(0, p.head.indexOf(\':\')).trim(), \'form\': p.head.substring(p.head.indexOf(\':\') + 1).trim(), \'env\': p.env, \'eq\': p.eq}\n' +
              '  : {\'name\': p.head, \'form\': \'raw\', \'env\': p.env, \'eq\': p.eq})\n' +
              '.map(p, {\'name\': p.name, \'form\': p.form, \'src\': p.form == \'raw\' ? p.name : p.name + \':\' + p.form,\n' +
              `  'env': p.eq == 'y' ? p.env : p.name.upperAscii().replace('-', '_') + ${suffix('p.form')}})`,
          },
          {
            // One entry per env var, the first (a repeat is the same entry: an env var set two ways is invalid).
            name: 'wanted',
            expression: 'lists.range(size(variables.parsed)).filter(i, variables.parsed.map(p, p.env).indexOf(variables.parsed[i].env) == i)\n' +
              '  .map(i, variables.parsed[i])',
          },
          { name: 'files', expression: 'variables.wanted.filter(w, w.form == \'file\').map(w, w.name).distinct()' },
          { name: 'namedItems', expression: split(namedKey) },
          {
            // Each entry NAME[:basic-auth:USERNAME]=SECRET (annotations.ts parseNamedEntry), as the marker writes it.
            name: 'named',
            expression: `${atEquals('variables.namedItems', 'secret')}.map(n, {\n` +
              `  'ok': n.eq == 'y' && (size(${part('n', -1)}) == 1 || (size(${part('n', -1)}) == 3 && ${part('n', 1)} == ${basicAuth} &&\n` +
              `    ${part('n', 2)}.matches(${re(namePatterns.basicAuthUsername)}))) ? 'y' : 'n',\n` +
              `  'name': ${part('n', 0)}, 'secret': n.secret,\n` +
              `  'format': size(${part('n', -1)}) == 3 ? ${part('n', 0)} + ':' + ${basicAuth} + ':' + ${part('n', 2)} + '=' + n.secret : ${part('n', 0)} + '=' + n.secret})`,
          },
          { name: 'hasSelection', expression: `${containersKey} in variables.annotations` },
          { name: 'selection', expression: split(containersKey) },
          {
            name: 'consumes',
            expression: 'variables.wanted.map(w, w.name).distinct().sort().join(\',\')',
          },
          { name: 'secrets', expression: 'variables.named.map(n, n.format).distinct().join(\',\')' },
          {
            // Everything the webhook checks before it wires a Pod (annotations.ts, plan.ts): where it would deny,
            // nothing is injected.
            name: 'valid',
            expression: [
              `[${secretKey}, ${containersKey}, ${namedKey}].all(k, !(k in variables.annotations) || size(variables.annotations[k]) <= ${limits.annotationLength})`,
              `!(${secretKey} in variables.annotations) || size(variables.items) > 0`,
              `variables.parsed.all(p, ${name('p.name')} && p.form in ${forms} && p.env.matches(${re(namePatterns.cIdentifier)}))`,
              'variables.parsed.all(p, variables.parsed.all(q, p.env != q.env || p.src == q.src))',
              `!(${namedKey} in variables.annotations) || size(variables.namedItems) > 0`,
              `variables.named.all(n, n.ok == 'y' && ${name('n.name')} && n.secret.matches(${re(namePatterns.dns1123Subdomain)}) && size(n.secret) <= 253 &&\n` +
              `  !n.secret.startsWith(${cel(namePrefix)}))`,
              'variables.named.all(n, variables.named.all(m, m.secret != n.secret || m.format == n.format))',
              `size((variables.parsed.map(p, p.name) + variables.named.map(n, n.name)).distinct()) <= ${limits.sharedSecretsPerObject}`,
              `!variables.hasSelection || (size(variables.selection) > 0 && variables.selection.all(c, c.matches(${re(namePatterns.dns1123Label)}) && size(c) <= 63))`,
              'size(variables.wanted) == 0 || variables.selection.all(n, object.spec.containers.exists(c, c.name == n) ||\n' +
              '  (has(object.spec.initContainers) && object.spec.initContainers.exists(c, c.name == n)))',
              `!has(object.spec.volumes) || variables.files.all(n, object.spec.volumes.filter(v, v.name == ${resource('n')}).all(v,\n` +
              `  has(v.secret) && has(v.secret.secretName) && v.secret.secretName == ${resource('n')} && has(v.secret.items) && size(v.secret.items) > 0 &&\n` +
              `  v.secret.items[0].key == ${cel(passwordKey)} && v.secret.items[0].path == ${cel(passwordKey)} && has(v.secret.defaultMode) && v.secret.defaultMode == ${fileMode}))`,
              `size(variables.wanted) == 0 || object.spec.containers.filter(c, ${selectedIn('containers', 'c')}).all(c, ${containerFits('c')})`,
              `size(variables.wanted) == 0 || !has(object.spec.initContainers) || object.spec.initContainers.filter(c, ${selectedIn('initContainers', 'c')})\n  .all(c, ${containerFits('c')})`,
            ].map((e) => `(${e})`).join(' &&\n'),
          },
        ],
        mutations: [{
          patchType: 'JSONPatch',
          jsonPatch: {
            expression: '!variables.valid ? [] :\n' +
              // The consumer label and markers (plan.ts consumerPatch), for the reconciler to find the Pod.
              `(!has(object.metadata.labels) ? [JSONPatch{op: 'add', path: '/metadata/labels', value: {${cel(consumerLabel.key)}: ${cel(consumerLabel.value)}}}]\n` +
              `  : ${cel(consumerLabel.key)} in object.metadata.labels && object.metadata.labels[${cel(consumerLabel.key)}] == ${cel(consumerLabel.value)} ? []\n` +
              `  : [JSONPatch{op: 'add', path: '/metadata/labels/' + ${pointer(consumerLabel.key)}, value: ${cel(consumerLabel.value)}}]) +\n` +
              `(size(variables.wanted) == 0 || (${cel(consumerAnnotation)} in variables.annotations && variables.annotations[${cel(consumerAnnotation)}] == variables.consumes) ? []\n` +
              `  : [JSONPatch{op: 'add', path: '/metadata/annotations/' + ${pointer(consumerAnnotation)}, value: variables.consumes}]) +\n` +
              `(size(variables.named) == 0 || (${cel(namedSecretsAnnotation)} in variables.annotations && variables.annotations[${cel(namedSecretsAnnotation)}] == variables.secrets) ? []\n` +
              `  : [JSONPatch{op: 'add', path: '/metadata/annotations/' + ${pointer(namedSecretsAnnotation)}, value: variables.secrets}]) +\n` +
              // The file form's volumes, last (plan.ts volumePatch).
              '(size(variables.files) == 0 ? [] : !has(object.spec.volumes)\n' +
              `  ? [JSONPatch{op: 'add', path: '/spec/volumes', value: variables.files.map(n, ${volume('n')})}]\n` +
              `  : variables.files.filter(n, !object.spec.volumes.exists(v, v.name == ${resource('n')}))\n` +
              `    .map(n, JSONPatch{op: 'add', path: '/spec/volumes/-', value: ${volume('n')}})) +\n` +
              `${containerOps('containers')} +\n${containerOps('initContainers')}`,
          },
        }],
      },
    },
  }, {
    comment: `Binds ${injectionPolicyName} where the webhook wires Pods: every namespace but the system ones and the storage namespace.`,
    object: {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'MutatingAdmissionPolicyBinding',
      metadata: { name: injectionPolicyName },
      spec: {
        policyName: injectionPolicyName,
        matchResources: {
          namespaceSelector: {
            matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: [...excludedNamespaces, s.storageNamespace] }],
          },
        },
      },
    },
  }]
}
