/**
 * The hosts of a cluster's further nodes (--nodes N: the 2nd to the N-th), each as if it were a
 * machine of its own on this one, joined to this host by a bridge:
 *
 *   this host   bridge dkl<id>, the first address of NodeNetworkCIDR (the API server's, and the
 *               first node's InternalIP); rules commented `dockerlet cluster <id>`:
 *                 filter FORWARD  -i dkl<id> ACCEPT; -o dkl<id> RELATED,ESTABLISHED ACCEPT;
 *                                 -o dkl<id> -d <pod network> ACCEPT (Docker's FORWARD policy
 *                                 drops what it did not publish)
 *                 nat POSTROUTING first: -o dkl<id> RETURN (pod addresses cross the bridge as they
 *                                 are: frames bridged between nodes pass the host's nat too,
 *                                 where br_netfilter is loaded, and a pod network's masquerade
 *                                 would rewrite them)
 *                 nat POSTROUTING -s NodeNetworkCIDR ! -d <pod network> ! -o dkl<id> MASQUERADE
 *                                 (the nodes reach beyond this host as its containers do)
 *   node k      network namespace dkl-<id>-<k>: eth0 (a veth, its peer dkl<id>v<k> on the bridge)
 *               with its address, lo, a default route via this host;
 *               a mount namespace of its own, kept at /run/dockerlet/mount-namespaces/<id>-<k>,
 *               whose /sys is the network namespace's, with the host's cgroup hierarchies mounted
 *               again there: its engine and its agent both run in it (nsenter), so that what the
 *               agent mounts for a pod is what the engine gives the container, across restarts
 *               of either;
 *               its engine's exec root (its socket, containerd's) at /run/dockerlet/engines/<id>-<k>,
 *               its pods' cgroups under dockerlet-<id>-<k>.
 *
 * <id> is 8 hex digits of the cluster directory's hash: interface names have 15 characters at
 * most, and two clusters' names never meet. Like a machine's, a node host outlives `cluster up`
 * (which stops its engine and agent) and goes with `cluster down`, or a reboot.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, rm, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { cgroupProcesses, removeCgroups } from '../../agent/qos/cgroup-manager.js';
import { mountPointsUnder } from '../../agent/volumes/mounts.js';
import { DockerletError } from '../../common/api/errors.js';
import { delay } from '../../common/util/clock.js';
import { cgroupRemountScript } from '../../common/util/cgroup-remount.js';
import { Defaults } from '../options.js';
import type { ClusterLayout } from './cluster-layout.js';
import { NodeNetworkCIDR, type ClusterNetwork, type ClusterNodeAddresses } from './cluster-network.js';

const run = promisify(execFile);
/** The engine of this host, the first node's. */
export const HostEngineSocket = Defaults.containerRuntimeEndpoint.replace(/^unix:\/\//, '');
const MountNamespacesDir = '/run/dockerlet/mount-namespaces';
const EnginesDir = '/run/dockerlet/engines';
/** iptables waits this long (s) for the xtables lock, then fails, rather than waiting for ever. */
const XtablesWait = '5';
/** How long the processes left in a node's namespace get to go after SIGKILL. */
const KillWaitMs = 10_000;

/** Where a further node's host is, by name and path. */
export interface NodeHost extends ClusterNodeAddresses {
  netns: string;
  /** The bridge's end of its veth. */
  hostVeth: string;
  mountNamespace: string;
  /** Its engine's. */
  dataRoot: string;
  execRoot: string;
  socket: string;
  /** Its engine's own daemon.json (an empty one: the host's is for the host's engine). */
  engineConfig: string;
  /** Its agent's root dir, and the cgroup its pods go under (--cgroup-root). */
  rootDir: string;
  podsCgroup: string;
}

export class NodeHosts {
  readonly id: string;
  readonly bridge: string;
  readonly hosts: NodeHost[];
  readonly #hostAddress: string;
  readonly #rules: ReadonlyArray<{ table: string; chain: string; rule: string[]; first?: boolean }>;

  constructor(layout: ClusterLayout, network: ClusterNetwork) {
    this.id = createHash('sha256').update(layout.dir).digest('hex').slice(0, 8);
    this.bridge = `dkl${this.id}`;
    this.#hostAddress = network.apiAddress;
    this.hosts = network.nodes.slice(1).map((node) => {
      const name = `${this.id}-${node.ordinal}`;
      const dirs = layout.furtherNode(node.ordinal);
      const execRoot = join(EnginesDir, name);
      return {
        ...node,
        netns: `dkl-${name}`,
        hostVeth: `dkl${this.id}v${node.ordinal}`,
        mountNamespace: join(MountNamespacesDir, name),
        dataRoot: dirs.dataRoot,
        execRoot,
        socket: join(execRoot, 'docker.sock'),
        engineConfig: dirs.engineConfig,
        rootDir: dirs.rootDir,
        podsCgroup: `dockerlet-${name}`,
      };
    });
    const comment = ['-m', 'comment', '--comment', `dockerlet cluster ${this.id}`];
    this.#rules = [
      { table: 'filter', chain: 'FORWARD', rule: ['-i', this.bridge, ...comment, '-j', 'ACCEPT'] },
      { table: 'filter', chain: 'FORWARD', rule: ['-o', this.bridge, '-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED', ...comment, '-j', 'ACCEPT'] },
      { table: 'filter', chain: 'FORWARD', rule: ['-o', this.bridge, '-d', network.clusterCIDR, ...comment, '-j', 'ACCEPT'] },
      { table: 'nat', chain: 'POSTROUTING', rule: ['-o', this.bridge, ...comment, '-j', 'RETURN'], first: true },
      { table: 'nat', chain: 'POSTROUTING', rule: ['-s', NodeNetworkCIDR, '!', '-d', network.clusterCIDR, '!', '-o', this.bridge, ...comment, '-j', 'MASQUERADE'] },
    ];
  }

  /** The command line that runs `command` in the k-th node's host: its network and mount namespaces. */
  enter(host: NodeHost, command: readonly string[]): string[] {
    return ['nsenter', `--mount=${host.mountNamespace}`, `--net=/run/netns/${host.netns}`, '--', ...command];
  }

  /** Makes what is missing of the bridge, the rules and each node's host; what is there already (a resumed cluster's) is kept. */
  async ensure(): Promise<void> {
    await this.#ensureBridge();
    for (const { table, chain, rule, first } of this.#rules) {
      const present = await iptables('-t', table, '-C', chain, ...rule).then(() => true, () => false);
      if (!present) await iptables('-t', table, ...(first ? ['-I', chain, '1'] : ['-A', chain]), ...rule);
    }
    for (const host of this.hosts) await this.#ensureHost(host);
  }

  async #ensureBridge(): Promise<void> {
    const holder = await addressHolder(this.#hostAddress);
    if (holder !== undefined && holder !== this.bridge) {
      throw new DockerletError('DKL_ERR_RUNTIME', `${this.#hostAddress}, this host's address on the nodes' network ${NodeNetworkCIDR}, is on ${holder} already (another cluster of several nodes, or an address of this host's): one cluster of several nodes at a time, and ${NodeNetworkCIDR} must be free on this host; remove that cluster (dockerlet cluster down) or the address`);
    }
    if (!(await linkExists(this.bridge))) await ip('link', 'add', this.bridge, 'type', 'bridge');
    if (holder === undefined) await ip('addr', 'add', `${this.#hostAddress}/${NodeNetworkCIDR.split('/')[1]}`, 'dev', this.bridge);
    await ip('link', 'set', this.bridge, 'up');
  }

  async #ensureHost(host: NodeHost): Promise<void> {
    await mkdir(host.rootDir, { recursive: true, mode: 0o700 });
    await mkdir(host.dataRoot, { recursive: true, mode: 0o700 });
    await mkdir(host.execRoot, { recursive: true, mode: 0o700 });
    await writeFile(host.engineConfig, '{}\n');
    if (!existsSync(`/run/netns/${host.netns}`)) await ip('netns', 'add', host.netns);
    const inNode = (...args: string[]): Promise<unknown> => ip('-n', host.netns, ...args);
    if (!(await linkExists('eth0', host.netns))) {
      // A host end left without its peer (a make cut short) is made again with it.
      if (await linkExists(host.hostVeth)) await ip('link', 'del', host.hostVeth);
      await ip('link', 'add', host.hostVeth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', host.netns);
    }
    await ip('link', 'set', host.hostVeth, 'master', this.bridge);
    await ip('link', 'set', host.hostVeth, 'up');
    await inNode('link', 'set', 'lo', 'up');
    await inNode('addr', 'replace', `${host.ip}/${NodeNetworkCIDR.split('/')[1]}`, 'dev', 'eth0');
    await inNode('link', 'set', 'eth0', 'up');
    await inNode('route', 'replace', 'default', 'via', this.#hostAddress);
    await this.#ensureMountNamespace(host);
  }

  /**
   * The node's mount namespace, kept by a bind mount of it (as `ip netns` keeps a network
   * namespace) on a private mount of its own (a namespace's file cannot be on a shared mount).
   * A slave of this host's mounts (as `ip netns exec` makes one), so that what this host
   * unmounts is not held there. This host's system containerd is hidden (a tmpfs over
   * /run/containerd): dockerd would use its socket, and run the node's containers in this host's
   * namespaces, rather than start a containerd of its own. It is made and set up under a name of
   * its own, and moved into place only once whole: one whose setup failed or was cut short is
   * never taken for a node's.
   */
  async #ensureMountNamespace(host: NodeHost): Promise<void> {
    await mkdir(MountNamespacesDir, { recursive: true, mode: 0o700 });
    const mounts = await mountPointsUnder(MountNamespacesDir);
    if (!mounts.includes(MountNamespacesDir)) {
      await run('mount', ['--bind', MountNamespacesDir, MountNamespacesDir]);
      await run('mount', ['--make-private', MountNamespacesDir]);
    }
    if (mounts.includes(host.mountNamespace)) return;
    // sysfs shows the network devices of the namespace of whoever mounts it: the node's.
    const setup = [
      'umount -l /sys', 'mount -t sysfs sysfs /sys', await cgroupRemountScript(),
      'if [ -d /run/containerd ]; then mount -t tmpfs -o mode=711 tmpfs /run/containerd; fi',
    ].join(' && ');
    const making = `${host.mountNamespace}.new`;
    await removeNamespaceFile(making);
    await writeFile(making, '');
    try {
      await run('unshare', [`--mount=${making}`, '--propagation', 'slave', 'true']);
      const [command, ...args] = this.enter({ ...host, mountNamespace: making }, ['sh', '-c', setup]);
      await run(command!, args);
      await writeFile(host.mountNamespace, '');
      await run('mount', ['--move', making, host.mountNamespace]);
    } finally {
      await removeNamespaceFile(making);
    }
  }

  /**
   * Removes every node's host, then the bridge and the rules: what still runs in a node's network
   * namespace (its engine, shims, pods, an agent) is killed first, all of it the cluster's. Each
   * removal is a `step` of the caller's, which tries it and keeps what failed, so that every one is tried.
   */
  async remove(step: (what: string, action: () => Promise<unknown>) => Promise<void>): Promise<void> {
    for (const host of this.hosts) {
      const netnsExists = existsSync(`/run/netns/${host.netns}`);
      // Its engine and shims are in its network namespace; its pods' processes in namespaces of their own, under its pods cgroup.
      let ended = true;
      await step(`ending the processes of node ${host.name}`, () =>
        killAll(async () => [...(netnsExists ? await namespacePids(host.netns) : []), ...(await cgroupProcesses([[host.podsCgroup]]))]).catch((err: unknown) => {
          ended = false;
          throw err;
        }),
      );
      // Its namespaces are how the next down finds what did not end: they stay with it.
      if (!ended) continue;
      await step(`removing the cgroups of node ${host.name}`, () => removeNodeCgroups(host.podsCgroup));
      // And the one an up cut short while it set it up.
      for (const file of [host.mountNamespace, `${host.mountNamespace}.new`]) await step(`removing the mount namespace ${file}`, () => removeNamespaceFile(file));
      if (netnsExists) await step(`removing the network namespace ${host.netns}`, () => ip('netns', 'del', host.netns));
      if (await linkExists(host.hostVeth)) await step(`removing the link ${host.hostVeth}`, () => ip('link', 'del', host.hostVeth));
      await step(`removing ${host.execRoot}`, () => rm(host.execRoot, { recursive: true, force: true }));
    }
    for (const { table, chain, rule } of this.#rules) {
      if (await iptables('-t', table, '-C', chain, ...rule).then(() => true, () => false)) {
        await step(`removing the ${table} rule ${chain} ${rule.join(' ')}`, () => iptables('-t', table, '-D', chain, ...rule));
      }
    }
    if (await linkExists(this.bridge)) await step(`removing the bridge ${this.bridge}`, () => ip('link', 'del', this.bridge));
    await step(`removing ${MountNamespacesDir} and ${EnginesDir}`, () => removeIfUnused());
  }

  /** The interface other than this cluster's bridge that has this host's address on the nodes' network: another cluster's, whose first node's rules are its own. */
  async otherHolder(): Promise<string | undefined> {
    const holder = await addressHolder(this.#hostAddress);
    return holder === this.bridge ? undefined : holder;
  }
}

async function ip(...args: string[]): Promise<string> {
  return (await run('ip', args, { encoding: 'utf8' })).stdout;
}

async function iptables(...args: string[]): Promise<void> {
  await run('iptables', ['-w', XtablesWait, ...args]);
}

async function linkExists(name: string, netns?: string): Promise<boolean> {
  return ip(...(netns ? ['-n', netns] : []), 'link', 'show', 'dev', name).then(() => true, () => false);
}

/** The interface that has `address` on this host, if any. */
async function addressHolder(address: string): Promise<string | undefined> {
  return /^\d+: (\S+)/.exec(await ip('-o', '-4', 'addr', 'show', 'to', `${address}/32`))?.[1];
}

/** The processes in a network namespace. */
async function namespacePids(netns: string): Promise<number[]> {
  return (await ip('netns', 'pids', netns)).split('\n').map(Number).filter((pid) => pid > 0);
}

/** A mount namespace's file, unmounted first when it holds one; none there is no error. */
async function removeNamespaceFile(file: string): Promise<void> {
  if ((await mountPointsUnder(MountNamespacesDir)).includes(file)) await run('umount', [file]);
  await rm(file, { force: true });
}

/** What the node hosts leave on this host once no node is left: the namespaces' bind mount and the engines' directory. */
async function removeIfUnused(): Promise<void> {
  // Another cluster's up may be making its node hosts meanwhile: what it uses stays.
  const inUse = (err: NodeJS.ErrnoException): void => {
    if (err.code !== 'ENOTEMPTY' && err.code !== 'EBUSY' && err.code !== 'ENOENT') throw err;
  };
  if (existsSync(MountNamespacesDir) && (await readdir(MountNamespacesDir)).length === 0) {
    if ((await mountPointsUnder(MountNamespacesDir)).includes(MountNamespacesDir)) await run('umount', [MountNamespacesDir]).catch(() => undefined);
    await rmdir(MountNamespacesDir).catch(inUse);
  }
  if (existsSync(EnginesDir)) await rmdir(EnginesDir).catch(inUse);
}

/** SIGKILL to every process `pids` finds, until it finds none (a zombie is gone from both lists: its parent is among them). */
async function killAll(pids: () => Promise<number[]>): Promise<void> {
  const deadline = Date.now() + KillWaitMs;
  for (let left = await pids(); left.length > 0; left = await pids()) {
    if (Date.now() > deadline) throw new Error(`processes ${left.join(', ')} did not end after SIGKILL`);
    for (const pid of left) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
    await delay(100, undefined, true);
  }
}

/** The node's pods cgroup and what is in it, once its processes are gone (they leave their cgroups a moment after they end). */
async function removeNodeCgroups(root: string): Promise<void> {
  const deadline = Date.now() + KillWaitMs;
  for (let left = await removeCgroups([[root]]); left.length > 0; left = await removeCgroups([[root]])) {
    if (Date.now() > deadline) throw new Error(`still in use: ${left.map((cgroup) => `${cgroup.path} (${cgroup.reason})`).join(', ')}`);
    await delay(250, undefined, true);
  }
}
