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
 *   volumes/              the local provisioner's PersistentVolumes, one directory each (kept by `down --keep-data`)
 */
import { join } from 'node:path';

export const ClusterComponents = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'local-provisioner', 'dockerlet'] as const;
export type ClusterComponent = (typeof ClusterComponents)[number];

/** The identities with a client certificate and a kubeconfig of their own. */
export const ClusterIdentities = ['admin', 'kube-controller-manager', 'kube-scheduler', 'node', 'kube-proxy', 'local-provisioner'] as const;
export type ClusterIdentity = (typeof ClusterIdentities)[number];

export const DefaultClusterName = 'dockerlet';
export const ClustersRoot = '/var/lib/dockerlet/clusters';

export class ClusterLayout {
  /** Every entry the directory holds: what is not one of these is not the cluster's. */
  static readonly Entries = ['cluster.json', 'pki', 'etcd', 'kubeconfig', 'logs', 'node', 'volumes'] as const;
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

  log(component: ClusterComponent | 'cluster'): string {
    return join(this.logsDir, `${component}.log`);
  }
}
