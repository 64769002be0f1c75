import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { createServer, request, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { X509Authenticator } from '../../../../../agent/server/auth/x509-authenticator.js';
import { servingCert } from '../../../../../agent/server/tls/serving-cert.js';
import { nodeTlsOptions } from '../../../../../agent/server/tls/tls-settings.js';
import { memoryLogger } from '../../../../helpers/memory-logger.js';
import { makeCa, makeCert, type Credentials } from '../../../../helpers/pki.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dockerlet-tls-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('servingCert', () => {
  test("generates a self-signed pair into <root-dir>/pki once, as the kubelet's: the certificate then its CA, for the host and addresses", async () => {
    const options = { rootDir: dir, hostname: 'node-1', addresses: ['10.0.0.5'], logger: memoryLogger().logger, now: () => new Date('2026-12-01T00:00:00Z') };
    const first = await servingCert(options);
    expect(first.certFile).toBe(join(dir, 'pki', 'kubelet.crt'));
    expect((await stat(first.keyFile)).mode & 0o777).toBe(0o600);
    const [leaf, ca] = first.cert.toString().match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)!.map((pem) => new X509Certificate(pem));
    expect(leaf!.subject).toBe('CN=node-1@1796083200');
    expect(ca!.subject).toBe('CN=node-1-ca@1796083200');
    expect(leaf!.subjectAltName).toBe('DNS:node-1, IP Address:10.0.0.5');
    expect(leaf!.verify(ca!.publicKey)).toBe(true);
    expect(ca!.ca).toBe(true);
    expect(leaf!.validFrom).toBe('Nov 30 23:00:00 2026 GMT');
    expect(leaf!.validTo).toBe('Nov 30 23:00:00 2027 GMT');
    const again = await servingCert({ ...options, now: () => new Date('2027-01-01T00:00:00Z') });
    expect(again.cert.equals(first.cert)).toBe(true);
  });

  test("the user's files are used as they are; a key that does not match its certificate is an error naming both", async () => {
    const ca = await makeCa(dir);
    const server = await makeCert(dir, ca, 'server', '/CN=node-1', 'IP:127.0.0.1');
    const other = await makeCert(dir, ca, 'other', '/CN=other', 'IP:127.0.0.1');
    const logger = memoryLogger().logger;
    const given = await servingCert({ certFile: server.cert, keyFile: server.key, rootDir: dir, hostname: 'node-1', addresses: [], logger });
    expect(given.cert.equals(await readFile(server.cert))).toBe(true);
    await expect(servingCert({ certFile: server.cert, keyFile: other.key, rootDir: dir, hostname: 'node-1', addresses: [], logger })).rejects.toThrow(
      `--tls-cert-file/--tls-private-key-file: the key in ${other.key} does not match the certificate in ${server.cert}`,
    );
  });
});

describe('nodeTlsOptions', () => {
  test("maps Go's names to OpenSSL's, keeping TLS 1.3 on as Go does", () => {
    expect(nodeTlsOptions({ minVersion: '', cipherSuites: [] })).toEqual({ minVersion: 'TLSv1.2' });
    expect(nodeTlsOptions({ minVersion: 'VersionTLS13', cipherSuites: ['TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256', 'TLS_RSA_WITH_AES_256_GCM_SHA384'] })).toEqual({
      minVersion: 'TLSv1.3',
      ciphers: 'ECDHE-RSA-AES128-GCM-SHA256:AES256-GCM-SHA384:TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256',
    });
    // Naming one TLS 1.3 suite does not turn the others off: Go does not let a list touch TLS 1.3.
    expect(nodeTlsOptions({ minVersion: '', cipherSuites: ['TLS_CHACHA20_POLY1305_SHA256'] }).ciphers).toBe('TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384');
    expect(() => nodeTlsOptions({ minVersion: 'TLS1.2', cipherSuites: [] })).toThrow('unknown TLS version "TLS1.2"');
    expect(() => nodeTlsOptions({ minVersion: '', cipherSuites: ['TLS_RSA_WITH_RC4_128_SHA'] })).toThrow('cipher suite TLS_RSA_WITH_RC4_128_SHA not supported');
    expect(() => nodeTlsOptions({ minVersion: '', cipherSuites: ['ECDHE-RSA-AES128-GCM-SHA256'] })).toThrow("cipher suite ECDHE-RSA-AES128-GCM-SHA256 not supported or doesn't exist");
  });
});

describe('X509Authenticator over a real TLS connection', () => {
  let server: Server | undefined;
  afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

  /** Serves on loopback with the client CA, answering with what the authenticator made of the connection. */
  async function serve(ca: Credentials, serving: Credentials): Promise<number> {
    const authenticator = new X509Authenticator();
    server = createServer({ cert: await readFile(serving.cert), key: await readFile(serving.key), ca: await readFile(ca.cert), requestCert: true, rejectUnauthorized: false }, (req, res) => {
      void authenticator.authenticate(req).then((result) => res.end(JSON.stringify(result ?? null)));
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    return (server.address() as AddressInfo).port;
  }

  const ask = (port: number, client?: Credentials): Promise<unknown> =>
    new Promise((resolve, reject) => {
      void (async () => {
        const credentials = client ? { cert: await readFile(client.cert), key: await readFile(client.key) } : {};
        request({ host: '127.0.0.1', port, path: '/', rejectUnauthorized: false, ...credentials }, (res) => {
          let body = '';
          res.on('data', (chunk: Buffer) => (body += chunk.toString()));
          res.on('end', () => resolve(JSON.parse(body)));
        })
          .on('error', reject)
          .end();
      })();
    });

  test('a certificate of the client CA names the user and groups; another CA\'s or none do not', async () => {
    const ca = await makeCa(dir);
    const otherCa = await makeCa(dir, 'other-ca', '/CN=someone-else');
    const port = await serve(ca, await makeCert(dir, ca, 'serving', '/CN=node-1', 'IP:127.0.0.1'));
    expect(await ask(port, await makeCert(dir, ca, 'alice', '/O=devs/O=ops/CN=alice'))).toEqual({ user: { name: 'alice', groups: ['devs', 'ops'] } });
    expect(await ask(port, await makeCert(dir, otherCa, 'mallory', '/O=system:masters/CN=mallory'))).toEqual({
      error: expect.stringContaining('x509: the client certificate is not signed by the client CA'),
    });
    expect(await ask(port)).toBeNull();
  });
});
