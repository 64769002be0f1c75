/**
 * The command lines of the cluster's processes, in the order they start: etcd, kube-apiserver,
 * kube-controller-manager, kube-scheduler, the local provisioner (the default StorageClass's
 * volumes, as directories under the cluster's volumes/), then the node (`dockerlet up`: the
 * kubelet, the service proxy and the cluster DNS), then each further node's Docker engine and
 * node, in its own host (node-hosts.ts), and its local provisioner (its volumes under
 * nodes/<k>/volumes/). Flags are kubeadm's where it sets one; the rest are
 * what a cluster of dockerlet on one machine needs:
 * - every component talks to the others over TLS with the certificates of cluster-pki.ts, and
 *   the API server authorizes with Node,RBAC and admits with NodeRestriction;
 * - the API server listens on every address (as kubeadm's does), since pods reach it on the
 *   first node's address (with one node, the pod bridge's gateway, which only exists once the
 *   node has made the bridge); it advertises that address, so the kubernetes Service's endpoint
 *   is where pods can reach it;
 * - the controller manager allocates node CIDRs from the pod network, a single node getting all
 *   of it (the mask size is the network's), since its pods live on one bridge of that subnet;
 *   with several, each has the /24 its Node was made with (cluster-network.ts); it signs
 *   certificate requests with the CA;
 * - with several nodes, each routes the others' pod subnets (--node-routes), and its agent's
 *   kubeconfigs name the API server at the first node's address, which every node reaches;
 * - the controller manager and the scheduler serve no port (there is nothing to scrape them
 *   for here), and neither elects a leader (there is one of each).
 */
import { join } from 'node:path';
import type { ClusterRoleBinding, Node, StorageClass } from '../../common/api/types.js';
import { DefaultStorageClass } from '../../common/storage/default-storage-class.js';
import type { ClusterLayout } from './cluster-layout.js';
import type { ClusterNetwork, ClusterNodeAddresses } from './cluster-network.js';
import { nodeCredentials, serviceAccountKeyFiles } from './cluster-pki.js';
import type { NodeHost, NodeHosts } from './node-hosts.js';
import type { ControlPlaneBinaries } from './control-plane-binaries.js';
import type { ProcessSpec } from './supervisor.js';

export interface ClusterSpec {
  name: string;
  layout: ClusterLayout;
  ports: { apiServer: number; etcdClient: number; etcdPeer: number };
  binaries: ControlPlaneBinaries;
  network: ClusterNetwork;
  /** The further nodes' hosts, with more than one node. */
  hosts?: NodeHosts;
  /** How to run dockerlet itself: the node program and the script, as this process was run. */
  dockerlet: readonly string[];
  /** Static pods for the first node (they show as mirror pods), and the resolver config the nodes' DNS forwards with. */
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
  const peer = `http://127.0.0.1:${ports.etcdPeer}`;
  const client = `https://127.0.0.1:${ports.etcdClient}`;
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
        '--bind-address', '0.0.0.0', '--advertise-address', network.apiAddress, '--secure-port', String(ports.apiServer), '--insecure-port', '0',
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
        '--allocate-node-cidrs', '--cluster-cidr', network.clusterCIDR, '--node-cidr-mask-size', String(network.nodeMaskSize),
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
    localProvisioner(spec, 'local-provisioner', network.nodes[0]!.name, layout.volumesDir),
    nodeSpec(spec, network.nodes[0]!, { name: 'dockerlet', command: spec.dockerlet, rootDir: layout.nodeRootDir }, [
      ...(spec.podManifestPath ? ['--pod-manifest-path', spec.podManifestPath] : []),
    ]),
    ...(spec.hosts?.hosts ?? []).flatMap((host) => furtherNodeSpecs(spec, spec.hosts!, host)),
  ];
}

/**
 * A node's `dockerlet up`, run by `command` (in its host, for a further node). With several
 * nodes, each knows its subnet from the start, routes the others' and masquerades only what
 * leaves the cluster's pod network.
 */
function nodeSpec(spec: ClusterSpec, node: ClusterNodeAddresses, run: { name: ProcessSpec['name']; command: readonly string[]; rootDir: string }, extra: readonly string[]): ProcessSpec {
  const { layout, network } = spec;
  const serving = layout.pki(nodeCredentials(node.ordinal).serving);
  const several = network.nodes.length > 1;
  return {
    name: run.name,
    command: run.command[0]!,
    args: [
      ...run.command.slice(1), 'up',
      '--kubeconfig', layout.kubeconfig(nodeCredentials(node.ordinal).client), '--proxy-kubeconfig', layout.kubeconfig('kube-proxy'),
      '--hostname-override', node.name, '--root-dir', run.rootDir,
      '--address', node.ip, '--node-ip', node.ip, '--read-only-port', '0',
      '--client-ca-file', layout.pki('ca').cert, '--tls-cert-file', serving.cert, '--tls-private-key-file', serving.key,
      '--pod-cidr', node.podCIDR, '--pod-network', network.podNetwork, '--service-cluster-ip-range', network.serviceCIDR, '--cluster-domain', network.clusterDomain,
      ...(several ? ['--node-routes', '--cluster-cidr', network.clusterCIDR] : []),
      ...(spec.resolvConf ? ['--resolv-conf', spec.resolvConf] : []),
      ...extra,
    ],
    logFile: layout.log(run.name),
  };
}

/** The k-th node's Docker engine and its node, both in its host, and its local provisioner. */
function furtherNodeSpecs(spec: ClusterSpec, hosts: NodeHosts, host: NodeHost): ProcessSpec[] {
  const engine: ProcessSpec['name'] = `dockerd-${host.ordinal}`;
  const dockerd = [
    'dockerd', '--config-file', host.engineConfig, '--host', `unix://${host.socket}`,
    '--data-root', host.dataRoot, '--exec-root', host.execRoot, '--pidfile', `${host.execRoot}/docker.pid`,
    // The pods' network is the agent's to make; no docker0 in a node's host.
    '--bridge', 'none',
    // Its containers outlive it, as a host's outlive a restart of its engine: stopping `cluster up` leaves the pods running.
    '--live-restore',
  ];
  const agent = nodeSpec(spec, host, { name: `dockerlet-${host.ordinal}`, command: spec.dockerlet, rootDir: host.rootDir }, [
    '--container-runtime-endpoint', `unix://${host.socket}`, '--cgroup-root', host.podsCgroup,
  ]);
  const inHostProcesses = [{ name: engine, command: dockerd[0]!, args: dockerd.slice(1), logFile: spec.layout.log(engine) }, agent].map((process) => inHost(hosts, host, process));
  // A client of the API server making directories the node's host sees at the same path: it runs on this host.
  return [...inHostProcesses, localProvisioner(spec, `local-provisioner-${host.ordinal}`, host.name, spec.layout.furtherNode(host.ordinal).volumesDir)];
}

/** The local provisioner of node `nodeName`: the default StorageClass's volumes the scheduler puts there, as directories under `volumeDir`. */
function localProvisioner(spec: ClusterSpec, name: ProcessSpec['name'], nodeName: string, volumeDir: string): ProcessSpec {
  return {
    name,
    command: spec.dockerlet[0]!,
    args: [...spec.dockerlet.slice(1), 'local-provisioner', '--kubeconfig', spec.layout.kubeconfig('local-provisioner'), '--node-name', nodeName, '--volume-dir', volumeDir],
    logFile: spec.layout.log(name),
  };
}

/** `process` run in the node's host: nsenter execs it there. */
function inHost(hosts: NodeHosts, host: NodeHost, process: ProcessSpec): ProcessSpec {
  const [command, ...args] = hosts.enter(host, [process.command, ...process.args]);
  return { ...process, command: command!, args, execs: [process.command, ...process.args] };
}

/** An object the cluster needs, and the collection it is created in. */
export interface ClusterObject {
  collection: string;
  object: ClusterRoleBinding | StorageClass | Node;
}

/**
 * With several nodes, each Node made ahead of its agent with the subnet the cluster gives it:
 * the controller manager's allocator then keeps it, the other nodes route it, and the agent's
 * --pod-cidr is the Node's. An agent registers into the Node that is there, as the kubelet does.
 */
export function nodeObjects(network: ClusterNetwork): ClusterObject[] {
  if (network.nodes.length === 1) return [];
  return network.nodes.map((node) => ({
    collection: '/api/v1/nodes',
    object: { apiVersion: 'v1', kind: 'Node', metadata: { name: node.name }, spec: { podCIDR: node.podCIDR, podCIDRs: [node.podCIDR] } },
  }));
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
