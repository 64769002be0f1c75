/**
 * X.509 certificates as PEM, for the kubelet's self-signed serving pair and for a cluster's PKI
 * (`dockerlet cluster up`): a certificate authority, and keys with certificates it signs for
 * servers (subject alternative names), clients (a common name for the user, organizations for
 * the groups, as Kubernetes reads client certificates) or both. node-forge builds and signs the
 * certificates; Node's native generator makes the RSA keys (node-forge's pure-JS one takes
 * seconds for 2048 bits).
 */
import { generateKeyPair, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { isIP } from 'node:net';
import type forge from 'node-forge';

const generateRsaKeyPair = promisify(generateKeyPair);

/** node-forge is loaded on first use: a node that is given its certificates never carries it. */
const loadForge = async (): Promise<typeof forge> => (await import('node-forge')).default;

export interface PemPair {
  cert: string;
  key: string;
}

export interface CertificateRequest {
  commonName: string;
  /** The subject's O entries: a client certificate's groups. */
  organizations?: readonly string[];
  /** DNS names and IP addresses a server is reached by; a server certificate when given. */
  serverNames?: readonly string[];
  /** A client certificate too (extKeyUsage clientAuth); a server-only one otherwise. */
  client?: boolean;
}

export interface Validity {
  now: Date;
  days: number;
}

/** Certificates are valid from an hour back, as client-go makes them, so that a client whose clock is behind accepts them. */
const BackdateMs = 3600 * 1000;
const DayMs = 24 * 3600 * 1000;

/**
 * A serial number from random bytes, as hex: positive (RFC 5280) and minimally encoded in DER,
 * which Go and OpenSSL insist on: the first byte is made 0x40-0x7f, neither a sign bit nor a
 * leading zero.
 */
export function serialNumber(random: Buffer): string {
  const bytes = Buffer.from(random);
  bytes[0] = (bytes[0]! & 0x7f) | 0x40;
  return bytes.toString('hex');
}

/** A new 2048-bit RSA key pair as PEM (PKCS#8, SPKI), made on libuv's thread pool: several made at once use every core. */
export async function newRsaKeyPair(): Promise<{ privateKey: string; publicKey: string }> {
  return generateRsaKeyPair('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
}

/** A new RSA key for a certificate, in node-forge's form too. */
async function rsaKey(pki: typeof forge.pki): Promise<{ privateKey: forge.pki.rsa.PrivateKey; publicKey: forge.pki.rsa.PublicKey; pem: string }> {
  const { privateKey, publicKey } = await newRsaKeyPair();
  return { privateKey: pki.privateKeyFromPem(privateKey), publicKey: pki.publicKeyFromPem(publicKey), pem: privateKey };
}

function certificate(pki: typeof forge.pki, subject: forge.pki.CertificateField[], publicKey: forge.pki.rsa.PublicKey, validity: Validity, extensions: object[]): forge.pki.Certificate {
  const cert = pki.createCertificate();
  cert.publicKey = publicKey;
  cert.serialNumber = serialNumber(randomBytes(16));
  cert.validity.notBefore = new Date(validity.now.getTime() - BackdateMs);
  cert.validity.notAfter = new Date(validity.now.getTime() - BackdateMs + validity.days * DayMs);
  cert.setSubject(subject);
  cert.setExtensions(extensions);
  return cert;
}

/** A new self-signed certificate authority named `commonName`. */
export async function newCertificateAuthority(commonName: string, validity: Validity): Promise<PemPair> {
  const { pki, md } = await loadForge();
  const key = await rsaKey(pki);
  const ca = certificate(pki, [{ name: 'commonName', value: commonName }], key.publicKey, validity, [
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, digitalSignature: true, keyEncipherment: true, critical: true },
  ]);
  ca.setIssuer(ca.subject.attributes);
  ca.sign(key.privateKey, md.sha256.create());
  return { cert: pki.certificateToPem(ca), key: key.pem };
}

/** A new key and a certificate for `request` signed by `ca`. */
export async function issueCertificate(ca: PemPair, request: CertificateRequest, validity: Validity): Promise<PemPair> {
  const { pki, md } = await loadForge();
  const caCert = pki.certificateFromPem(ca.cert);
  const key = await rsaKey(pki);
  const serverNames = request.serverNames ?? [];
  const subject = [
    ...(request.organizations ?? []).map((organization) => ({ name: 'organizationName', value: organization })),
    { name: 'commonName', value: request.commonName },
  ];
  const unique = serverNames.filter((name, index) => serverNames.indexOf(name) === index);
  const cert = certificate(pki, subject, key.publicKey, validity, [
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: unique.length > 0, clientAuth: request.client === true },
    ...(unique.length > 0 ? [{ name: 'subjectAltName', altNames: unique.map((name) => (isIP(name) ? { type: 7, ip: name } : { type: 2, value: name })) }] : []),
  ]);
  cert.setIssuer(caCert.subject.attributes);
  cert.sign(pki.privateKeyFromPem(ca.key) as forge.pki.rsa.PrivateKey, md.sha256.create());
  return { cert: pki.certificateToPem(cert), key: key.pem };
}
