// Kyverno's admission controller, built from its Go module (tools/kyverno) into the binary cache, for the bench
// that puts secretwire side by side with what a platform team would run instead. Never part of the product.
import { join } from 'node:path'
import { buildGo } from './gobuild.ts'
import type { Say } from './progress.ts'
import { repoRoot } from './paths.ts'

export const KYVERNO_VERSION = 'v1.19.1'

export async function buildKyverno(out?: Say): Promise<string> {
  const dir = await buildGo({ name: 'kyverno', moduleDir: join(repoRoot, 'tools', 'kyverno'), packages: ['github.com/kyverno/kyverno/cmd/kyverno'] }, out)
  return join(dir, 'kyverno')
}
