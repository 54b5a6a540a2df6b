// The serving certificate: the configured files, reloaded when they change, or a self-signed one made in memory
// (fine for trying secretwire out; the API server trusts it only if given it as caBundle).
import { readFile } from 'node:fs/promises'
import { createSecureContext } from 'node:tls'
import type { Logger } from 'pino'
import { generate } from 'selfsigned'
import type { Config } from '../config/settings.ts'
import { ConfigError } from '../core/errors.ts'
import { watchFiles, type Watch } from '../util/filewatch.ts'

export interface KeyPair {
  readonly key: string
  readonly cert: string
}

export async function readKeyPair(files: NonNullable<Config['tls']>): Promise<KeyPair> {
  try {
    const [cert, key] = await Promise.all([readFile(files.certFile, 'utf8'), readFile(files.keyFile, 'utf8')])
    return { cert, key }
  } catch (err) {
    throw new ConfigError(`cannot read the TLS certificate or key: ${(err as Error).message}`)
  }
}

export async function selfSigned(hosts: readonly string[] = ['localhost', '127.0.0.1']): Promise<KeyPair> {
  const pems = await generate([{ name: 'commonName', value: hosts[0] ?? 'secretwire' }], {
    keyType: 'ec',
    algorithm: 'sha256',
    notAfterDate: new Date(Date.now() + 365 * 24 * 3600_000),
    extensions: [
      { name: 'basicConstraints', cA: true },
      { name: 'keyUsage', digitalSignature: true, keyCertSign: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: hosts.map((h) => /^[\d.]+$|:/.test(h) ? { type: 7 as const, ip: h } : { type: 2 as const, value: h }),
      },
    ],
  })
  return { cert: pems.cert, key: pems.private }
}

export async function servingKeyPair(config: Config, log: Logger): Promise<KeyPair> {
  if (config.tls !== undefined) return readKeyPair(config.tls)
  log.warn('TLS_CERT_FILE and TLS_KEY_FILE are not set: serving a self-signed certificate made in memory')
  return selfSigned()
}

/**
 * Calls `onChange` with the new pair whenever the files change (see filewatch.ts). A pair that cannot be read or
 * whose key does not match is logged and skipped: the current certificate stays in use.
 */
export function watchKeyPair(
  files: NonNullable<Config['tls']>, current: KeyPair, onChange: (pair: KeyPair) => void, log: Logger, pollMs = 30_000,
): Watch {
  let last = current
  const check = async () => {
    let pair: KeyPair
    try {
      pair = await readKeyPair(files)
      createSecureContext(pair)
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'TLS certificate or key unusable; keeping the current one')
      return
    }
    if (pair.cert === last.cert && pair.key === last.key) return
    last = pair
    onChange(pair)
    log.info({ certFile: files.certFile }, 'serving the new TLS certificate')
  }
  return watchFiles([files.certFile, files.keyFile], () => void check(), pollMs)
}
