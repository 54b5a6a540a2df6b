// The ValidatingAdmissionPolicies that keep secretwire's promise inside the API server, where they hold while
// secretwire is down and against every identity, cluster admins included. Generated from the contract; each
// policy's first variables name the store and storage namespace, so an install with other names patches one
// expression (docs/security.md, "Guard policies").
//
//   secretwire-wired            an annotated Pod is admitted only with its env vars wired
//   secretwire-store-access     only secretwire may create or change ESO objects that reference the store
//   secretwire-managed-objects  objects labelled managed-by=secretwire are secretwire's: nobody else creates,
//                               changes or deletes them
//   secretwire-stored-secrets   a stored password is never deleted or rewritten, nor the storage namespace; only
//                               ESO creates one, and only secretwire creates ESO objects there
//   secretwire-eso-cross-namespace  the ESO features that read Secrets across namespaces are break-glass only
//   secretwire-eso-own-identity     a tenant's store or generator may not make ESO act as itself (its token, its Pod)
//   secretwire-reconciler-scope     secretwire itself deletes only its own objects, and none in the storage namespace
//
// Only the break-glass group is exempt (and secretwire's ServiceAccount where it must act); a namespace being
// deleted can always empty itself.
import type { V1ValidatingAdmissionPolicy, V1ValidatingAdmissionPolicyBinding } from '@kubernetes/client-node'
import {
  annotationKey, annotations, excludedNamespaces, fileMountRoot, identities, managedBy, namePrefix, passwordFormNames, passwordForms,
  passwordKey, serviceAccountUser, settings,
} from '../core/contract.ts'
import { resources } from '../core/esoobjects.ts'
import { byBreakGlass, bySecretwire, cel, namespaceTerminating, unchanged } from './cel.ts'
import { ownIdentityRules, providerOf } from './esoidentity.ts'
import type { Manifest } from './yaml.ts'

export interface GuardSettings {
  readonly storageNamespace: string
  readonly clusterSecretStore: string
  /** The username of ESO's controller (system:serviceaccount:NAMESPACE:NAME). */
  readonly esoController: string
}

export const defaultGuardSettings: GuardSettings = {
  storageNamespace: settings.storageNamespace.default,
  clusterSecretStore: settings.clusterSecretStore.default,
  esoController: serviceAccountUser(identities.esoController),
}

export const policyNames = {
  wired: 'secretwire-wired',
  storeAccess: 'secretwire-store-access',
  managedObjects: 'secretwire-managed-objects',
  storedSecrets: 'secretwire-stored-secrets',
  esoCrossNamespace: 'secretwire-eso-cross-namespace',
  esoOwnIdentity: 'secretwire-eso-own-identity',
  reconcilerScope: 'secretwire-reconciler-scope',
} as const

type Policy = Manifest<V1ValidatingAdmissionPolicy | V1ValidatingAdmissionPolicyBinding>

export function admissionPolicies(s: GuardSettings = defaultGuardSettings): Policy[] {
  return [...wired(), ...storeAccess(s), ...managedObjects(s), ...storedSecrets(s), ...esoCrossNamespace(), ...esoOwnIdentity(), ...reconcilerScope(s)]
}

const secretwireUser = serviceAccountUser(identities.secretwire)
const esoGroup = resources.ExternalSecret.group
const generatorGroup = resources.Password.group

function policy(name: string, comment: string, spec: V1ValidatingAdmissionPolicy['spec'],
  binding: Partial<V1ValidatingAdmissionPolicyBinding['spec']> = {}): Policy[] {
  return [
    { comment, object: { apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingAdmissionPolicy', metadata: { name }, spec } },
    {
      comment: `Binds ${name} everywhere it applies; Deny: a violation is refused, not only audited.`,
      object: {
        apiVersion: 'admissionregistration.k8s.io/v1',
        kind: 'ValidatingAdmissionPolicyBinding',
        metadata: { name },
        spec: { policyName: name, validationActions: ['Deny'], ...binding },
      },
    },
  ]
}

function wired(): Policy[] {
  const secret = cel(annotationKey(annotations.sharedSecret))
  const containers = cel(annotationKey(annotations.containers))
  const suffix = (form: string) => `(${passwordFormNames.filter((f) => passwordForms[f].envSuffix !== '')
    .map((f) => `${form} == ${cel(f)} ? ${cel(passwordForms[f].envSuffix)} : `).join('')}'')`
  const key = (form: string) => passwordFormNames.filter((f) => passwordForms[f].key !== passwordForms.raw.key)
    .reduceRight((otherwise, f) => `(${form} == ${cel(f)} ? ${cel(passwordForms[f].key)} : ${otherwise})`, cel(passwordForms.raw.key))
  return policy(policyNames.wired,
    'Denies any annotated Pod whose selected containers lack the env vars (and, for the file form, the mounts)\n' +
    'secretwire wires, whether or not the webhook ran: with the webhook\'s failurePolicy Ignore, this is what keeps an\n' +
    'annotated Pod from running unwired. It reads the annotations as secretwire does (src/core/annotations.ts):\n' +
    'entries NAME[:FORM][=ENV_VAR]; ENV_VAR defaults to NAME upper-cased with - as _, plus the form\'s suffix; the\n' +
    'containers annotation selects containers and init containers, and one that names none of them, or a name\n' +
    'that is neither, is refused as the webhook refuses it.', {
      failurePolicy: 'Fail',
      matchConstraints: { resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'] }] },
      matchConditions: [{ name: 'annotated', expression: `has(object.metadata.annotations) && ${secret} in object.metadata.annotations` }],
      variables: [
        { name: 'entries', expression: `object.metadata.annotations[${secret}].split(',').map(e, e.trim()).filter(e, e != '')` },
        {
          // NAME[:FORM] and ENV_VAR ('' when defaulted).
          name: 'parts',
          expression: 'variables.entries.map(e, e.contains(\'=\')\n' +
            '  ? {\'head\': e.substring(0, e.indexOf(\'=\')).trim(), \'env\': e.substring(e.indexOf(\'=\') + 1).trim()}\n' +
            '  : {\'head\': e, \'env\': \'\'})',
        },
        {
          name: 'named',
          expression: 'variables.parts.map(p, p.head.contains(\':\')\n' +
            '  ? {\'name\': p.head.substring(0, p.head.indexOf(\':\')).trim(), \'form\': p.head.substring(p.head.indexOf(\':\') + 1).trim(), \'env\': p.env}\n' +
            '  : {\'name\': p.head, \'form\': \'raw\', \'env\': p.env})',
        },
        {
          name: 'wanted',
          expression: 'variables.named.map(w, {\'name\': w.name, \'form\': w.form, \'env\': w.env != \'\' ? w.env :\n' +
            `  w.name.upperAscii().replace('-', '_') + ${suffix('w.form')}})`,
        },
        {
          name: 'selected',
          expression: `${containers} in object.metadata.annotations\n` +
            `  ? object.metadata.annotations[${containers}].split(',').map(c, c.trim()).filter(c, c != '')\n` +
            '  : object.spec.containers.map(c, c.name)',
        },
        {
          // Names the containers annotation gives that are no container or init container: the webhook denies
          // such a Pod (InvalidAnnotation), so down, it must not be admitted with nothing selected to check.
          name: 'missing',
          expression: 'variables.selected.filter(n, !(object.spec.containers +\n' +
            '  (has(object.spec.initContainers) ? object.spec.initContainers : [])).exists(c, c.name == n))',
        },
        {
          // The file form's volumes: of the Secret, in the Pod.
          name: 'volumesWired',
          expression: 'variables.wanted.filter(w, w.form == \'file\').all(w, has(object.spec.volumes) && object.spec.volumes.exists(v,\n' +
            `  v.name == ${cel(namePrefix)} + w.name && has(v.secret) && v.secret.secretName == ${cel(namePrefix)} + w.name))`,
        },
        {
          name: 'unwired',
          expression: '(object.spec.containers + (has(object.spec.initContainers) ? object.spec.initContainers : []))\n' +
            '  .filter(c, c.name in variables.selected)\n' +
            '  .filter(c, !variables.wanted.all(w, has(c.env) && c.env.exists(v, v.name == w.env && (w.form == \'file\'\n' +
            `    ? has(v.value) && v.value == ${cel(fileMountRoot + '/')} + w.name + ${cel('/' + passwordKey)} &&\n` +
            `      has(c.volumeMounts) && c.volumeMounts.exists(m, m.name == ${cel(namePrefix)} + w.name && m.mountPath == ${cel(fileMountRoot + '/')} + w.name)\n` +
            '    : has(v.valueFrom) && has(v.valueFrom.secretKeyRef) &&\n' +
            `      v.valueFrom.secretKeyRef.name == ${cel(namePrefix)} + w.name && v.valueFrom.secretKeyRef.key == ${key('w.form')}))))\n` +
            '  .map(c, c.name)',
        },
      ],
      validations: [{
        expression: 'size(variables.selected) > 0 && size(variables.missing) == 0 && size(variables.unwired) == 0 && variables.volumesWired',
        messageExpression: '\'secretwire did not wire this Pod: \' + (size(variables.selected) == 0\n' +
          `  ? 'its ${annotationKey(annotations.containers)} annotation names no container'\n` +
          '  : size(variables.missing) > 0\n' +
          '  ? \'it has no container or init container named \' + variables.missing.map(n, \'"\' + n + \'"\').join(\', \')\n' +
          '  : size(variables.unwired) > 0\n' +
          '  ? \'container(s) \' + variables.unwired.join(\', \') + \' lack the env vars (or mounts)\' : \'it lacks the volumes\') +\n' +
          `' of ${annotationKey(annotations.sharedSecret)} "' + object.metadata.annotations[${secret}] +\n` +
          `'"; is the secretwire webhook running? (ValidatingAdmissionPolicy ${policyNames.wired})'`,
        reason: 'Forbidden',
      }],
    }, {
      matchResources: {
        namespaceSelector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: [...excludedNamespaces] }] },
      },
    })
}

function storeAccess(s: GuardSettings): Policy[] {
  return policy(policyNames.storeAccess,
    'The ClusterSecretStore holds every shared password. An ExternalSecret that references it reads one; a PushSecret\n' +
    'overwrites one. So only secretwire may create or change an object that references it: by name, through a\n' +
    'per-entry sourceRef, inside a ClusterExternalSecret or ClusterPushSecret, or through a PushSecret label\n' +
    'selector over ClusterSecretStores (which could match it). Workloads get a shared password through the\n' +
    'secretwire.io/shared-secret annotation, where secretwire applies its policy. Updates that leave spec, labels\n' +
    'and annotations alone (finalizers: the garbage collector) stay open, and so do ESO\'s controller\'s updates of\n' +
    'secretwire\'s own objects (it adds its finalizer and writes back its defaults; its username is a variable).', {
      failurePolicy: 'Fail',
      matchConstraints: {
        resourceRules: [{
          apiGroups: [esoGroup], apiVersions: ['*'], operations: ['CREATE', 'UPDATE'],
          resources: ['externalsecrets', 'pushsecrets', 'clusterexternalsecrets', 'clusterpushsecrets'],
        }],
      },
      variables: [
        { name: 'store', expression: cel(s.clusterSecretStore) },
        { name: 'esoController', expression: cel(s.esoController) },
        {
          // The ExternalSecret or PushSecret spec, also where the Cluster variants nest it.
          name: 'spec',
          expression: '!has(object.spec) ? dyn({})\n' +
            '  : has(object.spec.externalSecretSpec) ? dyn(object.spec.externalSecretSpec)\n' +
            '  : has(object.spec.pushSecretSpec) ? dyn(object.spec.pushSecretSpec)\n' +
            '  : dyn(object.spec)',
        },
        {
          name: 'storeRefs',
          expression: '(has(variables.spec.secretStoreRef) ? [variables.spec.secretStoreRef] : []) +\n' +
            '(has(variables.spec.secretStoreRefs) ? variables.spec.secretStoreRefs : []) +\n' +
            '(has(variables.spec.data) ? variables.spec.data.filter(d, has(d.sourceRef) && has(d.sourceRef.storeRef)).map(d, d.sourceRef.storeRef) : []) +\n' +
            '(has(variables.spec.dataFrom) ? variables.spec.dataFrom.filter(d, has(d.sourceRef) && has(d.sourceRef.storeRef)).map(d, d.sourceRef.storeRef) : [])',
        },
        {
          name: 'reachesStore',
          expression: 'variables.storeRefs.exists(r, has(r.kind) && r.kind == \'ClusterSecretStore\' &&\n' +
            '  (has(r.labelSelector) || !has(r.name) || r.name == variables.store))',
        },
        {
          name: 'unchanged',
          expression: `request.operation == 'UPDATE' &&\n  ${unchanged('spec')} && ${unchanged('metadata.labels')} && ${unchanged('metadata.annotations')}`,
        },
        { name: 'esoUpdatesSecretwires', expression: esoUpdatesSecretwires },
      ],
      validations: [{
        expression: `!variables.reachesStore || variables.unchanged || variables.esoUpdatesSecretwires || ${bySecretwire} || ${byBreakGlass}`,
        messageExpression: '\'ClusterSecretStore \' + variables.store + \' holds the passwords secretwire shares: only secretwire (\' +\n' +
          `${cel(secretwireUser)} + ') may create or change objects that reference it, by name or by a label selector over ` +
          'ClusterSecretStores. To use a shared password, annotate the workload with ' +
          `${annotationKey(annotations.sharedSecret)}. (ValidatingAdmissionPolicy ${policyNames.storeAccess})'`,
        reason: 'Forbidden',
      }],
    })
}

/**
 * ESO's controller updating one of secretwire's objects and keeping its labels: ESO adds its finalizer and writes
 * the spec back with its defaults filled in (from ESO 0.17). Only updates, only of objects secretwire labelled: ESO
 * creates nothing here, and repoints nothing (a ClusterExternalSecret that would have ESO do so is refused).
 */
const esoUpdatesSecretwires = 'request.operation == \'UPDATE\' && request.userInfo.username == variables.esoController &&\n' +
  `  oldObject != null && has(oldObject.metadata.labels) && ${cel(managedBy.key)} in oldObject.metadata.labels &&\n` +
  `  oldObject.metadata.labels[${cel(managedBy.key)}] == ${cel(managedBy.value)} && ${unchanged('metadata.labels')}`

function managedObjects(s: GuardSettings): Policy[] {
  const isManaged = (o: string) => `${o} != null && has(${o}.metadata.labels) && ${cel(managedBy.key)} in ${o}.metadata.labels &&\n` +
    `  ${o}.metadata.labels[${cel(managedBy.key)}] == ${cel(managedBy.value)}`
  return policy(policyNames.managedObjects,
    `Objects labelled ${managedBy.key}=${managedBy.value} are secretwire's: a change to their spec, labels or\n` +
    'annotations would repoint them or make ESO push or generate again (a forked password), so nobody else may\n' +
    'create objects with that label, change one, relabel it or delete it. Changes that leave spec, labels and\n' +
    'annotations alone (finalizers, owner references) stay open to the controllers that make them, and a namespace\n' +
    'being deleted can always delete them. ESO\'s controller may update them: it adds its finalizer and writes the\n' +
    'spec back with its defaults filled in (its username is the first variable: patch it if ESO runs as another).', {
      failurePolicy: 'Fail',
      matchConstraints: {
        resourceRules: [
          { apiGroups: [esoGroup], apiVersions: ['*'], operations: ['CREATE', 'UPDATE', 'DELETE'], resources: ['externalsecrets', 'pushsecrets'] },
          { apiGroups: [generatorGroup], apiVersions: ['*'], operations: ['CREATE', 'UPDATE', 'DELETE'], resources: ['passwords'] },
        ],
      },
      matchConditions: [{ name: 'managed', expression: `(${isManaged('object')}) ||\n(${isManaged('oldObject')})` }],
      variables: [
        { name: 'esoController', expression: cel(s.esoController) },
        {
          name: 'unchanged',
          expression: `request.operation == 'UPDATE' && ${isManaged('oldObject')} &&\n` +
            `  ${unchanged('spec')} && ${unchanged('metadata.labels')} && ${unchanged('metadata.annotations')}`,
        },
        { name: 'esoUpdatesSecretwires', expression: esoUpdatesSecretwires },
      ],
      validations: [{
        expression: `${bySecretwire} || ${byBreakGlass} ||\n` +
          'variables.esoUpdatesSecretwires ||\n' +
          `(request.operation == 'DELETE' && ${namespaceTerminating}) ||\nvariables.unchanged`,
        messageExpression: 'request.operation + \' of \' + request.kind.kind + \' \' + request.namespace + \'/\' + request.name +\n' +
          `' refused: objects labelled ${managedBy.key}=${managedBy.value} are created, changed and deleted only by secretwire, ` +
          `so that a shared password cannot be repointed or forked (members of ${identities.breakGlassGroup} may). ` +
          `(ValidatingAdmissionPolicy ${policyNames.managedObjects})'`,
        reason: 'Forbidden',
      }],
    })
}

function storedSecrets(s: GuardSettings): Policy[] {
  const name = '(object != null ? object.metadata.name : oldObject.metadata.name)'
  return policy(policyNames.storedSecrets,
    `The stored passwords: Secrets ${namePrefix}NAME in the storage namespace. Deleting one would make ESO generate a\n` +
    'new password for the next consumer, and rewriting one (a second push) would change it: nobody may do either,\n' +
    'cluster admins included, nor delete the storage namespace with all of them. Metadata-only changes (ESO\'s own\n' +
    'labels and annotations) stay open. The names are reserved too: a stored password is created only by ESO for\n' +
    'secretwire\'s objects (its controller, or the store\'s ServiceAccount in that namespace for a push), and only\n' +
    'secretwire creates ESO objects there, so nobody can plant a password before NAME\'s first use or have ESO make\n' +
    'one. (For a Namespace, the namespaceSelector matches its own labels.)', {
      failurePolicy: 'Fail',
      matchConstraints: {
        namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': s.storageNamespace } },
        resourceRules: [
          { apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE', 'DELETE'], resources: ['secrets'] },
          { apiGroups: [''], apiVersions: ['v1'], operations: ['DELETE'], resources: ['namespaces'] },
          { apiGroups: [esoGroup], apiVersions: ['*'], operations: ['CREATE'], resources: ['externalsecrets', 'pushsecrets'] },
          { apiGroups: [generatorGroup], apiVersions: ['*'], operations: ['CREATE'], resources: ['*'] },
        ],
      },
      matchConditions: [{
        name: 'stored-password',
        expression: `request.resource.resource != 'secrets' || ${name}.startsWith(${cel(namePrefix)})`,
      }],
      variables: [
        { name: 'esoController', expression: cel(s.esoController) },
        { name: 'dataUnchanged', expression: `request.operation == 'UPDATE' && ${unchanged('data')}` },
        {
          // ESO writing the stored Secret: its controller (strategy generate), or through the store's own
          // ServiceAccount, which lives in the storage namespace (a push).
          name: 'byEso',
          expression: `request.userInfo.username == variables.esoController ||\n` +
            `  request.userInfo.username.startsWith(${cel(`system:serviceaccount:${s.storageNamespace}:`)})`,
        },
      ],
      validations: [
        {
          expression: `request.operation != 'CREATE' || request.resource.resource != 'secrets' || variables.byEso || ${byBreakGlass}`,
          messageExpression: `'CREATE of Secret ' + request.namespace + '/' + ${name} + ' refused: the name is reserved for a password ` +
            `secretwire shares, which only ESO creates for secretwire\\'s objects (members of ${identities.breakGlassGroup} may). ` +
            `(ValidatingAdmissionPolicy ${policyNames.storedSecrets})'`,
          reason: 'Forbidden',
        },
        {
          expression: `request.operation != 'CREATE' || request.resource.resource == 'secrets' || ${bySecretwire} || ${byBreakGlass}`,
          messageExpression: `'CREATE of ' + request.kind.kind + ' ' + request.namespace + '/' + ${name} + ' refused: in the storage ` +
            `namespace only secretwire creates ESO objects, so none can make ESO write a stored password (members of ` +
            `${identities.breakGlassGroup} may). (ValidatingAdmissionPolicy ${policyNames.storedSecrets})'`,
          reason: 'Forbidden',
        },
        {
          expression: `request.operation == 'CREATE' || ${byBreakGlass} ||\n(request.operation == 'DELETE' && ${namespaceTerminating}) ||\nvariables.dataUnchanged`,
          messageExpression: `request.operation + ' of ' + (request.resource.resource == 'namespaces'\n` +
            `  ? 'Namespace ' + request.name + ' refused: it holds the passwords'\n` +
            `  : 'Secret ' + request.namespace + '/' + request.name + ' refused: it holds a password') +\n` +
            `' secretwire shares, which must never change once made; deleting or rewriting one would give the next consumer a ` +
            `different one (members of ${identities.breakGlassGroup} may). (ValidatingAdmissionPolicy ${policyNames.storedSecrets})'`,
          reason: 'Forbidden',
        },
      ],
    })
}

function esoCrossNamespace(): Policy[] {
  const auth = 'object.spec.provider.beyondtrust.auth'
  return policy(policyNames.esoCrossNamespace,
    'ESO\'s controller may read every Secret in the cluster, and two features of ESO (seen in v0.16.2) make it read\n' +
    'across namespaces for whoever writes the object: a PushSecret\'s selector.secret.selector lists Secrets in every\n' +
    'namespace (pkg/controllers/pushsecret: the list has no namespace), and a namespaced SecretStore of the\n' +
    'BeyondTrust provider resolves auth.*.secretRef.namespace unchecked. Either hands stored passwords (and any\n' +
    'other Secret) to a namespace editor through a store of their own, so only break-glass may use them.', {
      failurePolicy: 'Fail',
      matchConstraints: {
        resourceRules: [{
          apiGroups: [esoGroup], apiVersions: ['*'], operations: ['CREATE', 'UPDATE'],
          resources: ['pushsecrets', 'clusterpushsecrets', 'secretstores'],
        }],
      },
      variables: [
        {
          name: 'spec',
          expression: '!has(object.spec) ? dyn({}) : has(object.spec.pushSecretSpec) ? dyn(object.spec.pushSecretSpec) : dyn(object.spec)',
        },
        {
          name: 'selectsSecretsByLabel',
          expression: 'has(variables.spec.selector) && has(variables.spec.selector.secret) && has(variables.spec.selector.secret.selector)',
        },
        {
          name: 'beyondTrustElsewhere',
          expression: `request.resource.resource == 'secretstores' && has(object.spec.provider) && has(object.spec.provider.beyondtrust) &&\n` +
            `  has(${auth}) && ${auth}.exists(k, has(${auth}[k].secretRef) && has(${auth}[k].secretRef.namespace) &&\n` +
            `    ${auth}[k].secretRef.namespace != request.namespace)`,
        },
      ],
      validations: [
        {
          expression: `!variables.selectsSecretsByLabel || ${byBreakGlass}`,
          messageExpression: `'a PushSecret may not select Secrets by label (selector.secret.selector): ESO lists them in every ` +
            `namespace, which would push the Secrets of other namespaces; name the Secret (selector.secret.name). ` +
            `(ValidatingAdmissionPolicy ${policyNames.esoCrossNamespace})'`,
          reason: 'Forbidden',
        },
        {
          expression: `!variables.beyondTrustElsewhere || ${byBreakGlass}`,
          messageExpression: `'a SecretStore may not reference Secrets in another namespace (spec.provider.beyondtrust.auth.*.secretRef.namespace): ` +
            `ESO would read them for it. (ValidatingAdmissionPolicy ${policyNames.esoCrossNamespace})'`,
          reason: 'Forbidden',
        },
      ],
    })
}

function esoOwnIdentity(): Policy[] {
  const checks = Object.entries(ownIdentityRules)
  return policy(policyNames.esoOwnIdentity,
    'ESO\'s controller reads every Secret in the cluster and may create ServiceAccount tokens; its own token is mounted\n' +
    'in its Pod. A namespaced SecretStore or generator is a tenant\'s, and ESO resolves most of its credentials in the\n' +
    'tenant\'s namespace (pkg/esutils/resolvers). These fields make it use its own identity instead, or read outside that\n' +
    'namespace (src/manifests/esoidentity.ts cites ESO\'s code for each; src/manifests/esofields.ts lists every such\n' +
    'field of every ESO version the project knows, and why the others are safe). Nobody but break-glass may write\n' +
    'them in a namespaced object.', {
      failurePolicy: 'Fail',
      matchConstraints: {
        resourceRules: [
          { apiGroups: [esoGroup], apiVersions: ['*'], operations: ['CREATE', 'UPDATE'], resources: ['secretstores'] },
          { apiGroups: [generatorGroup], apiVersions: ['*'], operations: ['CREATE', 'UPDATE'], resources: Object.keys(providerOf).filter((r) => r !== 'secretstores') },
        ],
      },
      variables: [
        {
          // The provider block, as each kind holds it (esoidentity.ts providerOf).
          name: 'provider',
          expression: '!has(object.spec) ? dyn({})\n' + Object.entries(providerOf).map(([resource, expression]) =>
            `  : request.resource.resource == ${cel(resource)} ? ${expression}\n`).join('') + '  : dyn({})',
        },
        ...checks.map(([name, rule]) => ({ name, expression: rule.cel })),
        // An object made before this policy, or by break-glass, keeps taking metadata changes (finalizers, labels).
        { name: 'specUnchanged', expression: `request.operation == 'UPDATE' && ${unchanged('spec')}` },
      ],
      validations: checks.map(([name, rule]) => ({
        expression: `!variables.${name} || variables.specUnchanged || ${byBreakGlass}`,
        messageExpression: cel(`${rule.refused}: ${rule.why} (ValidatingAdmissionPolicy ${policyNames.esoOwnIdentity})`),
        reason: 'Forbidden',
      })),
    })
}

function reconcilerScope(s: GuardSettings): Policy[] {
  const managed = (o: string) => `has(${o}.metadata.labels) && ${cel(managedBy.key)} in ${o}.metadata.labels &&\n` +
    `${o}.metadata.labels[${cel(managedBy.key)}] == ${cel(managedBy.value)}`
  return policy(policyNames.reconcilerScope,
    'The reconciler deletes ExternalSecrets no workload uses any more, and admissions bring a consumer\'s ExternalSecret\n' +
    'made by an older secretwire up to the current shape. RBAC can grant delete and patch only on a whole resource, so\n' +
    'this narrows secretwire\'s own deletes and updates to what it manages (the managed-by label, kept on update),\n' +
    'outside the storage namespace: the generators and stored passwords are never changed or deleted by secretwire,\n' +
    'whatever its code does.', {
      failurePolicy: 'Fail',
      matchConstraints: {
        resourceRules: [
          { apiGroups: [esoGroup], apiVersions: ['*'], operations: ['UPDATE', 'DELETE'], resources: ['externalsecrets', 'pushsecrets'] },
          { apiGroups: [generatorGroup], apiVersions: ['*'], operations: ['UPDATE', 'DELETE'], resources: ['passwords'] },
        ],
      },
      matchConditions: [{ name: 'by-secretwire', expression: bySecretwire }],
      validations: [{
        expression: `${managed('oldObject')} &&\n(request.operation == 'DELETE' || ${managed('object')}) && request.namespace != ${cel(s.storageNamespace)}`,
        messageExpression: `'secretwire changes and deletes only the objects it manages, and none in its storage namespace ' + ${cel(s.storageNamespace)} + ` +
          `' (ValidatingAdmissionPolicy ${policyNames.reconcilerScope})'`,
        reason: 'Forbidden',
      }],
    })
}
