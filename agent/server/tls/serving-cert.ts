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
import { createPrivateKey, generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { DockerletError, errorMessage } from '../../../common/api/errors.js';
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

const ValidityMs = 365 * 24 * 3600 * 1000;
/** Certificates are valid from an hour back, as client-go makes them, so that a client whose clock is behind accepts them. */
const BackdateMs = 3600 * 1000;
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
  const { pki, md } = (await import('node-forge')).default;
  const rsaKey = (): { privateKey: ReturnType<typeof pki.privateKeyFromPem>; publicKey: ReturnType<typeof pki.publicKeyFromPem>; pem: string } => {
    // Node's native generator: node-forge's pure-JS one takes seconds for 2048 bits.
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
    return { privateKey: pki.privateKeyFromPem(privateKey), publicKey: pki.publicKeyFromPem(publicKey), pem: privateKey };
  };
  const unixTime = Math.floor(now.getTime() / 1000);
  const certificate = (subject: string, publicKey: ReturnType<typeof pki.publicKeyFromPem>, extensions: object[]): ReturnType<typeof pki.createCertificate> => {
    const cert = pki.createCertificate();
    cert.publicKey = publicKey;
    // A positive serial number (the high bit cleared), as RFC 5280 asks.
    cert.serialNumber = `0${randomBytes(16).toString('hex')}`;
    cert.validity.notBefore = new Date(now.getTime() - BackdateMs);
    cert.validity.notAfter = new Date(now.getTime() - BackdateMs + ValidityMs);
    cert.setSubject([{ name: 'commonName', value: subject }]);
    cert.setExtensions(extensions);
    return cert;
  };

  const caKey = rsaKey();
  const ca = certificate(`${host}-ca@${unixTime}`, caKey.publicKey, [
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, digitalSignature: true, keyEncipherment: true, critical: true },
  ]);
  ca.setIssuer(ca.subject.attributes);
  ca.sign(caKey.privateKey, md.sha256.create());

  const servingKey = rsaKey();
  const names = [host, ...addresses].filter((name, index, all) => all.indexOf(name) === index);
  const serving = certificate(`${host}@${unixTime}`, servingKey.publicKey, [
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames: names.map((name) => (isIP(name) ? { type: 7, ip: name } : { type: 2, value: name })) },
  ]);
  serving.setIssuer(ca.subject.attributes);
  serving.sign(caKey.privateKey, md.sha256.create());
  return { cert: pki.certificateToPem(serving) + pki.certificateToPem(ca), key: servingKey.pem };
}
