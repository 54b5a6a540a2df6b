// Container images from local files, for a node that can pull from no registry: an OCI image layout (one
// uncompressed layer, a config, a manifest and an index) written as the tar `ctr images import` reads. The layer
// is made by GNU tar from a directory, with fixed owners and times so the same files give the same digest.
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface ImageSpec {
  /** Full reference, e.g. localhost/secretwire-test/busybox:1.35 (never :latest, which the kubelet always pulls). */
  readonly name: string
  /** Directory whose contents become the image's root filesystem. */
  readonly rootfs: string
  readonly entrypoint?: readonly string[]
  readonly cmd?: readonly string[]
  readonly env?: readonly string[]
  readonly user?: string
  readonly workingDir?: string
  /** Owner of every file in the layer (default 0:0). */
  readonly owner?: { readonly uid: number, readonly gid: number }
}

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex')

/** Writes the image as an OCI layout tar at `out` and returns the manifest's digest. */
export function writeOciImage(spec: ImageSpec, out: string): string {
  const work = mkdtempSync(join(tmpdir(), 'secretwire-image-'))
  try {
    const layerPath = join(work, 'layer.tar')
    const owner = spec.owner ?? { uid: 0, gid: 0 }
    run('tar', ['--create', '--file', layerPath, '--directory', spec.rootfs, '--sort=name', '--mtime=@0', '--numeric-owner',
      `--owner=${owner.uid}`, `--group=${owner.gid}`, '--format=posix', '--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime', '.'])
    const layer = readFileSync(layerPath)
    const layerDigest = sha256(layer)
    const config = Buffer.from(JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: {
        ...(spec.entrypoint && { Entrypoint: spec.entrypoint }),
        ...(spec.cmd && { Cmd: spec.cmd }),
        Env: spec.env ?? ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
        ...(spec.user && { User: spec.user }),
        ...(spec.workingDir && { WorkingDir: spec.workingDir }),
      },
      rootfs: { type: 'layers', diff_ids: [`sha256:${layerDigest}`] },
    }))
    const manifest = Buffer.from(JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: `sha256:${sha256(config)}`, size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: `sha256:${layerDigest}`, size: layer.length }],
    }))
    const manifestDigest = sha256(manifest)
    const layout = join(work, 'layout')
    mkdirSync(join(layout, 'blobs', 'sha256'), { recursive: true })
    writeFileSync(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }))
    writeFileSync(join(layout, 'index.json'), JSON.stringify({
      schemaVersion: 2,
      manifests: [{
        mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${manifestDigest}`, size: manifest.length,
        annotations: { 'io.containerd.image.name': spec.name, 'org.opencontainers.image.ref.name': spec.name.split(':').at(-1) },
        platform: { architecture: 'amd64', os: 'linux' },
      }],
    }))
    writeFileSync(join(layout, 'blobs', 'sha256', layerDigest), layer)
    writeFileSync(join(layout, 'blobs', 'sha256', sha256(config)), config)
    writeFileSync(join(layout, 'blobs', 'sha256', manifestDigest), manifest)
    run('tar', ['--create', '--file', out, '--directory', layout, '--sort=name', '--mtime=@0', '--owner=0', '--group=0', '--numeric-owner', '.'])
    return `sha256:${manifestDigest}`
  } finally {
    rmSync(work, { recursive: true, force: true })
  }
}

function run(command: string, args: string[]): void {
  const res = spawnSync(command, args, { encoding: 'utf8' })
  if (res.status !== 0) throw new Error(`${command} ${args.slice(0, 3).join(' ')}: ${res.stderr || res.error?.message}`)
}
