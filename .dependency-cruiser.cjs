// The layers of src/, checked by dependency-cruiser (test/layers.test.ts runs it): an import may only go down.
//   util/        ground floor: helpers that know nothing of secretwire (memo, deadline, file watching)
//   core/        the pure core: the contract and every decision; no I/O, no Kubernetes client, no server
//   manifests/   deploy/'s generated files, from the contract (pure)
//   kube/ config/          edges: the Kubernetes API; settings and the policy file
//   observe/               metrics and Events (above kube/: it counts the API client's requests)
//   reconcile/ server/ cli/ entry points that wire core and edges together (server/serve starts the reconciler;
//                          cli/main starts the server)
const layer = (name, mayImport) => ({
  name: `${name}-imports-only-below`,
  comment: `src/${name}/ may import only ${mayImport.map((l) => `${l}/`).join(', ') || 'nothing of src/'} (and itself)`,
  severity: 'error',
  from: { path: `^src/${name}/` },
  to: { path: '^src/', pathNot: [`^src/${name}/`, ...mayImport.map((l) => `^src/${l}/`)] },
})

module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', comment: 'no import circle in src/', from: { path: '^src/' }, to: { circular: true } },
    layer('util', []),
    layer('core', ['util']),
    layer('manifests', ['core', 'util']),
    layer('kube', ['core', 'util']),
    layer('config', ['core', 'util']),
    layer('observe', ['kube', 'core', 'util']),
    layer('reconcile', ['observe', 'kube', 'config', 'core', 'util']),
    layer('server', ['reconcile', 'observe', 'kube', 'config', 'core', 'util']),
    layer('cli', ['server', 'reconcile', 'observe', 'kube', 'config', 'core', 'util']),
    {
      name: 'core-does-no-io',
      comment: 'src/core/ is pure: it touches no file, process, network, Kubernetes client, HTTP server, log or metric',
      severity: 'error',
      from: { path: '^src/core/' },
      to: { path: '^(node:)?(fs|child_process|net|http|https|tls|dgram)(/|$)|@kubernetes/client-node|fastify|pino|prom-client|^src/util/filewatch', dependencyTypesNot: ['type-only'] },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
}
