// Room: src/ (its layers: .dependency-cruiser.cjs), test/ (its mirror of src/)
// The house keeps its shape: in src/ an import only goes down a floor (util < core < kube, config < observe <
// reconcile < server < cli; manifests on core) and never in a circle, checked by dependency-cruiser with the rules in
// .dependency-cruiser.cjs; and every test file names, on its first line, the rooms it proves, every room named
// exists, and every file of src/ is proven by some test file.
import { spawnSync } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import t from 'tap'
import { repoRoot } from '../tools/paths.ts'

const depcruise = join(repoRoot, 'node_modules', '.bin', 'depcruise')
const cruise = (cwd: string) => spawnSync(depcruise, ['src', '--config', '.dependency-cruiser.cjs', '--output-type', 'err'], { cwd, encoding: 'utf8' })

t.test('src/: every import goes down a floor, and none forms a circle', async (t) => {
  const res = cruise(repoRoot)
  t.equal(res.status, 0, `dependency-cruiser finds no violation:\n${res.stdout}${res.stderr}`)
  t.match(res.stdout, /no dependency violations found \(\d+ modules/)
})

t.test('a control: an import that runs back up, and a circle, are reported', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'secretwire-layout-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  cpSync(join(repoRoot, '.dependency-cruiser.cjs'), join(dir, '.dependency-cruiser.cjs'))
  cpSync(join(repoRoot, 'tsconfig.json'), join(dir, 'tsconfig.json'))
  for (const d of ['core', 'server', 'util']) mkdirSync(join(dir, 'src', d), { recursive: true })
  writeFileSync(join(dir, 'src', 'server', 'app.ts'), 'export const app = 1\n')
  writeFileSync(join(dir, 'src', 'core', 'plan.ts'), "import { app } from '../server/app.ts'\nimport { readFileSync } from 'node:fs'\nexport const plan = app + readFileSync.length\n")
  writeFileSync(join(dir, 'src', 'util', 'a.ts'), "import { b } from './b.ts'\nexport const a = b\n")
  writeFileSync(join(dir, 'src', 'util', 'b.ts'), "import { a } from './a.ts'\nexport const b = () => a\n")
  const res = cruise(dir)
  t.not(res.status, 0, 'the run fails')
  t.match(res.stdout, /core-imports-only-below: src\/core\/plan\.ts → src\/server\/app\.ts/, 'core importing server is named')
  t.match(res.stdout, /core-does-no-io: src\/core\/plan\.ts → fs/, 'core reading a file is named')
  t.match(res.stdout, /no-circular: src\/util\/a\.ts → /, 'the circle is named')
})

function files(dir: string, suffix: string): string[] {
  return readdirSync(join(repoRoot, dir), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith(suffix)).map((e) => relative(repoRoot, join(e.parentPath, e.name))).sort()
}

t.test('test/: each file names the rooms it proves; every room exists; every file of src/ is proven', async (t) => {
  const claimed = new Set<string>()
  for (const file of files('test', '.test.ts')) {
    const first = readFileSync(join(repoRoot, file), 'utf8').split('\n')[0] ?? ''
    // Rooms are paths, separated by commas; words after a path (in parentheses, or "through ...") explain it.
    const rooms = /^\/\/ Room: (.+)$/.exec(first)?.[1]?.replace(/\([^)]*\)/g, '').split(',').map((r) => r.trim().split(' ')[0]!).filter((r) => r !== '') ?? []
    t.ok(rooms.length > 0, `${file} names its rooms on its first line`)
    for (const room of rooms) {
      t.ok(existsSync(join(repoRoot, room)), `${file}: room ${room} exists`)
      claimed.add(room)
    }
  }
  const proven = (file: string) => [...claimed].some((room) => room === file || (room.endsWith('/') && file.startsWith(room)))
  const unproven = files('src', '.ts').filter((f) => !proven(f))
  t.same(unproven, [], 'every file of src/ is a room some test file proves')
})
