// The CLI as the package ships it: dist/cli/main.js, what `npm run build` (run by `npm ci` and by `npm test`) makes from
// src/. Tests run it rather than src/ through a TypeScript loader: it is what users and the image run, and it starts
// in a third of the CPU time. A dist/ older than src/ would test old code, so that stops the test, saying so.
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { repoRoot } from '../../tools/paths.ts'

export const cliPath = join(repoRoot, 'dist', 'cli', 'main.js')

function newest(dir: string): number {
  return Math.max(...readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile()).map((e) => statSync(join(e.parentPath, e.name)).mtimeMs))
}

let checked = false

/** dist/cli/main.js, once it is known to be built from the src/ in the working tree. */
export function builtCli(): string {
  if (checked) return cliPath
  if (!existsSync(cliPath)) throw new Error('dist/cli/main.js is missing: run npm run build (npm test does)')
  if (newest(join(repoRoot, 'src')) > newest(join(repoRoot, 'dist'))) {
    throw new Error('dist/ is older than src/: run npm run build (npm test does) so the tests run the code in src/')
  }
  checked = true
  return cliPath
}
