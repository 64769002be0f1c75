/**
 * The secure server's certificate and key: the files the user gave (--tls-cert-file,
 * --tls-private-key-file), else a self-signed pair kept in <root-dir>/pki as the kubelet keeps
 * one in its --cert-dir (cmd/kubelet/app/server.go InitializeTLS, client-go's
 * GenerateSelfSignedCertKey): made once, then reused across restarts. As upstream, it is a
 * one-year serving certificate signed by a throwaway CA named `<host>-ca@<unix time>`, and
 * kubelet.crt holds the certificate followed by that CA. Beyond upstream (which names only the
 * host), the node's addresses are subject alternative names too, so a client that dials an
 * InternalIP can verify it against the CA.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { DockerletError, errorMessage } from '../../../common/api/errors.js';
import { issueCertificate, newCertificateAuthority } from '../../../common/pki/certificates.js';
import { writeFileDurably } from '../../../common/util/durable-file.js';

export interface ServingCertOptions {
  /** Both or neither: the user's PEM files. */
  certFile?: string;
  keyFile?: string;
  rootDir: string;
  /** The node's hostname (the certificate's common name) and the addresses it is reached on. */
  hostname: string;
  addresses: readonly string[];
  logger: Logger;
  now?: () => Date;
}

export interface ServingCert {
  cert: Buffer;
  key: Buffer;
  certFile: string;
  keyFile: string;
}

const ValidityDays = 365;
const SelfSigned = 'the self-signed serving certificate';

/** The certificate and key to serve with: read from the user's files, or from (or made into) <root-dir>/pki. */
export async function servingCert(options: ServingCertOptions): Promise<ServingCert> {
  if (options.certFile !== undefined && options.keyFile !== undefined) return readPair(options.certFile, options.keyFile, '--tls-cert-file/--tls-private-key-file');
  const pki = join(options.rootDir, 'pki');
  const certFile = join(pki, 'kubelet.crt');
  const keyFile = join(pki, 'kubelet.key');
  const existing = await readPair(certFile, keyFile, SelfSigned).catch((err: unknown) => {
    if (isMissing(err)) return undefined;
    throw err;
  });
  if (existing) return existing;
  const generated = await selfSignedPair(options.hostname, options.addresses, options.now?.() ?? new Date());
  await mkdir(pki, { recursive: true, mode: 0o700 });
  await writeFileDurably(keyFile, generated.key, 0o600);
  await writeFileDurably(certFile, generated.cert, 0o644);
  options.logger.info({ certFile, keyFile, hostname: options.hostname, addresses: options.addresses }, 'generated a self-signed serving certificate');
  return { cert: Buffer.from(generated.cert), key: Buffer.from(generated.key), certFile, keyFile };
}

async function readPair(certFile: string, keyFile: string, what: string): Promise<ServingCert> {
  let cert: Buffer;
  let key: Buffer;
  try {
    [cert, key] = await Promise.all([readFile(certFile), readFile(keyFile)]);
  } catch (err) {
    // The self-signed pair not made yet is no error: the caller makes it.
    if (isMissing(err) && what === SelfSigned) throw err;
    throw new DockerletError('DKL_ERR_FLAG_INVALID', `${what}: ${errorMessage(err)}`, { cause: err });
  }
  try {
    const leaf = new X509Certificate(cert);
    if (!leaf.checkPrivateKey(createPrivateKey(key))) {
      throw new Error(`the key in ${keyFile} does not match the certificate in ${certFile}`);
    }
  } catch (err) {
    throw new DockerletError('DKL_ERR_FLAG_INVALID', `${what}: ${errorMessage(err)}`, { cause: err });
  }
  return { cert, key, certFile, keyFile };
}

function isMissing(err: unknown): boolean {
  return (err as NodeJS.ErrnoException).code === 'ENOENT';
}

/** A serving certificate for `host` and `addresses` signed by a new CA, as PEM: the certificate then the CA, and the serving key. */
async function selfSignedPair(host: string, addresses: readonly string[], now: Date): Promise<{ cert: string; key: string }> {
  const unixTime = Math.floor(now.getTime() / 1000);
  const validity = { now, days: ValidityDays };
  const ca = await newCertificateAuthority(`${host}-ca@${unixTime}`, validity);
  const serving = await issueCertificate(ca, { commonName: `${host}@${unixTime}`, serverNames: [host, ...addresses] }, validity);
  return { cert: serving.cert + ca.cert, key: serving.key };
}
