/** Test certificates made with openssl: a CA, and keys with certificates it signs (clients, or servers with subjectAltNames); a self-signed one for 127.0.0.1. */
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface Credentials {
  cert: string;
  key: string;
}

/** A self-signed CA in `dir` as <name>.crt and <name>.key. */
export async function makeCa(dir: string, name = 'ca', subject = '/CN=dockerlet-test-ca'): Promise<Credentials> {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', subject, '-keyout', key, '-out', cert]);
  return { cert, key };
}

/** A key and a certificate signed by `ca`: a server's when `subjectAltName` (such as IP:127.0.0.1,DNS:localhost) is given, a client's otherwise. */
export async function makeCert(dir: string, ca: Credentials, name: string, subject: string, subjectAltName?: string): Promise<Credentials> {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  await run('openssl', ['req', '-newkey', 'rsa:2048', '-nodes', '-subj', subject, '-keyout', key, '-out', csr]);
  const extFile = join(dir, `${name}.ext`);
  await writeFile(extFile, `${subjectAltName ? `subjectAltName=${subjectAltName}\n` : ''}extendedKeyUsage=${subjectAltName ? 'serverAuth' : 'clientAuth'}\n`);
  // A random serial of its own: a serial file shared by certificates signed at once is read half-written.
  const serial = `0x${randomBytes(15).toString('hex')}`;
  await run('openssl', ['x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-set_serial', serial, '-days', '2', '-extfile', extFile, '-out', cert]);
  return { cert, key };
}

let certificate: { key: Buffer; cert: Buffer } | undefined;

/** A self-signed certificate for 127.0.0.1, made once and kept for the module's life. */
export function selfSignedCertificate(): { key: Buffer; cert: Buffer } {
  if (certificate) return certificate;
  const dir = mkdtempSync(join(tmpdir(), 'dockerlet-cert-'));
  try {
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
        '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')],
      { stdio: 'ignore' },
    );
    certificate = { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) };
    return certificate;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
