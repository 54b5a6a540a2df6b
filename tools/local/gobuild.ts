// Builds Go commands of one of the project's tool modules into a cache outside git, keyed by a hash of every
// input (go.mod, go.sum, *.go, Go version, flags), so a second run reuses the binaries and an edit rebuilds them.
import { createHash } from 'node:crypto'
import { spawn, execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { homedir } from 'node:os'
import { join, relative } from 'node:path'
import { promisify } from 'node:util'

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

/** Returns the directory holding the built binaries, building them first when no cached build matches. */
export async function buildGo(build: GoBuild, log: (line: string) => void = defaultLog): Promise<string> {
  const key = await inputHash(build)
  const binDir = join(cacheRoot(), 'bin', `${build.name}-${key}`)
  if (existsSync(join(binDir, '.complete'))) return binDir

  const tmp = `${binDir}.tmp-${process.pid}`
  await rm(tmp, { recursive: true, force: true })
  await mkdir(tmp, { recursive: true })
  log(`building ${build.name} (${build.packages.join(' ')}) into ${binDir}; ` +
    'the first build compiles Kubernetes-sized Go modules and takes many minutes')
  const started = Date.now()
  const args = ['build', '-trimpath', ...(build.modfile === undefined ? [] : [`-modfile=${build.modfile}`]),
    '-ldflags', `-s -w ${build.ldflags ?? ''}`.trim(), '-o', tmp + '/', ...build.packages]
  await new Promise<void>((resolve, reject) => {
    const child = spawn('go', args, {
      cwd: build.moduleDir,
      env: { ...process.env, CGO_ENABLED: '0', ...build.env },
      stdio: ['ignore', 'inherit', 'inherit'],
    })
    child.on('error', (err) => reject(new Error(`cannot run go (is Go installed and on PATH?): ${err.message}`)))
    child.on('exit', (code, signal) => code === 0
      ? resolve()
      : reject(new Error(`go build of ${build.name} failed (${signal ?? `exit ${code}`})`)))
  })
  await writeFile(join(tmp, '.complete'), `${new Date().toISOString()} ${Date.now() - started} ms\n`)
  await rm(binDir, { recursive: true, force: true })
  await rename(tmp, binDir)
  log(`built ${build.name} in ${((Date.now() - started) / 1000).toFixed(1)} s`)
  await pruneOtherBuilds(build.name, binDir)
  return binDir
}

async function inputHash(build: GoBuild): Promise<string> {
  const hash = createHash('sha256')
  const { stdout } = await run('go', ['env', 'GOVERSION', 'GOOS', 'GOARCH'], { cwd: build.moduleDir })
  hash.update(stdout)
  hash.update(JSON.stringify([build.packages, build.ldflags ?? '', build.modfile ?? '', build.env ?? {}]))
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

/** Keeps the cache from growing with every edit: only the newest build of each tool stays. */
async function pruneOtherBuilds(name: string, keep: string): Promise<void> {
  const dir = join(cacheRoot(), 'bin')
  for (const entry of await readdir(dir)) {
    const path = join(dir, entry)
    if (entry.startsWith(`${name}-`) && path !== keep && !entry.includes('.tmp-')) {
      await rm(path, { recursive: true, force: true })
    }
  }
}

function defaultLog(line: string): void {
  process.stderr.write(`[secretwire] ${line}\n`)
}
