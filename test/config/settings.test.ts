// Room: src/config/settings.ts, src/config/policyfile.ts
import t from 'tap'
import { ConfigError } from '../../src/core/errors.ts'
import { settings } from '../helpers/objects.ts'

t.test('defaults', async (t) => {
  const c = settings()
  t.match(c, {
    port: 8443, tls: undefined, kubeconfig: undefined, policyFile: undefined,
    storageNamespace: 'eso-secret-storage', clusterSecretStore: 'eso-cluster-secret-store',
    strategy: 'generate', pushUpdatePolicy: 'Replace', inject: 'templates', apiTimeoutMs: 3000, logLevel: 'info',
  })
  t.ok(Object.isFrozen(c), 'read once into a frozen object')
  t.same(c.policy.current.forSecret('anything').namespaces, ['*'], 'no policy file: every namespace')
})

t.test('every setting is read from its variable; blank means default', async (t) => {
  const c = settings({
    PORT: '9443', TLS_CERT_FILE: '/c.pem', TLS_KEY_FILE: '/k.pem', KUBECONFIG: '/kc',
    SECRETWIRE_STORAGE_NAMESPACE: 'vault', SECRETWIRE_CLUSTER_SECRET_STORE: 'css', SECRETWIRE_STRATEGY: 'push',
    SECRETWIRE_PUSH_UPDATE_POLICY: 'IfNotExists', SECRETWIRE_INJECT: 'pods', SECRETWIRE_API_TIMEOUT_MS: '500', LOG_LEVEL: 'debug', SECRETWIRE_CONFIG: '/p.yaml',
  }, { '/p.yaml': 'defaults: { namespaces: [team-a] }' })
  t.match(c, {
    port: 9443, tls: { certFile: '/c.pem', keyFile: '/k.pem' }, kubeconfig: '/kc', policyFile: '/p.yaml',
    storageNamespace: 'vault', clusterSecretStore: 'css', strategy: 'push', pushUpdatePolicy: 'IfNotExists', inject: 'pods', apiTimeoutMs: 500, logLevel: 'debug',
  })
  t.same(c.policy.current.forSecret('x').namespaces, ['team-a'])
  t.equal(settings({ PORT: '  ' }).port, 8443)
})

t.test('bad settings stop secretwire with a message naming the variable', async (t) => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ PORT: '65536' }, /^PORT="65536": must be an integer from 0 to 65535$/],
    [{ PORT: 'http' }, /^PORT="http"/],
    [{ TLS_CERT_FILE: '/c.pem' }, /TLS_CERT_FILE and TLS_KEY_FILE must be set together/],
    [{ SECRETWIRE_STRATEGY: 'pull' }, /^SECRETWIRE_STRATEGY="pull": must be one of generate, push$/],
    [{ SECRETWIRE_PUSH_UPDATE_POLICY: 'Never', SECRETWIRE_STRATEGY: 'push' }, /^SECRETWIRE_PUSH_UPDATE_POLICY="Never": must be one of Replace, IfNotExists$/],
    // Not ignored: whoever sets it expects a password ESO never overwrites, and the generate strategy has no push.
    [{ SECRETWIRE_PUSH_UPDATE_POLICY: 'IfNotExists' }, /^SECRETWIRE_PUSH_UPDATE_POLICY=IfNotExists: applies to SECRETWIRE_STRATEGY=push only \(the strategy is generate\)$/],
    [{ SECRETWIRE_INJECT: 'both' }, /^SECRETWIRE_INJECT="both": must be one of templates, pods$/],
    // Removed: the shipped webhook configuration and admission policies name the secretwire.io keys.
    [{ SECRETWIRE_ANNOTATION_PREFIX: 'wire.example.com' }, /^SECRETWIRE_ANNOTATION_PREFIX is no longer supported: the annotation prefix is fixed to secretwire\.io: .*; unset it$/],
    [{ SECRETWIRE_ANNOTATION_PREFIX: 'secretwire.io' }, /^SECRETWIRE_ANNOTATION_PREFIX is no longer supported/],
    [{ SECRETWIRE_STORAGE_NAMESPACE: 'a.b' }, /must be a namespace name/],
    [{ SECRETWIRE_API_TIMEOUT_MS: '50' }, /from 100 to 4000/],
    // The webhook's timeoutSeconds is 5: a budget past it would let the API server give up first, admitting unwired.
    [{ SECRETWIRE_API_TIMEOUT_MS: '5000' }, /^SECRETWIRE_API_TIMEOUT_MS="5000": must be an integer from 100 to 4000$/],
    [{ LOG_LEVEL: 'loud' }, /^LOG_LEVEL="loud"/],
    [{ SECRETWIRE_CONFIG: '/missing.yaml' }, /^SECRETWIRE_CONFIG=\/missing\.yaml: cannot read: ENOENT/],
  ]
  for (const [env, message] of cases) t.throws(() => settings(env), ConfigError, JSON.stringify(env)) && t.throws(() => settings(env), { message })
})
