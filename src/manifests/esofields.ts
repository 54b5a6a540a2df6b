// The fields of namespaced ESO kinds that could make ESO act for a tenant with ESO's own identity, or read objects
// in another namespace, and the review of each. ESO's controller reads every Secret in the cluster, so a
// SecretStore or generator that a namespace editor writes must not be able to make ESO send its own token, read
// a file in its Pod, run a command there, use its cloud identity, or reach into another namespace.
//
// `candidateFields` finds, in one CRD's schema, every field that names a namespace, a file or path, a
// ServiceAccount or a kubeconfig, every optional credential field (whose absence may make ESO fall back to its own
// identity), and every schemaless field. `esoFieldRules` classifies them, each verdict read from ESO's code:
//   eso-enforced  ESO's controller pins or refuses it itself (cite: file and function at v0.20.4)
//   policy        secretwire refuses it in a ValidatingAdmissionPolicy (`refuse` says exactly when, `enforcedBy` names
//                 the check: a rule of src/manifests/esoidentity.ts, or a policy)
//   open          it falls back to ESO's cloud identity or a narrower hole; no policy refuses it yet (`why` says what a
//                 tenant reaches: never a Kubernetes Secret through ESO's token). docs/security.md lists them.
//   harmless      it reaches only the tenant's own identity or their own remote system (`why` says why)
// test/manifests/esofields.test.ts holds every candidate of every ESO version the project knows to a rule, so a
// new ESO version cannot bring an unreviewed field in.
//
// ESO's own admission webhook (ValidateStore) is optional (its chart turns it on; the node tests run it), so only
// what the controller does counts as enforced.

export type FieldClass = 'namespace' | 'file' | 'serviceAccount' | 'kubeconfig' | 'credential' | 'opaque'

export interface CandidateField {
  readonly kind: string
  /** Dotted path from the object's root; `[]` stands for array items, `*` for map values. */
  readonly path: string
  readonly classes: readonly FieldClass[]
}

export type Verdict = 'eso-enforced' | 'policy' | 'open' | 'harmless'

export interface Rule {
  /**
   * A glob over `Kind:path`: `*` is any run within one path segment, `**` any run at all, `{a,b}` alternatives
   * (nestable); whitespace is ignored, so long alternatives can be laid out.
   */
  readonly match: string
  readonly verdict: Verdict
  readonly why: string
  /** `pkg/...go Function[, Function]` at ESO v0.20.4, several separated by `; `; test/manifests checks they exist. */
  readonly cite?: string
  /** For 'policy' and 'open': the exact condition an admission policy must refuse. */
  readonly refuse?: string
  /** For 'policy': the check that refuses it (a key of ownIdentityRules in esoidentity.ts, or a policy's name). */
  readonly enforcedBy?: string
  /** What differs at ESO v1.3.2 (whose provider code lives in providers/v1/, generators/v1/, runtime/). */
  readonly newest?: string
}

// ---------------------------------------------------------------------------------------------------------------
// The walk over a CRD's schema

interface Schema {
  readonly properties?: Readonly<Record<string, Schema>>
  readonly items?: Schema
  readonly additionalProperties?: Schema | boolean
  readonly required?: readonly string[]
  readonly 'x-kubernetes-preserve-unknown-fields'?: boolean
}

interface Crd {
  readonly spec?: {
    readonly scope?: string
    readonly names?: { readonly kind?: string }
    readonly versions?: readonly { readonly served?: boolean, readonly schema?: { readonly openAPIV3Schema?: Schema } }[]
  }
}

/** Names that say what a field points at, whether or not it is optional. */
const byName: readonly (readonly [FieldClass, RegExp])[] = [
  ['namespace', /namespace/i],
  ['file', /file|path|location/i],
  ['serviceAccount', /serviceaccount/i],
  ['kubeconfig', /^authRef$|kubeconfig/i],
]

/**
 * A superset of the optional fields whose absence can make ESO use its own identity: anything named like a
 * credential, and every optional member of an auth block (the auth method is chosen by which member is present).
 */
const credentialName = /auth|cred|secretref|identity|principal|oidc|^(iam|jwt|rrsa|accessType)$/i
const authBlock = /^auth$|Auth$|^authSecretRef$/

/** ExternalSecret/PushSecret parts that only name a store or generator: other guard policies cover those. */
const storeReferences = /^(secretStoreRef|secretStoreRefs|sourceRef|storeRef|generatorRef)$/

function classesOf(name: string, s: Schema, optional: boolean, inAuthBlock: boolean): FieldClass[] {
  const classes = byName.filter(([, re]) => re.test(name)).map(([c]) => c)
  if (optional && (credentialName.test(name) || inAuthBlock)) classes.push('credential')
  // A schemaless object is read by provider code the schema cannot show: it must be reviewed as a whole.
  if (s['x-kubernetes-preserve-unknown-fields'] === true && s.properties === undefined) classes.push('opaque')
  return classes
}

function walk(s: Schema, path: string, parent: string, found: Map<string, Set<FieldClass>>): void {
  for (const [name, sub] of Object.entries(s.properties ?? {})) {
    // Only spec: status is ESO's to write, metadata is Kubernetes'.
    if ((path === '' && name !== 'spec') || storeReferences.test(name)) continue
    const p = path === '' ? name : `${path}.${name}`
    const classes = classesOf(name, sub, !(s.required ?? []).includes(name), authBlock.test(parent))
    if (classes.length > 0) found.set(p, new Set([...(found.get(p) ?? []), ...classes]))
    walk(sub, p, name, found)
  }
  if (s.items !== undefined) walk(s.items, `${path}[]`, parent, found)
  if (typeof s.additionalProperties === 'object') walk(s.additionalProperties, `${path}.*`, parent, found)
}

/** The candidate fields of one CRD, over every served version; none for a cluster-scoped kind. */
export function candidateFields(crd: unknown): CandidateField[] {
  const spec = (crd as Crd | null)?.spec
  const kind = spec?.names?.kind
  if (spec?.scope !== 'Namespaced' || kind === undefined) return []
  const found = new Map<string, Set<FieldClass>>()
  for (const v of spec.versions ?? []) {
    if (v.served === true && v.schema?.openAPIV3Schema !== undefined) walk(v.schema.openAPIV3Schema, '', '', found)
  }
  return [...found].map(([path, classes]) => ({ kind, path, classes: [...classes] }))
}

// ---------------------------------------------------------------------------------------------------------------
// The rules, most specific first: the first that matches decides.

/** The Vault provider, in a SecretStore and in the VaultDynamicSecret generator (same code: NewGeneratorClient). */
const vault = '{SecretStore:spec.provider.vault,VaultDynamicSecret:spec.provider}'
/** The AWS credential code (pkg/provider/aws/auth), shared by the provider and the ECR and STS generators. */
const aws = '{SecretStore:spec.provider.aws,ECRAuthorizationToken:spec,STSSessionToken:spec}'
/** The GCP credential code (pkg/provider/gcp/secretmanager NewTokenSource), shared with the GCR generator. */
const gcp = '{SecretStore:spec.provider.gcpsm,GCRAccessToken:spec}'
const ss = 'SecretStore:spec.provider'

const resolversWhy = 'a Secret reference of a namespaced store or generator: resolvers.SecretKeyRef reads ref.namespace only ' +
  'when the store kind is ClusterSecretStore, so ESO reads the Secret in the object\'s own namespace whatever is written here'

const tokenRequestWhy = 'ESO requests a token for (or reads) a ServiceAccount in the object\'s own namespace: ' +
  'serviceAccountRef.namespace is used only for a ClusterSecretStore'

const ownIdentityWhy = 'an auth method whose credential is the tenant\'s own: a Secret in their namespace or a token of ' +
  'one of their ServiceAccounts (the built-in edit role already lets them impersonate those and create their tokens: ' +
  'Kubernetes bootstrappolicy editRules). Left out, ESO errors or ' +
  'sends no credential: this provider\'s code reads no file, environment variable or metadata service for it'

export const esoFieldRules: readonly Rule[] = [
  // ---- ESO acting as itself: its Pod's files, commands, token or cloud identity ----
  {
    match: `${ss}.kubernetes.authRef`,
    verdict: 'policy',
    enforcedBy: 'kubernetesAuthRef',
    refuse: 'kubernetes provider: spec.provider.kubernetes.authRef set',
    why: 'ESO builds its client from the kubeconfig in the tenant\'s Secret with clientcmd.RESTConfigFromKubeConfig, which ' +
      'honours exec (a command ESO runs in its own Pod: tried on the demo, 2026-12-04) and tokenFile (any file in ESO\'s ' +
      'Pod, its own ServiceAccount token included, sent to a server the tenant names). Reach: every Secret in the cluster.',
    cite: 'pkg/provider/kubernetes/auth.go getAuth',
    newest: 'unchanged (providers/v1/kubernetes/auth.go getAuth)',
  },
  {
    match: `${vault}.auth.kubernetes{,.secretRef,.serviceAccountRef}`,
    verdict: 'policy',
    enforcedBy: 'vaultOwnToken',
    refuse: 'Vault (SecretStore spec.provider.vault, VaultDynamicSecret spec.provider): auth.kubernetes set with neither ' +
      'auth.kubernetes.secretRef nor auth.kubernetes.serviceAccountRef',
    why: 'with neither, ESO reads its own token from /var/run/secrets/kubernetes.io/serviceaccount/token and logs in with it ' +
      'at the tenant\'s server. Reach: every Secret in the cluster (the token is ESO\'s API credential).',
    cite: 'pkg/provider/vault/auth_kubernetes.go getJwtString',
    newest: 'unchanged (providers/v1/vault/auth_kubernetes.go)',
  },
  {
    match: `${vault}.auth.iam{,.secretRef,.jwt}`,
    verdict: 'open',
    refuse: 'Vault: auth.iam set with neither auth.iam.secretRef nor auth.iam.jwt',
    why: 'with neither, ESO signs sts:GetCallerIdentity with its own AWS identity (IRSA token file or Pod Identity) and ' +
      'sends it to the tenant\'s server, which can replay it for some minutes to any Vault whose aws auth trusts ESO\'s ' +
      'role (unless that Vault pins iam_server_id_header_value). Reach: what ESO\'s role reads in such a Vault, not ' +
      'Kubernetes Secrets. ESO also os.Setenv()s the resulting AWS keys process-wide.',
    cite: 'pkg/provider/vault/auth_iam.go requestTokenWithIamAuth, getControllerPodCredentials',
    newest: 'unchanged',
  },
  {
    match: `${vault}.auth.gcp{,.secretRef,.workloadIdentity,.serviceAccountRef}`,
    verdict: 'open',
    refuse: 'Vault: auth.gcp set with neither auth.gcp.secretRef nor auth.gcp.workloadIdentity (serviceAccountRef alone is ignored)',
    why: 'without secretRef or workloadIdentity ESO uses Vault\'s GCE login with its own GCP metadata identity (a signed JWT ' +
      'for role vault/ROLE) at the tenant\'s server, which can replay it to a Vault that trusts ESO\'s GCP service account; ' +
      'serviceAccountRef does nothing (setupServiceAccountRefAuth). The other two set GOOGLE_OAUTH_ACCESS_TOKEN in ESO\'s ' +
      'process environment, shared by concurrent logins. Reach: what ESO\'s GCP identity reads in such a Vault.',
    newest: 'new in v1.3.2 (not in v0.20.4): providers/v1/vault/auth_gcp.go requestTokenWithGcpAuth, setupDefaultGCPAuth',
  },
  {
    match: `${ss}.akeyless.authSecretRef.{kubernetesAuth,secretRef,secretRef.accessType}`,
    verdict: 'policy',
    enforcedBy: 'akeylessOwnToken',
    refuse: 'akeyless: spec.provider.akeyless.authSecretRef.kubernetesAuth absent (tenants using api_key need break-glass ' +
      'or a store made for them)',
    why: 'without kubernetesAuth the access type comes from the tenant\'s Secret, out of an admission policy\'s sight: "k8s" ' +
      'sends ESO\'s own ServiceAccount token, "aws_iam"/"azure_ad"/"gcp" a proof of ESO\'s cloud identity, to the ' +
      'akeylessGWApiURL the tenant sets. With kubernetesAuth, a missing secretRef/serviceAccountRef is an error. Reach: every ' +
      'Secret in the cluster (k8s), or what ESO\'s cloud identity reads in Akeyless.',
    cite: 'pkg/provider/akeyless/auth.go TokenFromSecretRef; ' +
      'pkg/provider/akeyless/akeyless_api.go GetToken, getK8SServiceAccountJWT, readK8SServiceAccountJWT, getCloudID',
    newest: 'unchanged',
  },
  {
    match: `${ss}.ibm.auth.{containerAuth,containerAuth.profile,containerAuth.tokenLocation,containerAuth.iamEndpoint}`,
    verdict: 'policy',
    enforcedBy: 'ibmContainerAuth',
    refuse: 'ibm: spec.provider.ibm.auth.containerAuth set',
    why: 'ESO reads the file at tokenLocation (any path in its Pod, its own ServiceAccount token included; default ' +
      '/var/run/secrets/tokens/vault-token) and sends it to iamEndpoint, which the tenant sets. Reach: every Secret in the ' +
      'cluster when the file is ESO\'s token; IBM secrets of ESO\'s trusted profile otherwise.',
    cite: 'pkg/provider/ibm/provider.go NewClient',
    newest: 'unchanged',
  },
  {
    match: `${ss}.infisical.auth.{kubernetesAuthCredentials,kubernetesAuthCredentials.serviceAccountTokenPath,
      gcpIamAuthCredentials,gcpIamAuthCredentials.serviceAccountKeyFilePath,awsAuthCredentials,
      azureAuthCredentials,azureAuthCredentials.resource,gcpIdTokenAuthCredentials}`,
    verdict: 'policy',
    enforcedBy: 'infisicalPodCredentials',
    refuse: 'infisical: spec.provider.infisical.auth.kubernetesAuthCredentials, gcpIamAuthCredentials, awsAuthCredentials, ' +
      'azureAuthCredentials or gcpIdTokenAuthCredentials set',
    why: 'the Infisical SDK reads a file in ESO\'s Pod whose path comes from the tenant\'s Secret (the Kubernetes token path ' +
      'defaults to ESO\'s own ServiceAccount token; the GCP key file path is free), or ESO\'s cloud identity (a signed AWS ' +
      'GetCallerIdentity, an Azure IMDS token for a resource the tenant names, a GCP ID token for an audience the tenant ' +
      'names), and sends it to hostAPI, which the tenant sets. Reach: every Secret in the cluster (ESO\'s token), or what ' +
      'ESO\'s cloud identities reach (an Azure token for management.azure.com is ESO\'s managed identity itself).',
    cite: 'pkg/provider/infisical/provider.go performKubernetesAuthLogin, performGcpIamAuthLogin, performAwsAuthLogin, ' +
      'performAzureAuthLogin, performGcpIDTokenAuthLogin',
    newest: 'unchanged (infisical go-sdk KubernetesAuthLogin defaults to /var/run/secrets/kubernetes.io/serviceaccount/token)',
  },
  {
    match: `${gcp}.auth.workloadIdentityFederation.credConfig`,
    verdict: 'policy',
    enforcedBy: 'gcpFederationConfig',
    refuse: 'gcpsm and GCRAccessToken: auth.workloadIdentityFederation.credConfig set',
    why: 'the ConfigMap\'s credential_source makes ESO read any file in its Pod except the literal path of its projected ' +
      'token (a string compare: "//token" or "..data/token" pass), GET a URL from its own network position (the tenant ' +
      'sets externalTokenEndpoint to match), or sign with its node\'s AWS role (IMDS URLs), and exchange the result at ' +
      'Google STS for an audience (workload identity pool) the tenant names. Reach: GCP resources of any pool that trusts ' +
      'ESO\'s Pod or node identity.',
    cite: 'pkg/provider/gcp/secretmanager/workload_identity_federation.go updateExternalAccountConfigWithCredFileValues, validateCredConfigCredentialSource',
    newest: 'unchanged',
  },

  // ---- ESO's cloud ambient identity when the credential is left out (reach: cloud secrets, not Kubernetes Secrets) ----
  {
    match: `${aws}.auth{,.secretRef,.jwt}`,
    verdict: 'open',
    refuse: 'aws provider, ECRAuthorizationToken, STSSessionToken: neither auth.secretRef nor auth.jwt',
    why: 'ESO then uses the AWS SDK default chain: its own IRSA / Pod Identity / instance role / environment keys, and assumes ' +
      'spec.role and additionalRoles with them. Reach: Secrets Manager and Parameter Store entries that ESO\'s role (or a ' +
      'role it may assume) reads; an ECR token of that role; and, through STSSessionToken, session credentials of ESO\'s own ' +
      'identity written into the tenant\'s Secret (GetSessionToken works for IAM-user keys, not for assumed roles).',
    cite: 'pkg/provider/aws/auth/auth.go constructCredsProvider, NewGeneratorSession',
    newest: 'unchanged (providers/v1/aws/auth/auth.go)',
  },
  {
    match: `${gcp}.auth{,.secretRef,.workloadIdentity,.workloadIdentityFederation}`,
    verdict: 'open',
    refuse: 'gcpsm and GCRAccessToken: none of auth.secretRef, auth.workloadIdentity, auth.workloadIdentityFederation',
    why: 'NewTokenSource then falls back to google.DefaultTokenSource: ESO\'s own GCP identity (its GKE workload identity or ' +
      'the node\'s service account). Reach: Secret Manager secrets of that identity; through GCRAccessToken, an OAuth access ' +
      'token of it (good for any GCP API it may call) written into the tenant\'s Secret.',
    cite: 'pkg/provider/gcp/secretmanager/auth.go NewTokenSource',
    newest: 'unchanged',
  },
  {
    match: `${ss}.azurekv.{authType,identityId,serviceAccountRef}`,
    verdict: 'open',
    refuse: 'azurekv: authType ManagedIdentity; or authType WorkloadIdentity without serviceAccountRef',
    why: 'ManagedIdentity uses the managed identity of ESO\'s node or Pod (identityId picks any user-assigned one attached); ' +
      'WorkloadIdentity without serviceAccountRef reads ESO\'s own AZURE_FEDERATED_TOKEN_FILE. Reach: Key Vault secrets ' +
      'those identities read. With serviceAccountRef it is the tenant\'s ServiceAccount (namespace pinned).',
    cite: 'pkg/provider/azure/keyvault/keyvault.go authorizerForManagedIdentity, authorizerForWorkloadIdentity; ' +
      'pkg/provider/azure/keyvault/keyvault_new_sdk.go buildManagedIdentityCredential, buildWorkloadIdentityCredential',
    newest: 'unchanged',
  },
  {
    match: 'ACRAccessToken:spec.auth.{managedIdentity,managedIdentity.identityId,workloadIdentity,workloadIdentity.serviceAccountRef}',
    verdict: 'open',
    refuse: 'ACRAccessToken: auth.managedIdentity set; or auth.workloadIdentity without serviceAccountRef',
    why: 'the same two fallbacks to ESO\'s Azure identity; the generator writes an ACR refresh token of that identity into ' +
      'the tenant\'s Secret. Reach: every registry the identity may pull from or push to.',
    cite: 'pkg/generator/acr/acr.go accessTokenForManagedIdentity, accessTokenForWorkloadIdentity',
    newest: 'unchanged',
  },
  {
    match: `${ss}.oracle.{auth,principalType,serviceAccountRef}`,
    verdict: 'open',
    refuse: 'oracle: principalType InstancePrincipal; or auth absent while principalType is not Workload; or principalType ' +
      'Workload without serviceAccountRef',
    why: 'InstancePrincipal (also the default when auth is absent) is the OCI identity of ESO\'s node; Workload without ' +
      'serviceAccountRef is ESO\'s own OKE workload identity. Reach: OCI Vault secrets of those identities.',
    cite: 'pkg/provider/oracle/oracle.go constructProvider, getWorkloadIdentityProvider',
    newest: 'unchanged',
  },
  {
    match: `${ss}.alibaba.auth.{rrsa,rrsa.oidcTokenFilePath}`,
    verdict: 'open',
    refuse: 'alibaba: spec.provider.alibaba.auth.rrsa set',
    why: 'ESO reads the file at oidcTokenFilePath (any file in its Pod) and presents it to Alibaba STS AssumeRoleWithOIDC for ' +
      'a role and OIDC provider the tenant names. Reach: Alibaba KMS secrets of any role that trusts ESO\'s RRSA token.',
    cite: 'pkg/provider/alibaba/kms.go newRRSAAuth',
    newest: 'unchanged (provider marked deprecated)',
  },
  {
    match: `${ss}.volcengine.{auth,auth.secretRef}`,
    verdict: 'open',
    refuse: 'volcengine: no spec.provider.volcengine.auth.secretRef',
    why: 'without secretRef ESO uses NewOIDCCredentialsProviderFromEnv: its own OIDC token file and role from its environment. ' +
      'Reach: Volcengine KMS secrets of ESO\'s role.',
    cite: 'pkg/provider/volcengine/auth.go NewSession',
    newest: 'unchanged',
  },
  {
    match: `${ss}.{yandexlockbox,yandexcertificatemanager}.auth.authorizedKeySecretRef`,
    verdict: 'open',
    refuse: 'yandexlockbox and yandexcertificatemanager: no auth.authorizedKeySecretRef',
    why: 'without it ESO uses ycsdk.InstanceServiceAccount(): the IAM token of its VM\'s service account, sent to apiEndpoint, ' +
      'which the tenant sets. Reach: whatever that service account may do in Yandex Cloud.',
    cite: 'pkg/provider/yandex/common/sdk.go buildSDK',
    newest: 'unchanged',
  },

  // ---- Reading objects in another namespace ----
  {
    match: `{${ss}.{akeyless,bitwardensecretsmanager,conjur,gitlab,infisical,secretserver,vault,webhook}.caProvider,
      ${ss}.kubernetes.server.caProvider,VaultDynamicSecret:spec.provider.caProvider}.namespace`,
    verdict: 'policy',
    enforcedBy: 'caElsewhere',
    refuse: 'caProvider.type ConfigMap with caProvider.namespace set and not the object\'s namespace (type Secret is pinned)',
    why: 'FetchCACertFromSource reads a ConfigMap caProvider in caProvider.namespace for any store kind (a Secret one goes ' +
      'through resolvers.SecretKeyRef, pinned). ESO reads a ConfigMap of another namespace: its existence and keys leak ' +
      'through errors, its content becomes a trust anchor. Only ESO\'s optional webhook (ValidateStore) refuses it.',
    cite: 'pkg/esutils/utils.go FetchCACertFromSource, getCertFromConfigMap',
    newest: 'unchanged (runtime/esutils/utils.go); infisical and secretserver caProvider are new there, same code',
  },
  {
    match: `${ss}.beyondtrust.auth.*.secretRef.namespace`,
    verdict: 'policy',
    enforcedBy: 'secretwire-eso-cross-namespace',
    refuse: 'beyondtrust: auth.*.secretRef.namespace set and not the object\'s namespace (policy ' +
      'secretwire-eso-cross-namespace already refuses it)',
    why: 'ESO v0.16.2 read it unchecked (pkg/provider/beyondtrust loadConfigSecret); v0.20.4 and v1.3.2 resolve it through ' +
      'resolvers.SecretKeyRef (pinned), so the policy stays for older controllers.',
    cite: 'pkg/provider/beyondtrust/provider.go loadConfigSecret',
    newest: 'pinned as in v0.20.4',
  },
  {
    match: 'Webhook:spec.{auth,auth.ntlm,auth.ntlm.usernameSecret.namespace,auth.ntlm.passwordSecret.namespace,caProvider.namespace}',
    verdict: 'open',
    refuse: 'Webhook generator (generators.external-secrets.io) that reads Secrets: spec.secrets non-empty, spec.auth.ntlm ' +
      'set, or spec.caProvider of type Secret',
    why: 'one Webhook generator value serves every namespace, and Generate stores the namespace and HTTP client in its fields ' +
      'before reading Secrets: two concurrent reconciles race, so a tenant\'s generator can read the Secrets it names in the ' +
      'namespace of another Webhook generator running at the same moment, and send them to its own URL (a data race; the ' +
      'storage namespace is out of reach unless a Webhook generator runs there). Otherwise pinned (ClusterScoped false). ' +
      'v0.20.4 also drops the webhook label check (it resets the struct after setting EnforceLabels).',
    cite: 'pkg/generator/webhook/webhook.go Generate; pkg/common/webhook/webhook.go getStoreSecret',
    newest: 'still one shared value (generators/v1/webhook NewGenerator registered once); the label check is kept',
  },
  {
    match: 'PushSecret:spec.data[].metadata',
    verdict: 'open',
    refuse: 'PushSecret spec.data[].metadata.spec.remoteNamespace set',
    why: 'schemaless push options each provider parses. The Kubernetes provider\'s remoteNamespace pushes into a namespace ' +
      'the PushSecret\'s author picks, with the store\'s identity: refused by the API server up to v1.3.2 (namespaced ' +
      'client, object of another namespace), honoured from ESO 2.1. Other keys (tags, KMS keys, AWS resourcePolicy read ' +
      'from the PushSecret\'s own namespace) act only on the remote system. Pushes through the shared store are refused by ' +
      'secretwire-store-access already.',
    cite: 'pkg/provider/kubernetes/client.go mergePushSecretData',
    newest: 'same; ESO 2.1 makes remoteNamespace effective',
  },

  // ---- Pinned by ESO ----
  {
    match: `{${ss}.{
        akeyless.authSecretRef.{secretRef.{accessID,accessType,accessTypeParam},kubernetesAuth.secretRef},
        alibaba.auth.secretRef.{accessKeyIDSecretRef,accessKeySecretSecretRef},
        aws.auth.secretRef.{accessKeyIDSecretRef,secretAccessKeySecretRef,sessionTokenSecretRef},
        azurekv.authSecretRef.{clientCertificate,clientId,clientSecret,tenantId},
        barbican.auth.{username,password}.secretRef,
        bitwardensecretsmanager.auth.secretRef.credentials,
        cloudrusm.auth.secretRef.{accessKeyIDSecretRef,accessKeySecretSecretRef},
        conjur.auth.{apikey.{apiKeyRef,userRef},jwt.secretRef},
        delinea.{clientId,clientSecret}.secretRef,
        doppler.auth.secretRef.dopplerToken,
        dvls.auth.secretRef.{appId,appSecret},
        fortanix.apiKey.secretRef,
        gcpsm.auth.secretRef.secretAccessKeySecretRef,
        github.auth.privateKey,
        gitlab.auth.SecretRef.accessToken,
        ibm.auth.secretRef.secretApiKeySecretRef,
        infisical.auth.{awsAuthCredentials.identityId,azureAuthCredentials.{identityId,resource},
          gcpIamAuthCredentials.{identityId,serviceAccountKeyFilePath},gcpIdTokenAuthCredentials.identityId,
          jwtAuthCredentials.{identityId,jwt},kubernetesAuthCredentials.{identityId,serviceAccountTokenPath},
          ldapAuthCredentials.{identityId,ldapPassword,ldapUsername},
          ociAuthCredentials.{fingerprint,identityId,privateKey,privateKeyPassphrase,region,tenancyId,userId},
          tokenAuthCredentials.accessToken,universalAuthCredentials.{clientId,clientSecret}},
        keepersecurity.authRef,
        kubernetes.{authRef,auth.cert.{clientCert,clientKey},auth.token.bearerToken},
        ngrok.auth.apiKey.secretRef,
        onepassword.auth.secretRef.connectTokenSecretRef,
        onepasswordSDK.auth.serviceAccountSecretRef,
        oracle.auth.secretRef.{fingerprint,privatekey},
        passbolt.auth.{passwordSecretRef,privateKeySecretRef},
        previder.auth.secretRef.accessToken,
        pulumi.accessToken.secretRef,
        scaleway.{accessKey,secretKey}.secretRef,
        secretserver.{username,password}.secretRef,
        senhasegura.auth.clientSecretSecretRef,
        {yandexlockbox,yandexcertificatemanager}.{auth.authorizedKeySecretRef,caProvider.certSecretRef}},
      ${vault}.{tls.{certSecretRef,keySecretRef},auth.{appRole.{roleRef,secretRef},cert.{clientCert,secretRef},
        iam.secretRef.{accessKeyIDSecretRef,secretAccessKeySecretRef,sessionTokenSecretRef},jwt.secretRef,
        kubernetes.secretRef,ldap.secretRef,tokenSecretRef,userPass.secretRef,gcp.secretRef.secretAccessKeySecretRef}},
      {ECRAuthorizationToken,STSSessionToken}:spec.auth.secretRef.{accessKeyIDSecretRef,secretAccessKeySecretRef,sessionTokenSecretRef},
      GCRAccessToken:spec.auth.secretRef.secretAccessKeySecretRef}.namespace`,
    verdict: 'eso-enforced',
    why: resolversWhy + '. Generators pass EmptyStoreKind or "" as the kind (VaultDynamicSecret through NewGeneratorClient, ' +
      'ECR/STS through NewGeneratorSession, GCR through NewTokenSource).',
    cite: 'pkg/esutils/resolvers/secret_ref.go SecretKeyRef; pkg/provider/vault/provider.go NewGeneratorClient; ' +
      'pkg/provider/aws/auth/auth.go NewGeneratorSession, credsFromSecretRef',
    newest: 'unchanged (runtime/esutils/resolvers/secret_ref.go SecretKeyRef); barbican and dvls (new) use it too',
  },
  {
    match: `{${ss}.{chef.auth.secretRef.privateKeySecretRef,device42.auth.secretRef.credentials,
        passworddepot.auth.secretRef.credentials,onboardbase.auth.{apiKeyRef,passcodeRef},
        volcengine.auth.secretRef.{accessKeyID,secretAccessKey,token},
        webhook.{secrets[].secretRef,auth.ntlm.{usernameSecret,passwordSecret}}},
      ACRAccessToken:spec.auth.servicePrincipal.secretRef.{clientId,clientSecret},
      GithubAccessToken:spec.auth.privateKey.secretRef,MFA:spec.secret}.namespace`,
    verdict: 'eso-enforced',
    why: 'a Secret reference read by the provider\'s own code, with the object\'s namespace unless the store is a ' +
      'ClusterSecretStore (volcengine, the generators: always the object\'s namespace)',
    cite: 'pkg/provider/chef/chef.go NewClient; pkg/provider/device42/device42.go getAuth; pkg/provider/passworddepot/passworddepot.go getAuth; ' +
      'pkg/provider/onboardbase/client.go setAuth; pkg/provider/volcengine/auth.go getSecretValue; pkg/common/webhook/webhook.go getStoreSecret; ' +
      'pkg/generator/acr/acr.go secretKeyRef; pkg/generator/github/github.go newGHClient; pkg/generator/mfa/mfa.go Generate',
    newest: 'unchanged',
  },
  {
    match: `{${ss}.{aws.auth.jwt.serviceAccountRef,akeyless.authSecretRef.kubernetesAuth.serviceAccountRef,
        azurekv.serviceAccountRef,conjur.auth.jwt.serviceAccountRef,doppler.auth.oidcConfig.serviceAccountRef,
        gcpsm.auth.{workloadIdentity,workloadIdentityFederation}.serviceAccountRef,kubernetes.auth.serviceAccount},
      ${vault}.auth.{kubernetes.serviceAccountRef,jwt.kubernetesServiceAccountToken.serviceAccountRef,
        iam.jwt.serviceAccountRef,gcp.workloadIdentity.serviceAccountRef},
      {ECRAuthorizationToken,STSSessionToken}:spec.auth.jwt.serviceAccountRef,
      GCRAccessToken:spec.auth.{workloadIdentity,workloadIdentityFederation}.serviceAccountRef,
      ACRAccessToken:spec.auth.workloadIdentity.serviceAccountRef,
      {QuayAccessToken,CloudsmithAccessToken}:spec.serviceAccountRef}.namespace`,
    verdict: 'eso-enforced',
    why: tokenRequestWhy + ' (generators always use their own namespace)',
    cite: 'pkg/provider/aws/auth/auth.go credsFromServiceAccount; pkg/provider/akeyless/akeyless_api.go getJWTFromServiceAccount, getJWTfromServiceAccountToken; ' +
      'pkg/provider/azure/keyvault/keyvault.go authorizerForWorkloadIdentity; pkg/provider/conjur/auth_jwt.go getJwtFromServiceAccountTokenRequest; ' +
      'pkg/provider/gcp/secretmanager/workload_identity.go TokenSource; ' +
      'pkg/provider/gcp/secretmanager/workload_identity_federation.go updateExternalAccountConfigWithSubjectTokenSupplier; ' +
      'pkg/provider/kubernetes/auth.go serviceAccountToken; pkg/provider/vault/auth.go createServiceAccountToken; ' +
      'pkg/provider/vault/auth_kubernetes.go secretKeyRefForServiceAccount; pkg/provider/vault/iamauth/iamauth.go CredsFromServiceAccount; ' +
      'pkg/generator/acr/acr.go accessTokenForWorkloadIdentity; pkg/esutils/utils.go FetchServiceAccountToken',
    newest: 'unchanged; doppler oidcConfig (new) pins it the same way (providers/v1/doppler/auth_oidc.go createServiceAccountToken)',
  },
  {
    match: `${ss}.oracle.serviceAccountRef.namespace`,
    verdict: 'eso-enforced',
    why: 'NewTokenProvider itself takes serviceAccountRef.namespace unchecked, but getWorkloadIdentityProvider first calls ' +
      'ValidateServiceAccountSelector, which fails a namespaced store whose namespace differs',
    cite: 'pkg/provider/oracle/oracle.go getWorkloadIdentityProvider; pkg/provider/oracle/serviceaccount.go NewTokenProvider; ' +
      'pkg/esutils/utils.go ValidateServiceAccountSelector',
    newest: 'unchanged',
  },
  {
    match: `${gcp}.auth.workloadIdentityFederation.{credConfig,awsSecurityCredentials.awsCredentialsSecretRef}.namespace`,
    verdict: 'eso-enforced',
    why: 'the ConfigMap and Secret are read in the object\'s namespace unless the store is a ClusterSecretStore',
    cite: 'pkg/provider/gcp/secretmanager/workload_identity_federation.go readCredConfig, readAWSSecurityCredentials',
    newest: 'unchanged',
  },

  // ---- Harmless ----
  {
    match: 'SecretStore:spec.conditions[].{namespaces,namespaceSelector,namespaceRegexes}',
    verdict: 'harmless',
    why: 'conditions are read only for a ClusterSecretStore (shouldProcessSecret returns true for any other kind), and they ' +
      'only ever narrow who may use a store',
    cite: 'pkg/controllers/secretstore/client_manager.go shouldProcessSecret',
  },
  {
    match: `${ss}.kubernetes.remoteNamespace`,
    verdict: 'harmless',
    why: 'the namespace read on the server the store\'s own credential reaches (a tenant\'s Secret-held token or certificate, ' +
      'or a token of their ServiceAccount; authRef is refused above): that server\'s RBAC for that identity decides',
  },
  {
    match: `{${vault}.{namespace,auth.namespace},VaultDynamicSecret:spec.parameters}`,
    verdict: 'harmless',
    why: 'a Vault Enterprise namespace, or request parameters, on the Vault server the tenant names',
  },
  {
    match: `{${vault}.{path,auth.*.path,auth.kubernetes.mountPath,auth.gcp.location},VaultDynamicSecret:spec.path,
      ${ss}.{gcpsm.location,infisical.secretsScope.{secretsPath,expandSecretReferences},barbican.authURL,
        bitwardensecretsmanager.identityURL,webhook.result.jsonPath},
      ${gcp}.auth.workloadIdentity.clusterLocation,${vault}.auth.gcp.workloadIdentity.clusterLocation,
      Webhook:spec.result.jsonPath,ExternalSecret:spec.dataFrom[].find.path}`,
    verdict: 'harmless',
    why: 'a path, location or URL on the remote system the tenant names (a Vault mount, a secret path, a JSONPath into a ' +
      'response, a cloud region): no file of ESO\'s Pod',
  },
  {
    match: `${vault}.auth.gcp.serviceAccountRef.namespace`,
    verdict: 'harmless',
    why: 'never read: with auth.gcp.serviceAccountRef ESO does nothing with the ServiceAccount (the login itself is refused above)',
    newest: 'new in v1.3.2: providers/v1/vault/auth_gcp.go setupServiceAccountRefAuth',
  },
  {
    match: `${vault}.auth`,
    verdict: 'harmless',
    why: 'without auth ESO sends no token of its own choosing. Caveat: the Vault client reads VAULT_TOKEN (and VAULT_CLIENT_CERT) ' +
      'from ESO\'s environment for every Vault store, with or without auth: never set them on ESO\'s Pod (the chart does not)',
    cite: 'pkg/provider/vault/auth.go setAuth',
  },
  {
    match: 'GeneratorState:spec.{resource,state}',
    verdict: 'harmless',
    why: 'a tenant may write GeneratorStates, and ESO runs the embedded generator\'s Cleanup when one is deleted, in its own ' +
      'namespace; every generator\'s Cleanup is a no-op except Grafana\'s, which deletes a service account on the tenant\'s ' +
      'Grafana with credentials resolved in that namespace',
    cite: 'pkg/controllers/generatorstate/generatorstate_controller.go handleFinalizer; pkg/generator/grafana/grafana.go Cleanup',
  },
  {
    match: 'Grafana:spec.serviceAccount',
    verdict: 'harmless',
    why: 'the Grafana service account the generator creates on the tenant\'s Grafana, not a Kubernetes one',
  },
  {
    match: `{${ss}.{aws.auth.{jwt.serviceAccountRef,secretRef.*},
        gcpsm.auth.{secretRef.secretAccessKeySecretRef,workloadIdentity.serviceAccountRef,
          workloadIdentityFederation.{serviceAccountRef,awsSecurityCredentials}},
        akeyless.authSecretRef.kubernetesAuth.{secretRef,serviceAccountRef},
        alibaba.auth.secretRef,azurekv.authSecretRef{,.*},beyondtrust.auth.*{,.secretRef},cloudrusm.auth.secretRef,
        conjur.auth.{apikey,jwt,jwt.secretRef,jwt.serviceAccountRef},delinea.{clientId,clientSecret}.secretRef,
        device42.auth.secretRef.credentials,doppler.auth.{secretRef,oidcConfig,oidcConfig.serviceAccountRef},
        fortanix.apiKey.secretRef,ibm.auth.{secretRef,secretRef.secretApiKeySecretRef},
        infisical.auth.{jwtAuthCredentials,ldapAuthCredentials,ociAuthCredentials,ociAuthCredentials.privateKeyPassphrase,
          tokenAuthCredentials,universalAuthCredentials},
        keepersecurity.authRef,kubernetes.{auth,auth.cert,auth.token,auth.serviceAccount},ngrok.auth.{apiKey,apiKey.secretRef},
        onepasswordSDK.auth.serviceAccountSecretRef,passworddepot.auth.secretRef.credentials,previder.auth.secretRef,
        pulumi.accessToken.secretRef,scaleway.{accessKey,secretKey}.secretRef,secretserver.{username,password}.secretRef,
        barbican.auth.username.secretRef,webhook.{auth,auth.ntlm},
        {yandexlockbox,yandexcertificatemanager}.caProvider.certSecretRef},
      ${vault}.{tls.{certSecretRef,keySecretRef},auth.{appRole,cert,cert.secretRef,jwt,jwt.secretRef,jwt.kubernetesServiceAccountToken,
        jwt.kubernetesServiceAccountToken.serviceAccountRef,iam.jwt.serviceAccountRef,
        iam.secretRef.*,ldap,ldap.secretRef,tokenSecretRef,userPass,userPass.secretRef,
        gcp.secretRef.secretAccessKeySecretRef,gcp.workloadIdentity.serviceAccountRef}},
      {ECRAuthorizationToken,STSSessionToken}:spec.auth.{jwt.serviceAccountRef,secretRef.*},
      GCRAccessToken:spec.auth.{secretRef.secretAccessKeySecretRef,workloadIdentity.serviceAccountRef,
        workloadIdentityFederation.{serviceAccountRef,awsSecurityCredentials}},
      ACRAccessToken:spec.auth.servicePrincipal,
      {QuayAccessToken,CloudsmithAccessToken}:spec.serviceAccountRef,
      Grafana:spec.auth.{basic,token}}`,
    verdict: 'harmless',
    why: ownIdentityWhy,
  },
]

// ---------------------------------------------------------------------------------------------------------------
// Matching

/** Compiles a rule's glob (see Rule.match) to an anchored RegExp. */
export function globRegExp(glob: string): RegExp {
  let re = ''
  let depth = 0
  const g = glob.replace(/\s+/g, '')
  for (let i = 0; i < g.length; i++) {
    const c = g[i]!
    if (c === '*' && g[i + 1] === '*') { re += '.*'; i++ }
    else if (c === '*') re += '[^.:]*'
    else if (c === '{') { re += '(?:'; depth++ }
    else if (c === '}' && depth > 0) { re += ')'; depth-- }
    else if (c === ',' && depth > 0) re += '|'
    else re += c.replace(/[.+?^${}()|[\]\\]/g, '\\$&')
  }
  if (depth !== 0) throw new Error(`unbalanced braces in glob ${glob}`)
  return new RegExp(`^${re}$`)
}

const compiled = new Map<Rule, RegExp>()

function matcher(rule: Rule): RegExp {
  let re = compiled.get(rule)
  if (re === undefined) compiled.set(rule, re = globRegExp(rule.match))
  return re
}

/** The first rule that covers the field, or undefined: an unreviewed field. */
export function classify(kind: string, path: string): Rule | undefined {
  const key = `${kind}:${path}`
  return esoFieldRules.find((r) => matcher(r).test(key))
}
