// The serving certificate: the configured files, or a self-signed one made in memory (fine for trying
// secretwire out; the API server trusts it only if given it as caBundle).
import { readFile } from 'node:fs/promises'
import type { Logger } from 'pino'
import { generate } from 'selfsigned'
import type { Config } from './config.ts'
import { ConfigError } from './errors.ts'

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
