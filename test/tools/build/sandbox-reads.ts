// What the node run reads from the caches once inside its namespaces (tools/node/with-node.ts `inside`): the
// launcher's binaries and the CRDs (startControlPlane), ESO's binary (esoSidecar) and its chart's RBAC (startEso),
// kubectl (installStore), and the check that everything tools/build/needs.ts declares for the run is there. Run
// by needs.test.ts in a network namespace of its own, where nothing can be downloaded.
import { esoChartRbac } from '../../../tools/cluster/esochart.ts'
import { buildControlPlane, buildKubernetes, kubectlPath } from '../../../tools/build/builds.ts'
import { crdFiles } from '../../../tools/cluster/crds.ts'
import { esoSidecar } from '../../../tools/cluster/eso.ts'
import { prepare } from '../../../tools/build/needs.ts'

await prepare(['node'])
const read = {
  binaries: [await buildControlPlane(), await buildKubernetes()],
  crds: (await crdFiles()).length,
  eso: (await esoSidecar()).path,
  esoRbac: (await esoChartRbac()).controller.length,
  kubectl: await kubectlPath(),
}
process.stdout.write(`${JSON.stringify(read)}\n`)
