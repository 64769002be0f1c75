/**
 * Where a cluster keeps everything, under one directory (`--dir`, by default
 * /var/lib/dockerlet/clusters/<name>): removing it, after `cluster down` has stopped the
 * processes and removed the node's containers, rules and mounts, removes the cluster.
 *   cluster.json          the cluster's settings and its processes, as last recorded (cluster-state.ts)
 *   pki/                  the CA, serving and client certificates, the service-account keys
 *   etcd/                 etcd's data: the cluster's objects (kept by `down --keep-data`)
 *   kubeconfig/           admin.kubeconfig (for the user), and one per component
 *   logs/<component>.log  each component's output; cluster.log is a detached `up`'s own
 *   node/                 the node's root dir (pods, volumes, the proxy's state)
 *   nodes/<k>/            with --nodes: the k-th node's (k from 2) root dir (root/), its Docker
 *                         engine's data root (engine/) and daemon.json, and its persistent volumes
 *                         (volumes/, kept by `down --keep-data`); the rest of its host is in /run
 *                         (node-hosts.ts)
 *   volumes/              the local provisioner's PersistentVolumes, one directory each (kept by `down --keep-data`)
 */
import { join } from 'node:path';

/** The control plane's processes and the first node's agent, in the order they start: every cluster has them. */
export const ClusterComponents = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'local-provisioner', 'dockerlet'] as const;
export type ClusterComponent = (typeof ClusterComponents)[number];
/** The k-th node's (k from 2) Docker engine, agent and local provisioner. */
export type NodeComponent = `dockerd-${number}` | `dockerlet-${number}` | `local-provisioner-${number}`;
export type ComponentName = ClusterComponent | NodeComponent;

/** Every component of a cluster of `nodeCount` nodes, in the order they start: each further node's engine, its agent and its local provisioner. */
export function clusterComponents(nodeCount: number): ComponentName[] {
  const further = Array.from({ length: nodeCount - 1 }, (_, i) => [`dockerd-${i + 2}`, `dockerlet-${i + 2}`, `local-provisioner-${i + 2}`] as const).flat();
  return [...ClusterComponents, ...further];
}

/** Whether `name` names a component: the control plane's and the first node's, or a further node's engine, agent or local provisioner. */
export function isComponentName(name: string): name is ComponentName {
  return (ClusterComponents as readonly string[]).includes(name) || /^(dockerd|dockerlet|local-provisioner)-([2-9]|[1-9]\d+)$/.test(name);
}

/** What a component is (a further node's engine, agent or local provisioner is one of its node's) and the ordinal of its node (1 for the control plane's and the first node's). */
export function componentKind(name: ComponentName): { kind: ClusterComponent | 'dockerd'; ordinal: number } {
  const further = /^(dockerd|dockerlet|local-provisioner)-(\d+)$/.exec(name);
  return further ? { kind: further[1] as 'dockerd' | 'dockerlet' | 'local-provisioner', ordinal: Number(further[2]) } : { kind: name as ClusterComponent, ordinal: 1 };
}

/** The identities with a client certificate and a kubeconfig of their own; with --nodes, node-<k> too for the k-th node. */
export const ClusterIdentities = ['admin', 'kube-controller-manager', 'kube-scheduler', 'node', 'kube-proxy', 'local-provisioner'] as const;
export type ClusterIdentity = (typeof ClusterIdentities)[number] | `node-${number}`;

export const DefaultClusterName = 'dockerlet';
export const ClustersRoot = '/var/lib/dockerlet/clusters';

export class ClusterLayout {
  /** Every entry the directory holds: what is not one of these is not the cluster's. */
  static readonly Entries = ['cluster.json', 'pki', 'etcd', 'kubeconfig', 'logs', 'node', 'nodes', 'volumes'] as const;
  readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
  }

  get stateFile(): string {
    return join(this.dir, 'cluster.json');
  }

  get pkiDir(): string {
    return join(this.dir, 'pki');
  }

  get etcdDataDir(): string {
    return join(this.dir, 'etcd');
  }

  get nodeRootDir(): string {
    return join(this.dir, 'node');
  }

  /** Where the further nodes' directories are. */
  get furtherNodesDir(): string {
    return join(this.dir, 'nodes');
  }

  /** The k-th node's directory (k from 2): its root dir, its engine's data root and daemon.json, and its persistent volumes. */
  furtherNode(ordinal: number): { rootDir: string; dataRoot: string; engineConfig: string; volumesDir: string } {
    const dir = join(this.furtherNodesDir, String(ordinal));
    return { rootDir: join(dir, 'root'), dataRoot: join(dir, 'engine'), engineConfig: join(dir, 'daemon.json'), volumesDir: join(dir, 'volumes') };
  }

  /** Where the local provisioner makes the cluster's PersistentVolumes. */
  get volumesDir(): string {
    return join(this.dir, 'volumes');
  }

  get logsDir(): string {
    return join(this.dir, 'logs');
  }

  /** The kubeconfig a user's kubectl takes. */
  get adminKubeconfig(): string {
    return this.kubeconfig('admin');
  }

  kubeconfig(user: ClusterIdentity): string {
    return join(this.dir, 'kubeconfig', `${user}.kubeconfig`);
  }

  pki(name: string): { cert: string; key: string } {
    return { cert: join(this.pkiDir, `${name}.crt`), key: join(this.pkiDir, `${name}.key`) };
  }

  log(component: ComponentName | 'cluster'): string {
    return join(this.logsDir, `${component}.log`);
  }
}
