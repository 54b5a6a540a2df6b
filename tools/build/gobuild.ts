// Builds Go commands of one of the project's tool modules into a cache outside git, keyed by a hash of every
// input (go.mod, go.sum, *.go, Go version, flags), so a second run reuses the binaries and an edit rebuilds them.
// A build is two logged steps, each reporting how far along it is: resolving (`go list -deps`, which downloads
// the modules the packages need) and compiling (`go build -v`, one line per package compiled). Only
// tools/build/needs.ts `prepare` calls a build for real: inside a run (SECRETWIRE_OFFLINE=1) a build that is not
// in the cache is an error, never a download.
import { createHash } from 'node:crypto'
import { execFile } from 'node:child_process'
import { existsSync, statSync, writeFileSync } from 'node:fs'
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { homedir } from 'node:os'
import { join, relative } from 'node:path'
import { promisify } from 'node:util'
import { alive } from './lifeline.ts'
import { duration, runLogged, say, startStep, type Say } from './progress.ts'

const run = promisify(execFile)

export interface GoBuild {
  /** Short name for the cache directory and messages. */
  readonly name: string
  /** Absolute path of the Go module. */
  readonly moduleDir: string
  /** Packages to build, relative to the module: './cmd/etcd'. */
  readonly packages: readonly string[]
  readonly ldflags?: string
  /** Another module file than go.mod (`go build -modfile`): the same commands built against other versions. */
  readonly modfile?: string
  /** Extra environment for `go build`. */
  readonly env?: Readonly<Record<string, string>>
}

export function cacheRoot(): string {
  return process.env.SECRETWIRE_CACHE_DIR ??
    join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'secretwire')
}

/** Set in the environment of everything a run starts once `prepare` is done: nothing may be fetched or built. */
export function offline(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.SECRETWIRE_OFFLINE === '1'
}

/** Where a build's output goes: the binaries, once built. */
async function binDirOf(build: GoBuild): Promise<string> {
  return join(cacheRoot(), 'bin', `${build.name}-${await inputHash(build)}`)
}

/** The directory holding the built binaries, if a cached build matches the inputs. */
export async function cachedGo(build: GoBuild): Promise<string | undefined> {
  const binDir = await binDirOf(build)
  return existsSync(join(binDir, '.complete')) ? binDir : undefined
}

/** Builds in flight in this process, by output folder: two callers asking for one build share it. */
const building = new Map<string, Promise<string>>()

/** Returns the directory holding the built binaries, building them first when no cached build matches. */
export async function buildGo(build: GoBuild, out: Say = say): Promise<string> {
  const binDir = await binDirOf(build)
  if (existsSync(join(binDir, '.complete'))) return used(binDir)
  let inFlight = building.get(binDir)
  if (inFlight === undefined) {
    building.set(binDir, inFlight = compile(build, binDir, out).finally(() => building.delete(binDir)))
  }
  return inFlight
}

async function compile(build: GoBuild, binDir: string, out: Say): Promise<string> {
  if (offline()) {
    throw new Error(`${build.name} is not built, and this run is offline (SECRETWIRE_OFFLINE=1): ` +
      'declare it in tools/build/needs.ts so prepare builds it before the run starts')
  }

  const tmp = `${binDir}.tmp-${process.pid}`
  await rm(tmp, { recursive: true, force: true })
  await mkdir(tmp, { recursive: true })
  const log = join(cacheRoot(), 'logs', `${build.name}.log`)
  // The compiler is a Go program: GOGC=400 lets its heap grow 4x before collecting (less GC, more memory), and
  // -dwarf=false skips debug info that -s -w would strip from the binary anyway. Measured on Helm's build from an
  // empty GOCACHE on 2 cores (docs/development.md): 164 s as before, 155 s with -dwarf=false, 139 and 142 s with both.
  const env = { ...process.env, CGO_ENABLED: '0', GOGC: process.env.GOGC ?? '400', ...build.env }
  const modfile = build.modfile === undefined ? [] : [`-modfile=${build.modfile}`]
  const args = ['build', '-v', '-trimpath', '-gcflags=all=-dwarf=false', ...modfile, '-ldflags', `-s -w ${build.ldflags ?? ''}`.trim(), '-o', tmp + '/', ...build.packages]
  const retry = 'npm run setup'
  const started = Date.now()

  const step = startStep(`go build ${build.name}`, `${build.packages.length} command(s) from ${relative(process.cwd(), build.moduleDir) || '.'}` +
    ' (a first build compiles Kubernetes-sized modules: minutes)', log, out)
  // Resolving the packages downloads the modules they need (`go: downloading ...` on stderr) and counts them.
  let downloaded = 0
  let packages = 0
  await runLogged({
    command: 'go', args: ['list', ...modfile, '-deps', '-f', '{{.ImportPath}}', ...build.packages], cwd: build.moduleDir, env, log, retry,
    onLine: (line) => {
      if (line.startsWith('go: downloading ')) step.progress(`downloading modules: ${++downloaded} so far`)
      else if (!line.includes(' ')) packages++
    },
  })
  // `go build -v` names each package as it compiles it (cached ones are not named).
  let compiled = 0
  step.progress(`compiling: 0 of at most ${packages} packages`)
  await runLogged({
    command: 'go', args, cwd: build.moduleDir, env, log, retry,
    onLine: (line) => {
      if (!line.includes(' ') && !line.startsWith('#')) step.progress(`compiling: ${++compiled} of at most ${packages} packages`)
    },
  })
  await writeFile(join(tmp, '.complete'), `${new Date().toISOString()} ${Date.now() - started} ms\n`)
  await rm(binDir, { recursive: true, force: true })
  await rename(tmp, binDir)
  step.done(`${downloaded} modules downloaded, ${compiled} of ${packages} packages compiled, in ${duration(Date.now() - started)}`)
  await pruneOtherBuilds(build.name, binDir)
  return used(binDir)
}

async function inputHash(build: GoBuild): Promise<string> {
  const hash = createHash('sha256')
  const { stdout } = await run('go', ['env', 'GOVERSION', 'GOOS', 'GOARCH'], { cwd: build.moduleDir, env: { ...process.env, GOTOOLCHAIN: 'local' } })
  hash.update(stdout)
  hash.update(JSON.stringify([build.packages, build.ldflags ?? '', build.modfile ?? '', build.env ?? {}, 'dwarf=false']))
  for (const file of await sourceFiles(build.moduleDir)) {
    hash.update(relative(build.moduleDir, file)).update('\0').update(await readFile(file)).update('\0')
  }
  return hash.digest('hex').slice(0, 16)
}

async function sourceFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true })
  return entries
    .filter((e) => e.isFile() && (e.name.endsWith('.go') || e.name.endsWith('.mod') || e.name.endsWith('.sum')))
    .map((e) => join(e.parentPath, e.name))
    .sort()
}

/** How long a build nobody has used stays: another checkout, or a run still going, may be using it. */
export const unusedForMs = 24 * 3600_000

/** Marks a cached build (or image) as used now, at most once a minute; returns its path. */
export function used(path: string): string {
  const marker = `${path}.used`
  try {
    if (Date.now() - statSync(marker).mtimeMs < 60_000) return path
  } catch { /* first use */ }
  writeFileSync(marker, '')
  return path
}

/** Whether a cached build (or image) was used within `unusedForMs`, by the time of its marker or its own. */
export function recentlyUsed(path: string): boolean {
  const time = (p: string) => { try { return statSync(p).mtimeMs } catch { return 0 } }
  return Date.now() - Math.max(time(`${path}.used`), time(path)) < unusedForMs
}

/**
 * Keeps the cache from growing with every edit: other builds of the same tool go once nobody has used them for a
 * day (a run in another checkout may be using one right now: removing it under that run broke it). A killed
 * build's temporary folder goes once its process is gone (its pid is in the name).
 */
async function pruneOtherBuilds(name: string, keep: string): Promise<void> {
  const dir = join(cacheRoot(), 'bin')
  for (const entry of await readdir(dir)) {
    const path = join(dir, entry)
    if (!entry.startsWith(`${name}-`) || path === keep || path === `${keep}.used` || entry.endsWith('.used')) continue
    const pid = /\.tmp-(\d+)$/.exec(entry)?.[1]
    if (pid !== undefined ? alive(Number(pid)) : recentlyUsed(path)) continue
    await rm(path, { recursive: true, force: true })
    await rm(`${path}.used`, { force: true })
  }
}
