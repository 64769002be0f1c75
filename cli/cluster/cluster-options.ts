/** The `dockerlet cluster` commands' flags, checked: errors name the flag and say what it takes. */
import { realpathSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { dnsLabel } from '../../agent/config/validation/names.js';
import { DockerletError } from '../../common/api/errors.js';
import { flagError } from '../settings.js';
import { ClusterLayout, ClustersRoot, DefaultClusterName } from './cluster-layout.js';
import { MaxNodes } from './cluster-network.js';

export interface ClusterFlags {
  name?: string;
  dir?: string;
}

export interface UpFlags extends ClusterFlags {
  apiServerPort?: string;
  nodes?: string;
  podManifestPath?: string;
  resolvConf?: string;
  mergeKubeconfig?: boolean;
  detach?: boolean;
}

export const DefaultApiServerPort = 6443;

/** Which cluster a command is about: its name (the node's too) and its directory. */
export interface ClusterTarget {
  name: string;
  layout: ClusterLayout;
}

export interface UpSettings extends ClusterTarget {
  /** The API server's port: --api-server-port, else the cluster's (a new one's 6443). */
  apiServerPort: number;
  apiServerPortGiven: boolean;
  /** --nodes, when given: a new cluster's node count (default 1); a resumed one keeps its own. */
  nodes?: number;
  podManifestPath?: string;
  resolvConf?: string;
  mergeKubeconfig: boolean;
  detach: boolean;
}

export function clusterTarget(flags: ClusterFlags): ClusterTarget {
  const name = flags.name ?? DefaultClusterName;
  const checked = dnsLabel.safeParse(name);
  if (!checked.success) throw flagError('--name', name, `${checked.error.issues[0]!.message} (it names the node too)`);
  return { name, layout: new ClusterLayout(canonical(flags.dir ?? `${ClustersRoot}/${name}`)) };
}

/** A directory's one name, its symlinks resolved: the cluster's lock is keyed by it, whichever path reached it. */
function canonical(dir: string): string {
  try {
    return realpathSync(dir);
  } catch {
    return resolve(dir);
  }
}

export async function upSettings(flags: UpFlags): Promise<UpSettings> {
  const port = Number(flags.apiServerPort ?? DefaultApiServerPort);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw flagError('--api-server-port', flags.apiServerPort, 'must be a port number, 1-65535');
  const nodes = flags.nodes === undefined ? undefined : Number(flags.nodes);
  if (nodes !== undefined && (!Number.isInteger(nodes) || nodes < 1 || nodes > MaxNodes)) throw flagError('--nodes', flags.nodes, `must be a number of nodes, 1-${MaxNodes}`);
  const existing = async (flag: string, path: string | undefined): Promise<string | undefined> => {
    if (path === undefined) return undefined;
    const absolute = resolve(path);
    await stat(absolute).catch(() => {
      throw flagError(flag, path, 'no such file or directory');
    });
    return absolute;
  };
  return {
    ...clusterTarget(flags),
    apiServerPort: port,
    apiServerPortGiven: flags.apiServerPort !== undefined,
    ...(nodes !== undefined ? { nodes } : {}),
    podManifestPath: await existing('--pod-manifest-path', flags.podManifestPath),
    resolvConf: await existing('--resolv-conf', flags.resolvConf),
    mergeKubeconfig: flags.mergeKubeconfig === true,
    detach: flags.detach === true,
  };
}

/** The flags that name `target` in a command to suggest: none for the default cluster in its default directory. */
export function targetFlags(target: ClusterTarget): string {
  const name = target.name === DefaultClusterName ? '' : ` --name ${target.name}`;
  const dir = target.layout.dir === canonical(`${ClustersRoot}/${target.name}`) ? '' : ` --dir ${target.layout.dir}`;
  return name + dir;
}

/** The cluster commands change the host (containers, iptables, mounts under /var/lib): they run as root. */
export function requireRoot(command: string): void {
  if (process.getuid?.() !== 0) throw new DockerletError('DKL_ERR_RUNTIME', `${command} runs containers and changes iptables rules and mounts: run it as root`);
}
