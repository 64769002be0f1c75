/**
 * The command lines of the cluster's processes, in the order they start: etcd, kube-apiserver,
 * kube-controller-manager, kube-scheduler, the local provisioner (the default StorageClass's
 * volumes, as directories under the cluster's volumes/), then the node (`dockerlet up`: the
 * kubelet, the service proxy and the cluster DNS). Flags are kubeadm's where it sets one; the rest are
 * what a single-host cluster of dockerlet needs:
 * - every component talks to the others over TLS with the certificates of cluster-pki.ts, and
 *   the API server authorizes with Node,RBAC and admits with NodeRestriction;
 * - the API server listens on every address (as kubeadm's does), since pods reach it on the
 *   node's address (the pod bridge's gateway), which only exists once the node has made the
 *   bridge; it advertises that address, so the kubernetes Service's endpoint is where pods can
 *   reach it;
 * - the controller manager allocates node CIDRs from the pod network, the node getting all of
 *   it (the mask size is the network's), since the node's pods live on one bridge of that
 *   subnet; it signs certificate requests with the CA;
 * - the controller manager and the scheduler serve no port (there is nothing to scrape them
 *   for here), and neither elects a leader (there is one of each).
 */
import { join } from 'node:path';
import type { ClusterRoleBinding, StorageClass } from '../../common/api/types.js';
import { DefaultStorageClass } from '../../common/storage/default-storage-class.js';
import type { ClusterLayout } from './cluster-layout.js';
import type { ClusterNetwork } from './cluster-network.js';
import { serviceAccountKeyFiles } from './cluster-pki.js';
import type { ControlPlaneBinaries } from './control-plane-binaries.js';
import type { ProcessSpec } from './supervisor.js';

export interface ClusterSpec {
  name: string;
  layout: ClusterLayout;
  ports: { apiServer: number; etcdClient: number; etcdPeer: number };
  binaries: ControlPlaneBinaries;
  network: ClusterNetwork;
  /** How to run dockerlet itself: the node program and the script, as this process was run. */
  dockerlet: readonly string[];
  /** Static pods for the node (they show as mirror pods), and the resolver config its DNS forwards with. */
  podManifestPath?: string;
  resolvConf?: string;
}

export function componentSpecs(spec: ClusterSpec): ProcessSpec[] {
  const { layout, ports, binaries, network } = spec;
  const ca = layout.pki('ca');
  const etcdCa = layout.pki('etcd-ca');
  const sa = serviceAccountKeyFiles(layout);
  const etcdServer = layout.pki('etcd-server');
  const etcdClient = layout.pki('apiserver-etcd-client');
  const apiServer = layout.pki('apiserver');
  const kubeletClient = layout.pki('apiserver-kubelet-client');
  const kubelet = layout.pki('kubelet');
  const peer = `http://127.0.0.1:${ports.etcdPeer}`;
  const client = `https://127.0.0.1:${ports.etcdClient}`;
  const podMaskSize = network.podCIDR.split('/')[1]!;
  const bin = (name: string): string => join(binaries.binDir, name);
  return [
    {
      name: 'etcd',
      command: binaries.etcd,
      args: [
        '--name', spec.name, '--data-dir', layout.etcdDataDir,
        '--listen-client-urls', client, '--advertise-client-urls', client,
        '--cert-file', etcdServer.cert, '--key-file', etcdServer.key, '--client-cert-auth', '--trusted-ca-file', etcdCa.cert,
        // One member, on loopback: no other member ever joins over the peer port.
        '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer, '--initial-cluster', `${spec.name}=${peer}`,
      ],
      logFile: layout.log('etcd'),
    },
    {
      name: 'kube-apiserver',
      command: bin('kube-apiserver'),
      args: [
        '--etcd-servers', client, '--etcd-cafile', etcdCa.cert, '--etcd-certfile', etcdClient.cert, '--etcd-keyfile', etcdClient.key,
        '--bind-address', '0.0.0.0', '--advertise-address', network.nodeIP, '--secure-port', String(ports.apiServer), '--insecure-port', '0',
        '--tls-cert-file', apiServer.cert, '--tls-private-key-file', apiServer.key, '--client-ca-file', ca.cert,
        '--service-account-key-file', sa.pub, '--service-account-signing-key-file', sa.key,
        '--service-account-issuer', `https://kubernetes.default.svc.${network.clusterDomain}`,
        '--authorization-mode', 'Node,RBAC', '--enable-admission-plugins', 'NodeRestriction',
        '--allow-privileged=true',
        '--service-cluster-ip-range', network.serviceCIDR,
        '--kubelet-client-certificate', kubeletClient.cert, '--kubelet-client-key', kubeletClient.key,
        '--kubelet-certificate-authority', ca.cert, '--kubelet-preferred-address-types', 'InternalIP',
      ],
      logFile: layout.log('kube-apiserver'),
    },
    {
      name: 'kube-controller-manager',
      command: bin('kube-controller-manager'),
      args: [
        '--kubeconfig', layout.kubeconfig('kube-controller-manager'), '--leader-elect=false', '--port', '0', '--secure-port', '0',
        '--cluster-name', spec.name, '--controllers', '*', '--use-service-account-credentials',
        '--service-account-private-key-file', sa.key, '--root-ca-file', ca.cert,
        '--cluster-signing-cert-file', ca.cert, '--cluster-signing-key-file', ca.key,
        '--allocate-node-cidrs', '--cluster-cidr', network.podCIDR, '--node-cidr-mask-size', podMaskSize,
        '--service-cluster-ip-range', network.serviceCIDR,
      ],
      logFile: layout.log('kube-controller-manager'),
    },
    {
      name: 'kube-scheduler',
      command: bin('kube-scheduler'),
      args: ['--kubeconfig', layout.kubeconfig('kube-scheduler'), '--leader-elect=false', '--port', '0', '--secure-port', '0'],
      logFile: layout.log('kube-scheduler'),
    },
    {
      name: 'local-provisioner',
      command: spec.dockerlet[0]!,
      args: [...spec.dockerlet.slice(1), 'local-provisioner', '--kubeconfig', layout.kubeconfig('local-provisioner'), '--node-name', spec.name, '--volume-dir', layout.volumesDir],
      logFile: layout.log('local-provisioner'),
    },
    {
      name: 'dockerlet',
      command: spec.dockerlet[0]!,
      args: [
        ...spec.dockerlet.slice(1), 'up',
        '--kubeconfig', layout.kubeconfig('node'), '--proxy-kubeconfig', layout.kubeconfig('kube-proxy'),
        '--hostname-override', spec.name, '--root-dir', layout.nodeRootDir,
        '--address', network.nodeIP, '--node-ip', network.nodeIP, '--read-only-port', '0',
        '--client-ca-file', ca.cert, '--tls-cert-file', kubelet.cert, '--tls-private-key-file', kubelet.key,
        '--pod-cidr', network.podCIDR, '--pod-network', network.podNetwork, '--service-cluster-ip-range', network.serviceCIDR, '--cluster-domain', network.clusterDomain,
        ...(spec.podManifestPath ? ['--pod-manifest-path', spec.podManifestPath] : []),
        ...(spec.resolvConf ? ['--resolv-conf', spec.resolvConf] : []),
      ],
      logFile: layout.log('dockerlet'),
    },
  ];
}

/** An object the cluster needs, and the collection it is created in. */
export interface ClusterObject {
  collection: string;
  object: ClusterRoleBinding | StorageClass;
}

/**
 * What the local provisioner needs in the API: its user bound to the bootstrap ClusterRole
 * system:persistent-volume-provisioner, and the default StorageClass of its provisioner.
 */
export function storageDefaults(provisionerUser: string): ClusterObject[] {
  return [
    {
      collection: '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings',
      object: {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRoleBinding',
        metadata: { name: provisionerUser },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:persistent-volume-provisioner' },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: provisionerUser }],
      },
    },
    { collection: '/apis/storage.k8s.io/v1/storageclasses', object: DefaultStorageClass },
  ];
}
