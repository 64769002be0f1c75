import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';

// Thirteen 2048-bit RSA keys and certificates: seconds, not milliseconds.
import { ClusterLayout } from '../../../../cli/cluster/cluster-layout.js';
import { clusterNetwork } from '../../../../cli/cluster/cluster-network.js';
import { ensureClusterPki } from '../../../../cli/cluster/cluster-pki.js';

let dir: string;
let layout: ClusterLayout;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cluster-pki-'));
  layout = new ClusterLayout(dir);
});
afterEach(() => rm(dir, { recursive: true, force: true }));

const certificate = async (name: string): Promise<X509Certificate> => new X509Certificate(await readFile(layout.pki(name).cert));
const ClientAuth = '1.3.6.1.5.5.7.3.2';
const ServerAuth = '1.3.6.1.5.5.7.3.1';

describe("a cluster's PKI", () => {
  test('the cluster CA signs the identities and serving certificates; etcd has a CA of its own that signs nothing else', async () => {
    await ensureClusterPki(layout, 'demo', clusterNetwork('demo', 1));
    const [ca, etcdCa] = [await certificate('ca'), await certificate('etcd-ca')];
    for (const name of ['apiserver', 'admin', 'kube-controller-manager', 'kube-scheduler', 'kube-proxy', 'apiserver-kubelet-client', 'node', 'kubelet']) {
      expect((await certificate(name)).checkIssued(ca), name).toBe(true);
      expect((await certificate(name)).checkIssued(etcdCa), name).toBe(false);
    }
    for (const name of ['etcd-server', 'apiserver-etcd-client']) {
      expect((await certificate(name)).checkIssued(etcdCa), name).toBe(true);
      expect((await certificate(name)).checkIssued(ca), name).toBe(false);
    }
    expect((await certificate('node')).subject.split('\n')).toEqual(['O=system:nodes', 'CN=system:node:demo']);
    expect((await certificate('admin')).subject.split('\n')).toEqual(['O=system:masters', 'CN=kubernetes-admin']);
    expect((await certificate('kubelet')).subjectAltName).toBe('DNS:demo, IP Address:10.244.0.1');
    expect((await certificate('apiserver')).subjectAltName).toContain('IP Address:10.96.0.1, IP Address:10.244.0.1');
    expect((await certificate('apiserver')).subjectAltName).toContain('DNS:kubernetes.default.svc.cluster.local');
    expect((await certificate('etcd-server')).keyUsage.sort()).toEqual([ServerAuth, ClientAuth].sort());
    expect(await readFile(join(dir, 'pki', 'sa.key'), 'utf8')).toContain('PRIVATE KEY');
  }, 60_000);

  test('with several nodes, each has its own client identity and kubelet serving certificate, at its address on the nodes\' network', async () => {
    await ensureClusterPki(layout, 'demo', clusterNetwork('demo', 3));
    const ca = await certificate('ca');
    for (const [file, node, ip] of [['', 'demo', '10.253.0.1'], ['-2', 'demo-2', '10.253.0.11'], ['-3', 'demo-3', '10.253.0.12']] as const) {
      const [client, serving] = [await certificate(`node${file}`), await certificate(`kubelet${file}`)];
      expect(client.subject.split('\n')).toEqual(['O=system:nodes', `CN=system:node:${node}`]);
      expect(serving.subjectAltName).toBe(`DNS:${node}, IP Address:${ip}`);
      expect(client.checkIssued(ca) && serving.checkIssued(ca)).toBe(true);
    }
    expect((await certificate('apiserver')).subjectAltName).toContain('IP Address:10.96.0.1, IP Address:10.253.0.1');
  }, 60_000);

  test('a second run keeps what is there, and issues again a certificate with less than a month left', async () => {
    const made = new Date('2026-01-01T00:00:00Z');
    await ensureClusterPki(layout, 'demo', clusterNetwork('demo', 1), made);
    const before = { ca: (await certificate('ca')).serialNumber, admin: (await certificate('admin')).serialNumber, sa: await readFile(join(dir, 'pki', 'sa.key'), 'utf8') };
    await ensureClusterPki(layout, 'demo', clusterNetwork('demo', 1), new Date('2026-06-01T00:00:00Z'));
    expect((await certificate('admin')).serialNumber).toBe(before.admin);
    await ensureClusterPki(layout, 'demo', clusterNetwork('demo', 1), new Date('2026-12-15T00:00:00Z'));
    const renewed = await certificate('admin');
    expect(renewed.serialNumber).not.toBe(before.admin);
    expect(renewed.checkIssued(await certificate('ca'))).toBe(true);
    expect((await certificate('ca')).serialNumber).toBe(before.ca);
    expect(await readFile(join(dir, 'pki', 'sa.key'), 'utf8')).toBe(before.sa);
  }, 60_000);

  test('a CA made again (its files gone) gets every certificate it signs issued again', async () => {
    await ensureClusterPki(layout, 'demo', clusterNetwork('demo', 1));
    const before = { apiserver: (await certificate('apiserver')).serialNumber, etcd: (await certificate('etcd-server')).serialNumber };
    await rm(layout.pki('ca').cert);
    await rm(layout.pki('ca').key);
    await ensureClusterPki(layout, 'demo', clusterNetwork('demo', 1));
    const apiserver = await certificate('apiserver');
    expect(apiserver.serialNumber).not.toBe(before.apiserver);
    expect(apiserver.verify((await certificate('ca')).publicKey)).toBe(true);
    expect((await certificate('etcd-server')).serialNumber).toBe(before.etcd);
  }, 60_000);
});
