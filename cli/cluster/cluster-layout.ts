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
 */
import { join } from 'node:path';

export const ClusterComponents = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'dockerlet'] as const;
export type ClusterComponent = (typeof ClusterComponents)[number];

export const DefaultClusterName = 'dockerlet';
export const ClustersRoot = '/var/lib/dockerlet/clusters';

export class ClusterLayout {
  /** Every entry the directory holds: what is not one of these is not the cluster's. */
  static readonly Entries = ['cluster.json', 'pki', 'etcd', 'kubeconfig', 'logs', 'node'] as const;
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

  get logsDir(): string {
    return join(this.dir, 'logs');
  }

  /** The kubeconfig a user's kubectl takes. */
  get adminKubeconfig(): string {
    return this.kubeconfig('admin');
  }

  kubeconfig(user: 'admin' | 'kube-controller-manager' | 'kube-scheduler' | 'node' | 'kube-proxy'): string {
    return join(this.dir, 'kubeconfig', `${user}.kubeconfig`);
  }

  pki(name: string): { cert: string; key: string } {
    return { cert: join(this.pkiDir, `${name}.crt`), key: join(this.pkiDir, `${name}.key`) };
  }

  log(component: ClusterComponent | 'cluster'): string {
    return join(this.logsDir, `${component}.log`);
  }
}
