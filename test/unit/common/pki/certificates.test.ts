import { createPrivateKey, X509Certificate } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { issueCertificate, newCertificateAuthority, serialNumber } from '../../../../common/pki/certificates.js';

const now = new Date('2026-12-01T12:00:00Z');
const ClientAuth = '1.3.6.1.5.5.7.3.2';
const ServerAuth = '1.3.6.1.5.5.7.3.1';

describe('certificates', () => {
  test('a CA is self-signed, a CA, and valid from an hour back for the days asked', async () => {
    const ca = new X509Certificate((await newCertificateAuthority('test-ca', { now, days: 10 })).cert);
    expect(ca.ca).toBe(true);
    expect(ca.subject).toBe('CN=test-ca');
    expect(ca.checkIssued(ca)).toBe(true);
    expect(new Date(ca.validFrom).toISOString()).toBe('2026-12-01T11:00:00.000Z');
    expect(new Date(ca.validTo).toISOString()).toBe('2026-12-11T11:00:00.000Z');
  });

  test('a client certificate carries the user as CN and the groups as O, for client auth only, signed by the CA', async () => {
    const caPair = await newCertificateAuthority('test-ca', { now, days: 10 });
    const ca = new X509Certificate(caPair.cert);
    const pair = await issueCertificate(caPair, { commonName: 'system:node:n1', organizations: ['system:nodes', 'extra'], client: true }, { now, days: 1 });
    const leaf = new X509Certificate(pair.cert);
    expect(leaf.subject.split('\n')).toEqual(['O=system:nodes', 'O=extra', 'CN=system:node:n1']);
    expect(leaf.checkIssued(ca) && leaf.verify(ca.publicKey)).toBe(true);
    expect(leaf.ca).toBe(false);
    expect(leaf.keyUsage).toEqual([ClientAuth]);
    expect(leaf.subjectAltName).toBeUndefined();
    expect(leaf.checkPrivateKey(createPrivateKey(pair.key))).toBe(true);
  });

  test('a server certificate names its addresses and DNS names once each, for server auth', async () => {
    const caPair = await newCertificateAuthority('test-ca', { now, days: 10 });
    const leaf = new X509Certificate((await issueCertificate(caPair, { commonName: 'kube-apiserver', serverNames: ['127.0.0.1', 'localhost', '127.0.0.1', 'kubernetes.default'] }, { now, days: 1 })).cert);
    expect(leaf.subjectAltName).toBe('IP Address:127.0.0.1, DNS:localhost, DNS:kubernetes.default');
    expect(leaf.keyUsage).toEqual([ServerAuth]);
    expect(leaf.checkHost('kubernetes.default')).toBe('kubernetes.default');
    expect(leaf.checkIP('127.0.0.1')).toBe('127.0.0.1');
  });

  test('serial numbers are positive and minimally encoded whatever the random bytes: no sign bit, no leading zero byte', () => {
    for (const first of [0x00, 0x01, 0x7f, 0x80, 0xff]) {
      const serial = serialNumber(Buffer.from([first, 0x05, 0xaa]));
      expect(serial).toHaveLength(6);
      expect(parseInt(serial.slice(0, 2), 16)).toBeGreaterThanOrEqual(0x40);
      expect(parseInt(serial.slice(0, 2), 16)).toBeLessThan(0x80);
      expect(serial.slice(2)).toBe('05aa');
    }
  });
});
