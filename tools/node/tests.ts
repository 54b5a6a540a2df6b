// `npm run test:node`'s command inside the node run: the files of test/node/, one tap run each, in order.
// outage.test.ts and tenant-identity.test.ts work on the install node.test.ts makes, so it must run first. One tap
// run of all three does not keep that order even with --jobs=1: tap starts each file after an asynchronous stat of
// it, in whatever order those return (@tapjs/run's run.ts), and CI on 2026-12-05 started node.test.ts last.
// Every file runs, even after a failure (each says what it found); the exit status is 1 if any failed.
import { spawnSync } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { repoRoot } from '../paths.ts'

/** Those whose order matters, first; any other file of test/node/ after them, by name. */
const first = ['node.test.ts', 'outage.test.ts', 'tenant-identity.test.ts']
const rest = readdirSync(join(repoRoot, 'test', 'node')).filter((f) => f.endsWith('.test.ts') && !first.includes(f)).sort()

const failed: string[] = []
for (const file of [...first, ...rest]) {
  const path = join('test', 'node', file)
  const run = spawnSync(join(repoRoot, 'node_modules', '.bin', 'tap'), ['--jobs=1', '--timeout=600', path], { cwd: repoRoot, stdio: 'inherit' })
  if (run.status !== 0) failed.push(`${path} (${run.error?.message ?? (run.signal !== null ? `signal ${run.signal}` : `exit status ${run.status}`)})`)
}
if (failed.length > 0) {
  process.stderr.write(`[secretwire] node tests failed: ${failed.join(', ')}\n`)
  process.exit(1)
}
