// Room: src/core/contract.ts
// The docs' tables are the user's contract; they must say what contract.ts declares: the annotations in the
// README, the settings in docs/operations.md.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { annotations, settings } from '../../src/core/contract.ts'

const readme = readFileSync(join(import.meta.dirname, '..', '..', 'README.md'), 'utf8')
const operations = readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'operations.md'), 'utf8')

t.test('every setting is in docs/operations.md with its default and doc', async (t) => {
  for (const s of Object.values(settings)) {
    const row = `| \`${s.env}\` | ${s.default === '' ? '(unset)' : `\`${s.default}\``} | ${s.doc} |`
    t.ok(operations.includes(row), row)
  }
})

t.test('every annotation is in the README with its example and doc', async (t) => {
  for (const a of Object.values(annotations)) {
    const row = `| \`secretwire.io/${a.key}\` | \`${a.example}\` | ${a.doc} |`
    t.ok(readme.includes(row), row)
  }
})
