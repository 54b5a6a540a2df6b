// Short-lived certificates for HTTPS servers that the local API server calls (webhooks on 127.0.0.1).
import { generate } from 'selfsigned'

export interface ServingCert {
  readonly cert: string
  readonly key: string
  /** The CA bundle to put in a webhook's clientConfig.caBundle (the certificate is its own CA). */
  readonly caBundle: string
}

export async function loopbackCert(): Promise<ServingCert> {
  const pems = await generate([{ name: 'commonName', value: '127.0.0.1' }], {
    keyType: 'ec',
    algorithm: 'sha256',
    notAfterDate: new Date(Date.now() + 24 * 3600_000),
    extensions: [
      { name: 'basicConstraints', cA: true },
      { name: 'keyUsage', digitalSignature: true, keyCertSign: true },
      { name: 'extKeyUsage', serverAuth: true },
      // The API server checks the IP SAN for a url: https://127.0.0.1:PORT webhook.
      { name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }, { type: 2, value: 'localhost' }] },
    ],
  })
  return { cert: pems.cert, key: pems.private, caBundle: Buffer.from(pems.cert).toString('base64') }
}
