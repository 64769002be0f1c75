/**
 * Test sessions: everything a test node makes is found again from its session directory, so that
 * `stop()` removes it, and so that whatever a test process left when it died (SIGKILL, a crash,
 * a worker the runner killed) is removed by the next dockerlet that starts, as testcontainers'
 * reaper removes a dead session's containers.
 *
 *   <sessions dir>/<node name>/session.json   what the node made outside the directory: its
 *                                             containers (by node label), pod network, address slice
 *                             root/           the agent's root dir (pods, volumes, proxy state)
 *                             manifests/      what apply() wrote, the agent's manifest directory
 *
 * A live session holds a host lock on its node name; the kernel frees it when the process dies,
 * however it dies. Reaping takes that lock, so a session is reaped once, and never while it runs.
 */
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { DockerletError, errorMessage } from '../common/api/errors.js';
import { HostLock } from '../common/util/host-lock.js';
import { parseIpv4Cidr } from '../common/util/ipv4.js';
import { KubeClient } from '../common/kube-api/kube-client.js';
import { userAgent } from '../common/version.js';
import { removeNodeFromDocker } from '../agent/runtime/docker/node-teardown.js';
import { unmountAll } from '../agent/volumes/mounts.js';
import { cleanupServiceAddresses } from '../proxy/proxy.js';
import { deleteClusterObjects } from './api-objects.js';

/** Where sessions live unless told: beside the agent's default root dir, never inside it. */
export const DefaultSessionsDir = '/var/lib/dockerlet/sessions';

export interface SessionRecord {
  nodeName: string;
  pid: number;
  startedAt: string;
  /** The address slice (address-slices.ts) the node's pods, Services and node ports use. */
  slice: number;
  podNetwork: string;
  /** The CIDR whose addresses the node's proxy puts on lo. */
  serviceCIDR: string;
  /** The Docker engine's socket path. */
  dockerSocket: string;
  /** A node joined to a cluster: its kubeconfig, and the API paths of what it applied there. */
  cluster?: { kubeconfig: string; objects: string[] };
}

export interface SessionPaths {
  dir: string;
  rootDir: string;
  manifestDir: string;
}

export function sessionPaths(sessionsDir: string, nodeName: string): SessionPaths {
  const dir = join(sessionsDir, nodeName);
  return { dir, rootDir: join(dir, 'root'), manifestDir: join(dir, 'manifests') };
}

const sessionLockKey = (nodeName: string): string => `library/session/${nodeName}`;

/**
 * Takes the node name for this process and makes its session directory; what a dead session of
 * the same name left is removed first. `record` is written once the caller knows it (takeSession
 * then saveRecord), before anything is made outside the directory.
 */
export async function takeSession(sessionsDir: string, nodeName: string, log: Logger): Promise<{ paths: SessionPaths; lock: HostLock }> {
  const lock = await HostLock.acquire([sessionLockKey(nodeName)], { pid: process.pid, nodeName }, (_key, holder) => {
    const who = holder ? ` (pid ${holder['pid']})` : '';
    return new DockerletError('DKL_ERR_RUNTIME', `a test node named ${nodeName} runs already${who}: give this one another name, or stop that one first`);
  });
  try {
    const paths = sessionPaths(sessionsDir, nodeName);
    await removeSession(paths, log);
    await mkdir(paths.manifestDir, { recursive: true, mode: 0o750 });
    await mkdir(paths.rootDir, { recursive: true, mode: 0o750 });
    return { paths, lock };
  } catch (err) {
    await lock.release();
    throw err;
  }
}

export async function saveRecord(paths: SessionPaths, record: SessionRecord): Promise<void> {
  await writeFile(join(paths.dir, 'session.json'), `${JSON.stringify(record, null, 2)}\n`, { mode: 0o640 });
}

async function readRecord(paths: SessionPaths): Promise<SessionRecord | undefined> {
  const text = await readFile(join(paths.dir, 'session.json'), 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as SessionRecord;
  } catch (err) {
    throw new DockerletError('DKL_ERR_RUNTIME', `${join(paths.dir, 'session.json')}: not a session record (${errorMessage(err)}): remove the directory ${paths.dir} by hand`, { cause: err });
  }
}

/**
 * Removes everything of the session at `paths`, which the caller holds the lock of: its
 * objects in the cluster it joined, its containers and pod network, its service addresses, its
 * mounts and its directory. A session
 * that died before it wrote its record has made nothing outside its directory.
 */
export async function removeSession(paths: SessionPaths, log: Logger): Promise<void> {
  const record = await readRecord(paths);
  if (record) {
    if (record.cluster) await removeClusterObjects(record, log);
    const removed = await removeNodeFromDocker(record.dockerSocket, record.nodeName, record.podNetwork);
    if (!removed.network.removed && removed.network.refusal) log.warn({ network: record.podNetwork, reason: removed.network.refusal }, 'left the pod network in place');
    await cleanupServiceAddresses(parseIpv4Cidr(record.serviceCIDR)!, log);
  }
  await unmountAll(paths.dir);
  await rm(paths.dir, { recursive: true, force: true });
}

/** What a cluster node applied, and its Node, deleted from the API server; one that cannot be reached is logged and left (its pods are orphans the API server's garbage collector removes once the Node is gone). */
async function removeClusterObjects(record: SessionRecord, log: Logger): Promise<void> {
  const { kubeconfig, objects } = record.cluster!;
  try {
    await deleteClusterObjects(await KubeClient.fromKubeconfig(kubeconfig, userAgent('dockerlet')), objects, record.nodeName);
  } catch (err) {
    log.warn({ node: record.nodeName, err }, `could not delete the node's objects from the API server of ${kubeconfig}; delete the Node ${record.nodeName} and its pods there`);
  }
}

/**
 * Removes what every dead session under `sessionsDir` left; live ones (another process's, or
 * this one's) are left alone. Returns the node names reaped. One session that cannot be removed
 * is logged and left for the next reaper; the others still go.
 */
export async function reapDeadSessions(sessionsDir: string, log: Logger): Promise<string[]> {
  const names = await readdir(sessionsDir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [];
    throw err;
  });
  const reaped: string[] = [];
  for (const nodeName of names) {
    const alive = new Error('alive');
    let lock: HostLock;
    try {
      lock = await HostLock.acquire([sessionLockKey(nodeName)], { pid: process.pid, reaping: nodeName }, () => alive);
    } catch (err) {
      if (err === alive) continue;
      throw err;
    }
    try {
      await removeSession(sessionPaths(sessionsDir, nodeName), log);
      reaped.push(nodeName);
      log.info({ node: nodeName }, 'removed what a dead test session left');
    } catch (err) {
      log.warn({ node: nodeName, err }, 'could not remove what a dead test session left; the next start tries again');
    } finally {
      await lock.release();
    }
  }
  return reaped;
}

/** How long `down` waits for a running session to remove what it made. */
const StopWaitMs = 120_000;

/**
 * Ends the session of `nodeName` from another process (`dockerlet down`): a live one is sent
 * SIGTERM and waited for (it removes what it made as it stops), a dead one is reaped here.
 * Resolves false when there is no such session.
 */
export async function endSession(sessionsDir: string, nodeName: string, log: Logger): Promise<boolean> {
  const paths = sessionPaths(sessionsDir, nodeName);
  const exists = async (): Promise<boolean> => stat(paths.dir).then(() => true, () => false);
  if (!(await exists())) return false;
  const holder = await HostLock.holder(sessionLockKey(nodeName));
  if (holder) {
    // The node's own process is told to stop; a reaper at work on it (another owner) is waited for.
    if (holder['nodeName'] === nodeName && typeof holder['pid'] === 'number') process.kill(holder['pid'], 'SIGTERM');
    const deadline = Date.now() + StopWaitMs;
    while (await exists()) {
      if (Date.now() > deadline) throw new DockerletError('DKL_ERR_WAIT_TIMEOUT', `node ${nodeName} (pid ${holder['pid']}) did not go within ${StopWaitMs / 1000} s`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    return true;
  }
  await reapDeadSessions(sessionsDir, log);
  return true;
}

/** How long a new session waits for another process to finish reaping a dead one that had its address slice. */
const ReapWaitMs = 60_000;

/**
 * Waits until no session but `self` records address slice `slice` (the caller holds its lock, so
 * any other such session is dead): reaping it here, or waiting while another process does.
 */
export async function clearAddressSlice(sessionsDir: string, slice: number, self: string, log: Logger): Promise<void> {
  const deadline = Date.now() + ReapWaitMs;
  for (;;) {
    const names = (await readdir(sessionsDir).catch(() => [] as string[])).filter((name) => name !== self);
    const holders: string[] = [];
    for (const name of names) {
      const record = await readRecord(sessionPaths(sessionsDir, name)).catch(() => undefined);
      if (record?.slice === slice) holders.push(name);
    }
    if (holders.length === 0) return;
    await reapDeadSessions(sessionsDir, log);
    if (Date.now() > deadline) {
      throw new DockerletError('DKL_ERR_RUNTIME', `the dead test sessions ${holders.join(', ')} still hold address slice ${slice} after ${ReapWaitMs / 1000} s: remove ${holders.map((name) => sessionPaths(sessionsDir, name).dir).join(', ')} by hand`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
