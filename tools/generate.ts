// `npm run generate`: writes the manifests in deploy/ that restate the contract (src/core/contract.ts) — the webhook
// configuration and the admission policies — from src/manifests. test/manifests/generated.test.ts fails when a
// committed file differs from what this writes, so the contract and deploy/ cannot drift apart.
import { writeFileSync } from 'node:fs'
import { generatedFiles } from '../src/manifests/files.ts'

for (const [path, text] of Object.entries(generatedFiles())) {
  writeFileSync(new URL(`../${path}`, import.meta.url), text)
  process.stdout.write(`wrote ${path}\n`)
}
