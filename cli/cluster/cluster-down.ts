/**
 * `dockerlet cluster down`: stops the cluster's processes (through its `up`, which stops them
 * in order, or one by one when that `up` is gone), then removes what a stopped node keeps on
 * purpose for its next start: its pods' containers and the pod network, the proxy's rules,
 * addresses and sysctls, the pods' mounts, and a merged kubeconfig context. Only when all of
 * that is gone does it remove the cluster's directory (or, with --keep-data, the node's part of
 * it), cluster.json last: a `down` that failed or was cut short leaves what it needs to be run
 * again, and nothing is ever removed through a mount still in place.
 */
import { existsSync } from 'node:fs';
import { readdir, rm, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { mountPointsUnder, unmountAll } from '../../agent/volumes/mounts.js';
import { removePodNetworkRules } from '../../agent/network/pod-network-rules.js';
import { removeNodeFromDocker } from '../../agent/runtime/docker/node-teardown.js';
import { removeCgroups } from '../../agent/qos/cgroup-manager.js';
import { DefaultPodsCgroup, podCgroupNames } from '../../agent/qos/qos-cgroups.js';
import { aggregateMessage, DockerletError, errorMessage } from '../../common/api/errors.js';
import { delay } from '../../common/util/clock.js';
import { HostLock } from '../../common/util/host-lock.js';
import { NodeLabel } from '../../common/api/well-known.js';
import { parseIpv4Cidr } from '../../common/util/ipv4.js';
import { datapathOwner, describeProxy } from '../../proxy/proxy-lock.js';
import { cleanupProxy } from '../../proxy/proxy.js';
import { createLogger } from '../logger.js';
import { clusterNetwork } from './cluster-network.js';
import { requireRoot, type ClusterTarget } from './cluster-options.js';
import { ClusterLayout } from './cluster-layout.js';
import { readClusterState, type ClusterState } from './cluster-state.js';
import { endLeftoverComponents } from './cluster-supervisor.js';
import { clusterLockKey, type ClusterOutput } from './cluster-up.js';
import { contextName, unmergeKubeconfig } from './kubeconfig-files.js';
import { HostEngineSocket, NodeHosts } from './node-hosts.js';
import { endProcess } from './processes.js';

/** A supervising `up` stops the node (30 s at most) and then the control plane (10 s each). */
const SupervisorStopMs = 90_000;
const PollMs = 100;


export async function clusterDown(target: ClusterTarget, keepData: boolean, out: ClusterOutput): Promise<number> {
  requireRoot('dockerlet cluster down');
  const { name, layout } = target;
  const state = await readForRemoval(layout);
  if (!state && !existsSync(layout.dir)) {
    out.say(`no cluster ${name} in ${layout.dir}: nothing to remove`);
    return 0;
  }
  if (!state) {
    // A detached up makes its log before it has written cluster.json: it goes first.
    await stopClusterUp(target, out);
    return removeUnstarted(target, out);
  }
  if (state.name !== name) {
    throw new DockerletError('DKL_ERR_FLAG_INVALID', `--name ${name}: ${layout.dir} holds cluster ${state.name}; pass --name ${state.name}`);
  }
  const stopInterrupts = finishOnInterrupt(out);
  try {
    await stopClusterUp(target, out);
    // Held until the end: no `up` starts the cluster again while it is being removed.
    const lock = await HostLock.acquire([clusterLockKey(layout)], { pid: process.pid, cluster: name, dir: layout.dir, doing: 'down' }, () => {
      return new DockerletError('DKL_ERR_RUNTIME', `a cluster up of ${name} started while down was stopping it: nothing removed; run down again`);
    });
    try {
      // What the stopped `up` last recorded. A killed one leaves itself and its components running: they end here, by their recorded pids.
      const last = (await readForRemoval(layout)) ?? state;
      if (last.supervisor) await endProcess(last.supervisor, SupervisorStopMs);
      await endLeftoverComponents(last, (line) => out.say(line));
      await removeFromHost(target, last, keepData, out);
    } finally {
      await lock.release();
    }
    out.say(keepData ? `cluster ${name} is down; its data stays in ${layout.dir} for the next cluster up` : `cluster ${name} is removed`);
    return 0;
  } finally {
    stopInterrupts();
  }
}

/** cluster.json, with what to do when it cannot be read: it is what tells down what to remove. */
async function readForRemoval(layout: ClusterLayout): Promise<ClusterState | undefined> {
  try {
    return await readClusterState(layout.stateFile);
  } catch (err) {
    throw new DockerletError(
      'DKL_ERR_CONFIG_INVALID',
      `${errorMessage(err)}\nto remove the cluster by hand: docker rm -f the containers labelled ${NodeLabel}=<name>, run dockerlet proxy --cleanup --root-dir ${layout.nodeRootDir}, unmount whatever is mounted under ${layout.dir}, and only then remove the directory`,
    );
  }
}

/**
 * A directory with no cluster.json: what an `up` that ended before its first step left (its
 * logs) is removed; a directory holding anything else is not the cluster's, and is refused.
 */
async function removeUnstarted(target: ClusterTarget, out: ClusterOutput): Promise<number> {
  const { layout } = target;
  const entries = await readdir(layout.dir);
  const foreign = entries.filter((entry) => !(ClusterLayout.Entries as readonly string[]).includes(entry));
  if (foreign.length > 0 || (await mountPointsUnder(layout.dir)).some((point) => point !== layout.dir)) {
    throw new DockerletError('DKL_ERR_FLAG_INVALID', `--dir ${layout.dir} holds no cluster (no cluster.json) but ${foreign.join(', ') || 'mounts'}: nothing removed; pass the directory of a cluster`);
  }
  for (const entry of entries) await rm(join(layout.dir, entry), { recursive: true, force: true });
  await rmdir(layout.dir).catch(() => undefined);
  out.say(`removed ${layout.dir}, what a cluster up that never started left`);
  return 0;
}

/** SIGTERM to the `up` that holds the cluster, if one does (starting or up), and its end; another `down` holding it is refused. */
async function stopClusterUp(target: ClusterTarget, out: ClusterOutput): Promise<void> {
  const key = clusterLockKey(target.layout);
  const holder = await HostLock.holder(key);
  if (!holder) return;
  const pid = Number(holder['pid']);
  if (holder['doing'] === 'down') throw new DockerletError('DKL_ERR_RUNTIME', `cluster ${target.name} is already being removed by cluster down (pid ${pid})`);
  out.say(`stopping cluster up (pid ${pid})`);
  try {
    process.kill(pid, 'SIGTERM');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
  const deadline = Date.now() + SupervisorStopMs;
  while (await HostLock.holder(key)) {
    if (Date.now() > deadline) throw new DockerletError('DKL_ERR_RUNTIME', `cluster up (pid ${pid}) did not stop within ${SupervisorStopMs / 1000}s: nothing removed; see ${target.layout.logsDir}`);
    await delay(PollMs, undefined, true);
  }
}

/** Every step runs, whatever the others did; the directory goes only when they all succeeded and no mount is left under it. */
async function removeFromHost(target: ClusterTarget, state: ClusterState, keepData: boolean, out: ClusterOutput): Promise<void> {
  const { name, layout } = target;
  const { mergedKubeconfig } = state;
  const errors: string[] = [];
  const step = async (what: string, action: () => Promise<unknown>): Promise<void> => {
    try {
      await action();
    } catch (err) {
      errors.push(`${what}: ${errorMessage(err)}`);
    }
  };
  const network = clusterNetwork(name, state.nodes ?? 1);
  if (network.nodes.length > 1) {
    const hosts = new NodeHosts(layout, network);
    // A cluster whose up found the nodes' network taken made no rules of its own: those there may be another cluster's.
    let other: string | undefined;
    await step("looking for the nodes' network on this host", async () => void (other = await hosts.otherHolder()));
    const failed = errors.length;
    await hosts.remove(step);
    if (errors.length === failed) out.say(`removed nodes ${hosts.hosts.map((host) => host.name).join(', ')}: their engines, pods, namespaces and links, and the bridge ${hosts.bridge}`);
    if (other) out.say(`left the pod network rules (DKL-POD-MASQ, DKL-POD-FORWARD) in place: the nodes' network address is on ${other}, not this cluster's, and they may be what it uses`);
    else await step("removing the first node's pod network rules", () => removePodNetworkRules());
  }
  await step("removing the node's containers", async () => {
    const removed = await removeNodeFromDocker(HostEngineSocket, name, network.podNetwork);
    out.say(`removed ${removed.containersRemoved} containers of node ${name}${removed.network.removed ? ` and the pod network ${network.podNetwork}` : ''}`);
    if (!removed.network.removed && removed.network.refusal) out.say(`left the pod network ${network.podNetwork} in place: the engine refused to remove it (${removed.network.refusal})`);
    // Their pods' cgroups, which the stopped agent did not get to remove; the QoS tiers are the host's, and stay.
    const left = await removeCgroups(removed.podUIDs.flatMap((uid) => podCgroupNames(DefaultPodsCgroup, uid)));
    if (left.length > 0) out.say(`left cgroups that still hold processes in place: ${left.map((cgroup) => cgroup.path).join(', ')}`);
  });
  await step("removing the node's service rules", async () => {
    const owner = await datapathOwner();
    if (owner) {
      out.say(`left the service rules to the proxy that owns them now${describeProxy(owner)}`);
      return;
    }
    const cidrs = { serviceCIDR: parseIpv4Cidr(network.serviceCIDR)!, podCIDR: parseIpv4Cidr(network.clusterCIDR)! };
    await cleanupProxy({ ...cidrs, stateDir: join(layout.nodeRootDir, 'proxy') }, (await createLogger('text', 0)).child({}, { level: 'warn' }));
    out.say('removed the service rules');
  });
  await step("unmounting the pods' volumes", async () => {
    // The node's mounts are all under its root dir. Others below --dir are the user's: they stay, and so does the directory.
    await unmountAll(layout.nodeRootDir);
    const left = (await mountPointsUnder(layout.dir)).filter((point) => point !== layout.dir);
    if (left.length > 0) throw new Error(`still mounted (unmount them first): ${left.join(', ')}`);
  });
  if (!keepData && mergedKubeconfig) {
    await step(`taking context ${contextName(name)} out of ${mergedKubeconfig}`, () => unmergeKubeconfig(contextName(name), mergedKubeconfig));
  }
  if (errors.length > 0) {
    throw new DockerletError('DKL_ERR_RUNTIME', `cluster ${name} is only partly removed, its directory kept (run down again to finish): ${aggregateMessage(errors)}`);
  }
  if (keepData) {
    await rm(layout.nodeRootDir, { recursive: true, force: true });
    // A further node's volumes stay with the cluster's data; its host (root dir, engine) goes.
    for (const node of network.nodes.slice(1)) {
      const dirs = layout.furtherNode(node.ordinal);
      for (const part of [dirs.rootDir, dirs.dataRoot, dirs.engineConfig]) await rm(part, { recursive: true, force: true });
    }
    return;
  }
  for (const entry of ClusterLayout.Entries.filter((entry) => entry !== 'cluster.json')) await rm(join(layout.dir, entry), { recursive: true, force: true });
  await rm(layout.stateFile, { force: true });
  // Not recursive: what else a user kept in --dir stays, and says so.
  await rmdir(layout.dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw new DockerletError('DKL_ERR_RUNTIME', `cluster ${name} is removed, but ${layout.dir} stays: ${err.code === 'ENOTEMPTY' ? 'it holds files that are not the cluster\'s' : err.message}`);
  });
}

/** A first SIGINT, SIGTERM or SIGHUP lets `down` finish (it would leave the host half cleaned); a second ends it at once. Returns the undo. */
function finishOnInterrupt(out: ClusterOutput): () => void {
  let asked = false;
  const onSignal = (): void => {
    if (asked) process.exit(130);
    asked = true;
    out.say('finishing the removal (again to end at once; running down again finishes it)');
  };
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  for (const signal of signals) process.on(signal, onSignal);
  return () => {
    for (const signal of signals) process.off(signal, onSignal);
  };
}
