/**
 * The cluster's PKI, as kubeadm lays one out: a CA that signs the API server's serving
 * certificate, a client certificate per identity (the admin in system:masters, the controller
 * manager and the scheduler as the users their bootstrap RBAC roles name, the node as
 * system:node:<name> in system:nodes, the proxy as system:kube-proxy, and the API server's own
 * clients for reaching the kubelet and etcd), etcd's and the kubelet's serving certificates, and the key pair that
 * signs service-account tokens. Files already there are kept: a resumed cluster keeps its
 * identities, and the tokens its pods hold stay valid.
 */
import { generateKeyPairSync } from 'node:crypto';
import { access, mkdir, readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { issueCertificate, newCertificateAuthority, type CertificateRequest, type PemPair } from '../../common/pki/certificates.js';
import { writeFileDurably } from '../../common/util/durable-file.js';
import type { ClusterLayout } from './cluster-layout.js';
import type { ClusterNetwork } from './cluster-network.js';

/** The client identities, by the file name each one's certificate has under pki/. */
export const ClientIdentities = {
  admin: { commonName: 'kubernetes-admin', organizations: ['system:masters'] },
  'kube-controller-manager': { commonName: 'system:kube-controller-manager' },
  'kube-scheduler': { commonName: 'system:kube-scheduler' },
  'kube-proxy': { commonName: 'system:kube-proxy' },
  'apiserver-kubelet-client': { commonName: 'kube-apiserver-kubelet-client', organizations: ['system:masters'] },
  // etcd trusts any client certificate of the CA; the API server's is the one it gets.
  'apiserver-etcd-client': { commonName: 'kube-apiserver-etcd-client' },
} as const;

const CaValidityDays = 3650;
const LeafValidityDays = 365;

/** Makes whatever of the PKI is missing in layout.pkiDir. */
export async function ensureClusterPki(layout: ClusterLayout, nodeName: string, network: ClusterNetwork): Promise<void> {
  await mkdir(layout.pkiDir, { recursive: true, mode: 0o700 });
  const validity = (days: number): { now: Date; days: number } => ({ now: new Date(), days });
  const ca = (await readPair(layout, 'ca')) ?? (await writePair(layout, 'ca', await newCertificateAuthority(`dockerlet-${nodeName}-ca`, validity(CaValidityDays))));
  const leaf = async (name: string, request: CertificateRequest): Promise<void> => {
    if (!(await readPair(layout, name))) await writePair(layout, name, await issueCertificate(ca, request, validity(LeafValidityDays)));
  };
  const domain = network.clusterDomain;
  await leaf('apiserver', {
    commonName: 'kube-apiserver',
    serverNames: ['127.0.0.1', network.apiServiceIP, network.nodeIP, 'localhost', hostname(), 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', `kubernetes.default.svc.${domain}`],
  });
  await leaf('etcd-server', { commonName: 'etcd', serverNames: ['127.0.0.1', 'localhost'] });
  for (const [name, identity] of Object.entries(ClientIdentities)) await leaf(name, { ...identity, client: true });
  await leaf('node', { commonName: `system:node:${nodeName}`, organizations: ['system:nodes'], client: true });
  await leaf('kubelet', { commonName: nodeName, serverNames: [nodeName, network.nodeIP] });
  await ensureServiceAccountKeys(layout);
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
  const pair = generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
  await writeFileDurably(pub, pair.publicKey, 0o644);
  await writeFileDurably(key, pair.privateKey, 0o600);
}

export function serviceAccountKeyFiles(layout: ClusterLayout): { key: string; pub: string } {
  return { key: join(layout.pkiDir, 'sa.key'), pub: join(layout.pkiDir, 'sa.pub') };
}
