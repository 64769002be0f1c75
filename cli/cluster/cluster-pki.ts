/**
 * The cluster's PKI, laid out as kubeadm lays one out:
 * - the cluster CA signs the API server's serving certificate, a client certificate per
 *   identity (the admin in system:masters, the controller manager and the scheduler as the
 *   users their bootstrap RBAC roles name, each node as system:node:<name> in system:nodes, the
 *   proxy as system:kube-proxy, the local provisioner as dockerlet:local-provisioner, the API
 *   server's own client towards the kubelet), each kubelet's
 *   serving certificate, and what the controller manager signs for CSRs;
 * - a CA of etcd's own signs etcd's certificate and the API server's client certificate
 *   towards it, so that no identity of the cluster CA (a node's, or one a CSR obtained) can
 *   read etcd directly;
 * - a key pair signs service-account tokens.
 * What is there is kept, so a resumed cluster keeps its identities and its pods' tokens stay
 * valid; a certificate that expires within a month, no longer matches its CA or its key is issued
 * again (the kubeconfigs, written at every `up`, take the new ones).
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { access, mkdir, readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { issueCertificate, newCertificateAuthority, newRsaKeyPair, type CertificateRequest, type PemPair } from '../../common/pki/certificates.js';
import { writeFileDurably } from '../../common/util/durable-file.js';
import type { ClusterIdentity, ClusterLayout } from './cluster-layout.js';
import type { ClusterNetwork } from './cluster-network.js';

/** The user the local provisioner is, by its certificate. */
export const LocalProvisionerUser = 'dockerlet:local-provisioner';

/** The client identities the cluster CA signs, by the file name each certificate has under pki/. */
const ClientIdentities = {
  admin: { commonName: 'kubernetes-admin', organizations: ['system:masters'] },
  'kube-controller-manager': { commonName: 'system:kube-controller-manager' },
  'kube-scheduler': { commonName: 'system:kube-scheduler' },
  'kube-proxy': { commonName: 'system:kube-proxy' },
  // Bound to the bootstrap ClusterRole system:persistent-volume-provisioner when the cluster starts.
  'local-provisioner': { commonName: LocalProvisionerUser },
  'apiserver-kubelet-client': { commonName: 'kube-apiserver-kubelet-client', organizations: ['system:masters'] },
} as const;

const CaValidityDays = 3650;
const LeafValidityDays = 365;
/** A certificate with less than this left is issued again at the next `up`. */
const RenewBeforeMs = 30 * 24 * 3600 * 1000;

/** The file names (under pki/) of a node's client certificate (its kubeconfig's identity too) and its kubelet's serving one. */
export function nodeCredentials(ordinal: number): { client: ClusterIdentity; serving: string } {
  return ordinal === 1 ? { client: 'node', serving: 'kubelet' } : { client: `node-${ordinal}`, serving: `kubelet-${ordinal}` };
}

/** Makes whatever of the PKI is missing (or about to expire) in layout.pkiDir. */
export async function ensureClusterPki(layout: ClusterLayout, clusterName: string, network: ClusterNetwork, now = new Date()): Promise<void> {
  await mkdir(layout.pkiDir, { recursive: true, mode: 0o700 });
  const validity = (days: number): { now: Date; days: number } => ({ now, days });
  const authority = async (name: string, commonName: string): Promise<PemPair> =>
    (await readPair(layout, name)) ?? writePair(layout, name, await newCertificateAuthority(commonName, validity(CaValidityDays)));
  const [ca, etcdCa] = await Promise.all([authority('ca', `dockerlet-${clusterName}-ca`), authority('etcd-ca', `dockerlet-${clusterName}-etcd-ca`)]);
  const leaf = async (signer: PemPair, name: string, request: CertificateRequest): Promise<void> => {
    const existing = await readPair(layout, name);
    if (existing && stillGood(existing, signer, now)) return;
    await writePair(layout, name, await issueCertificate(signer, request, validity(LeafValidityDays)));
  };
  const domain = network.clusterDomain;
  // Each certificate has its own key: made side by side, they take one core's time per core.
  await Promise.all([
    leaf(ca, 'apiserver', {
      commonName: 'kube-apiserver',
      serverNames: ['127.0.0.1', network.apiServiceIP, network.apiAddress, 'localhost', hostname(), 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', `kubernetes.default.svc.${domain}`],
    }),
    ...Object.entries(ClientIdentities).map(([name, identity]) => leaf(ca, name, { ...identity, client: true })),
    ...network.nodes.flatMap((node) => {
      const files = nodeCredentials(node.ordinal);
      return [
        leaf(ca, files.client, { commonName: `system:node:${node.name}`, organizations: ['system:nodes'], client: true }),
        leaf(ca, files.serving, { commonName: node.name, serverNames: [node.name, node.ip] }),
      ];
    }),
    // etcd's gateway dials etcd itself with the serving certificate: it is a client one too, as kubeadm makes it.
    leaf(etcdCa, 'etcd-server', { commonName: 'etcd', serverNames: ['127.0.0.1', 'localhost'], client: true }),
    leaf(etcdCa, 'apiserver-etcd-client', { commonName: 'kube-apiserver-etcd-client', client: true }),
  ]);
  await ensureServiceAccountKeys(layout);
}

/** A kept pair must still be signed by its CA (made again if its files went), match its key (a write cut short), and have a month left. */
function stillGood(pair: PemPair, signer: PemPair, now: Date): boolean {
  try {
    const cert = new X509Certificate(pair.cert);
    // The signature, not the issuer's name: a CA made again has the same name.
    return cert.verify(new X509Certificate(signer.cert).publicKey) && cert.checkPrivateKey(createPrivateKey(pair.key)) && new Date(cert.validTo).getTime() - now.getTime() > RenewBeforeMs;
  } catch {
    return false;
  }
}

async function readPair(layout: ClusterLayout, name: string): Promise<PemPair | undefined> {
  const files = layout.pki(name);
  try {
    return { cert: await readFile(files.cert, 'utf8'), key: await readFile(files.key, 'utf8') };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

async function writePair(layout: ClusterLayout, name: string, pair: PemPair): Promise<PemPair> {
  const files = layout.pki(name);
  await writeFileDurably(files.key, pair.key, 0o600);
  await writeFileDurably(files.cert, pair.cert, 0o644);
  return pair;
}

/** sa.key signs service-account tokens (the API server and the token controller); sa.pub checks them. */
async function ensureServiceAccountKeys(layout: ClusterLayout): Promise<void> {
  const { key, pub } = serviceAccountKeyFiles(layout);
  if (await access(key).then(() => true, () => false)) return;
  const pair = await newRsaKeyPair();
  await writeFileDurably(pub, pair.publicKey, 0o644);
  await writeFileDurably(key, pair.privateKey, 0o600);
}

export function serviceAccountKeyFiles(layout: ClusterLayout): { key: string; pub: string } {
  return { key: join(layout.pkiDir, 'sa.key'), pub: join(layout.pkiDir, 'sa.pub') };
}
