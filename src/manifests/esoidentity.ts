// The fields of a tenant's (namespaced) ESO objects that make ESO act with its own identity or read outside the
// object's namespace, each as the CEL that finds it, for the policy secretwire-eso-own-identity (policies.ts).
// Read in ESO v0.20.4's source (paths inside github.com/external-secrets/external-secrets):
//   - Kubernetes provider, `authRef`: pkg/provider/kubernetes/auth.go getAuth hands the kubeconfig in the tenant's
//     Secret to clientcmd.RESTConfigFromKubeConfig, which honours `tokenFile` (ESO's own token, mounted in its Pod)
//     and `exec` (a command run inside ESO's Pod).
//   - Vault, `auth.kubernetes` with neither `secretRef` nor `serviceAccountRef`: pkg/provider/vault/auth_kubernetes.go
//     getJwtString reads ESO's own token from its Pod and sends it to the tenant's `server`.
//   - Akeyless: pkg/provider/akeyless/auth.go TokenFromSecretRef takes the access type from the tenant's Secret; for
//     `k8s` without `kubernetesAuth`, akeyless_api.go getK8SServiceAccountJWT reads ESO's own token. The API server
//     cannot read that Secret, so only `kubernetesAuth` with a ServiceAccount or Secret of the tenant's is accepted.
//   - IBM `auth.containerAuth`: pkg/provider/ibm/provider.go NewClient reads the file at tokenLocation (any path in
//     ESO's Pod) and sends it to the store's iamEndpoint.
//   - Infisical's Kubernetes, GCP, AWS and Azure auth: pkg/provider/infisical/provider.go perform*AuthLogin read a
//     file in ESO's Pod (the Kubernetes one defaults to ESO's token) or its cloud identity, sent to the store's hostAPI.
//   - GCP workload identity federation `credConfig`: pkg/provider/gcp/secretmanager/workload_identity_federation.go
//     lets its credential_source read files in ESO's Pod or use its node's identity.
//   - `caProvider.namespace`: pkg/esutils/utils.go getCertFromConfigMap reads a ConfigMap of any namespace (ESO's
//     own webhook refuses it for the Kubernetes provider only).
// The list of every field of that kind, in every ESO version the project knows, and why the others are safe, is
// src/manifests/esofields.ts; its test fails on a field nobody has looked at.

export interface OwnIdentityRule {
  /** What is refused, for the denial. */
  readonly refused: string
  /** Why, for the denial. */
  readonly why: string
  /** CEL over `variables.provider` (providerOf). */
  readonly cel: string
}

/** Where a caProvider sits in each provider block (as `variables.provider` holds it), from the CRDs of v0.20.4 and v1.3.2. */
export const caProviderPaths: readonly string[] = ['akeyless', 'bitwardensecretsmanager', 'conjur', 'gitlab', 'infisical', 'kubernetes.server',
  'secretserver', 'vault', 'webhook', 'yandexcertificatemanager', 'yandexlockbox'].map((p) => `variables.provider.${p}.caProvider`)

/**
 * The provider block of each kind the policy matches, as `variables.provider`: a store's spec.provider; a generator's
 * spec (or the Vault generator's spec.provider) under its provider's name, so one rule covers both.
 */
export const providerOf: Readonly<Record<string, string>> = {
  secretstores: 'dyn(object.spec.provider)',
  vaultdynamicsecrets: "dyn({'vault': object.spec.provider})",
  webhooks: "dyn({'webhook': object.spec})",
  gcraccesstokens: "dyn({'gcpsm': object.spec})",
}

const vaultK8s = 'variables.provider.vault.auth.kubernetes'
const akeyless = 'variables.provider.akeyless.authSecretRef'
const infisical = 'variables.provider.infisical.auth'

/** `has(a.b) && has(a.b.c) && ...`: every step of a nested field is there (CEL's has() tests the last step only). */
export function present(path: string, from = 2): string {
  const steps = path.split('.')
  return steps.slice(from).map((_, i) => `has(${steps.slice(0, i + from + 1).join('.')})`).join(' && ')
}

export const ownIdentityRules = {
  kubernetesAuthRef: {
    refused: 'a Kubernetes-provider SecretStore may not take a kubeconfig (spec.provider.kubernetes.authRef)',
    why: 'its tokenFile or exec would run as ESO\'s own ServiceAccount, which reads every Secret; use auth.serviceAccount, auth.token or auth.cert',
    cel: `${present('variables.provider.kubernetes.authRef')}`,
  },
  vaultOwnToken: {
    refused: 'Vault Kubernetes auth needs auth.kubernetes.serviceAccountRef or auth.kubernetes.secretRef',
    why: 'without either ESO sends its own ServiceAccount token to the store\'s server',
    cel: `${present(vaultK8s)} && !has(${vaultK8s}.secretRef) && !has(${vaultK8s}.serviceAccountRef)`,
  },
  akeylessOwnToken: {
    refused: 'an Akeyless SecretStore must authenticate with authSecretRef.kubernetesAuth naming a serviceAccountRef or secretRef',
    why: 'the access type of authSecretRef.secretRef is in a Secret the API server cannot read, and with type k8s ESO sends its own ServiceAccount token',
    cel: `${present(akeyless)} && (!has(${akeyless}.kubernetesAuth) ||\n  (!has(${akeyless}.kubernetesAuth.serviceAccountRef) && !has(${akeyless}.kubernetesAuth.secretRef)))`,
  },
  ibmContainerAuth: {
    refused: 'an IBM SecretStore may not use auth.containerAuth',
    why: 'ESO reads the file at tokenLocation, any file in its Pod and its own ServiceAccount token too, and sends it to the iamEndpoint the store names',
    cel: present('variables.provider.ibm.auth.containerAuth'),
  },
  infisicalPodCredentials: {
    refused: 'an Infisical SecretStore may not use Kubernetes, GCP IAM, GCP ID token, AWS or Azure auth',
    why: 'ESO reads a file in its Pod (by default its own ServiceAccount token) or uses its cloud identity, and sends the result to the hostAPI the store names; use universalAuthCredentials',
    cel: `${present(infisical)} && (${['kubernetesAuthCredentials', 'gcpIamAuthCredentials', 'gcpIdTokenAuthCredentials', 'awsAuthCredentials', 'azureAuthCredentials']
      .map((f) => `has(${infisical}.${f})`).join(' || ')})`,
  },
  gcpFederationConfig: {
    refused: 'GCP workload identity federation may not take a credConfig (auth.workloadIdentityFederation.credConfig)',
    why: 'its credential_source makes ESO read a file in its Pod, call a URL from its network position or sign with its node\'s AWS role, for an audience the tenant names',
    cel: present('variables.provider.gcpsm.auth.workloadIdentityFederation.credConfig'),
  },
  caElsewhere: {
    refused: 'caProvider.namespace must be the object\'s own namespace',
    why: 'ESO would read the CA ConfigMap or Secret of another namespace for it',
    cel: caProviderPaths.map((p) => `(${present(`${p}.namespace`)} && ${p}.namespace != request.namespace)`).join(' ||\n'),
  },
} as const satisfies Record<string, OwnIdentityRule>
