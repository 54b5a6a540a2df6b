// The MutatingWebhookConfiguration, generated from the contract: the kinds and operations secretwire admits
// (workload.ts), the namespaces it never wires, and a matchConditions expression on the annotation keys, so the
// API server sends secretwire only objects that carry one.
import type { V1MutatingWebhookConfiguration } from '@kubernetes/client-node'
import { annotationKey, annotations, excludedNamespaces, identities, webhookTimeoutSeconds } from '../core/contract.ts'
import { workloadKinds } from '../core/workload.ts'
import { cel } from './cel.ts'
import type { Manifest } from './yaml.ts'

export function webhookConfiguration(): Manifest<V1MutatingWebhookConfiguration> {
  // One rule per API group and set of operations, in the order workload.ts lists the kinds.
  const rules = new Map<string, { apiGroups: string[], apiVersions: string[], operations: string[], resources: string[], scope: string }>()
  for (const k of workloadKinds) {
    const id = `${k.group} ${k.operations.join(',')}`
    const rule = rules.get(id) ?? { apiGroups: [k.group], apiVersions: ['v1'], operations: [...k.operations], resources: [], scope: 'Namespaced' }
    rule.resources.push(k.resource)
    rules.set(id, rule)
  }
  const keys = [annotations.sharedSecret, annotations.secret].map((a) => cel(annotationKey(a)))
  return {
    comment: 'failurePolicy Ignore: an outage of secretwire never blocks the cluster. What keeps an annotated Pod from\n' +
      'running unwired is the ValidatingAdmissionPolicy secretwire-wired, evaluated inside the API server.',
    object: {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'MutatingWebhookConfiguration',
      metadata: { name: 'secretwire' },
      webhooks: [{
        name: 'mutate.secretwire.io',
        admissionReviewVersions: ['v1'],
        clientConfig: { service: { name: 'secretwire', namespace: identities.secretwire.namespace, path: '/mutate', port: 443 } },
        // secretwire creates ESO objects, but never on a dry run.
        sideEffects: 'NoneOnDryRun',
        // Called again if a later webhook changes the object; every mutation is idempotent.
        reinvocationPolicy: 'IfNeeded',
        failurePolicy: 'Ignore',
        timeoutSeconds: webhookTimeoutSeconds,
        matchPolicy: 'Equivalent',
        rules: [...rules.values()],
        namespaceSelector: {
          matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: [...excludedNamespaces] }],
        },
        // Only annotated objects are sent at all: every other Pod in the cluster pays nothing for secretwire.
        matchConditions: [{
          name: 'annotated',
          expression: [
            '[object.metadata,',
            ' has(object.spec) && has(object.spec.template) && has(object.spec.template.metadata) ? object.spec.template.metadata : {},',
            ' has(object.spec) && has(object.spec.jobTemplate) && has(object.spec.jobTemplate.spec) &&',
            '   has(object.spec.jobTemplate.spec.template) && has(object.spec.jobTemplate.spec.template.metadata)',
            '   ? object.spec.jobTemplate.spec.template.metadata : {}',
            `].exists(m, has(m.annotations) && (${keys.map((k) => `${k} in m.annotations`).join(' || ')}))`,
          ].join('\n'),
        }],
      }],
    },
  }
}
