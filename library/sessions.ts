/**
 * Test sessions: everything a test node makes is found again from its session directory, so that
 * `stop()` removes it, and so that whatever a test process left when it died (SIGKILL, a crash,
 * a worker the runner killed) is removed by the next dockerlet that starts, as testcontainers'
 * reaper removes a dead session's containers.
 *
 *   <sessions dir>/<node name>/.dockerlet-session   the marker: only such directories are reaped
 *                             session.json          what the node made outside the directory: its
 *                                                   containers (by node label), pod network, address
 *                                                   slice, service addresses, pods' root cgroup,
 *                                                   objects in a cluster
 *                             root/                 the agent's root dir (pods, volumes, proxy state)
 *                             manifests/            what apply() wrote, the agent's manifest directory
 *
 * A live session holds a host lock on its node name; the kernel frees it when the process dies,
 * however it dies. Reaping takes that lock, so a session is reaped once, and never while it runs.
 *
 * Address slices are the host's, whatever sessions directory a node uses: a claim file per slice
 * (/var/lib/dockerlet/address-slices/<k>.json) names the session that had it last, and a node that
 * takes the slice first removes what that session left (its pod network and service addresses
 * are the slice's), so two sessions never share a slice's network, dead or alive.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pino, type Logger } from 'pino';
import { DockerletError, errorMessage } from '../common/api/errors.js';
import { delay } from '../common/util/clock.js';
import { HostLock } from '../common/util/host-lock.js';
import { parseIpv4Cidr } from '../common/util/ipv4.js';
import { KubeClient } from '../common/kube-api/kube-client.js';
import { userAgent } from '../common/version.js';
import { dnsLabel } from '../agent/config/validation/names.js';
import { removeNodeFromDocker } from '../agent/runtime/docker/node-teardown.js';
import { removeCgroups } from '../agent/qos/cgroup-manager.js';
import { isValidPodsCgroup } from '../agent/qos/qos-cgroups.js';
import { unmountAll } from '../agent/volumes/mounts.js';
import { cleanupServiceAddresses } from '../proxy/proxy.js';
import { addressSlice, SliceCount, sliceLockKey, type AddressSlice } from './address-slices.js';
import { deleteClusterObjects, type AppliedApiObject } from './api-objects.js';

/** Where sessions live unless told: under the agent's default root dir, in a directory the agent never uses. */
export const DefaultSessionsDir = '/var/lib/dockerlet/sessions';
/** Which session had each address slice last: the host's, whatever sessions directory a node uses. */
const SliceClaimsDir = '/var/lib/dockerlet/address-slices';
const Marker = '.dockerlet-session';
/** How long `down` waits for a running node to remove what it made, and a new node for another process to finish reaping a dead one it needs gone. */
const SessionGoneMs = 120_000;

export interface SessionRecord {
  nodeName: string;
  pid: number;
  startedAt: string;
  /** Who started the node: `dockerlet down` stops only its own. */
  startedBy: 'library' | 'dockerlet run';
  /** The address slice (address-slices.ts) the node's pods, Services and node ports use. */
  slice: number;
  podNetwork: string;
  /** The CIDR whose addresses the node's proxy puts on lo. */
  serviceCIDR: string;
  /** The Docker engine's socket path. */
  dockerSocket: string;
  /** The root cgroup of the node's pods and their QoS classes (none in the records of nodes from before they had one). */
  podsCgroup?: string;
  /** A node joined to a cluster: its kubeconfig, and what it applied there (each object's path and UID). */
  cluster?: { kubeconfig: string; objects: AppliedApiObject[] };
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
const exists = (path: string): Promise<boolean> => stat(path).then(() => true, () => false);
const isSession = (dir: string): Promise<boolean> => exists(join(dir, Marker));

/** Takes `nodeName`'s session lock; undefined when a live process (a session, or a reaper at work) holds it. */
async function trySessionLock(nodeName: string, owner: Record<string, string | number>): Promise<HostLock | undefined> {
  const held = new Error('held');
  try {
    return await HostLock.acquire([sessionLockKey(nodeName)], owner, () => held);
  } catch (err) {
    if (err === held) return undefined;
    throw err;
  }
}

/**
 * Takes the node name for this process and makes its session directory; what a dead session of
 * the same name left is removed first. The record is written once the caller knows it
 * (saveRecord), before anything is made outside the directory.
 */
export async function takeSession(sessionsDir: string, nodeName: string, log: Logger): Promise<{ paths: SessionPaths; lock: HostLock }> {
  const lock = await lockWhenNotReaped(nodeName);
  try {
    const paths = sessionPaths(sessionsDir, nodeName);
    if (await isSession(paths.dir)) await removeSession(paths, log);
    else if (await exists(paths.dir)) throw new DockerletError('DKL_ERR_RUNTIME', `${paths.dir} exists and is not a test session's: move it away, or give the node another name`);
    await mkdir(sessionsDir, { recursive: true, mode: 0o750 });
    await mkdir(paths.dir, { mode: 0o750 });
    await writeFile(join(paths.dir, Marker), '');
    await mkdir(paths.manifestDir, { mode: 0o750 });
    await mkdir(paths.rootDir, { mode: 0o750 });
    return { paths, lock };
  } catch (err) {
    await lock.release();
    throw err;
  }
}

/** Takes `nodeName` for this process: refused while a live node has the name; a reaper at work on a dead one of that name is waited for. */
async function lockWhenNotReaped(nodeName: string): Promise<HostLock> {
  const deadline = Date.now() + SessionGoneMs;
  for (;;) {
    const lock = await trySessionLock(nodeName, { pid: process.pid, nodeName });
    if (lock) return lock;
    const holder = await HostLock.holder(sessionLockKey(nodeName));
    if (holder?.['reaping'] === undefined || Date.now() > deadline) {
      const who = holder ? ` (pid ${holder['pid']})` : '';
      throw new DockerletError('DKL_ERR_RUNTIME', `a test node named ${nodeName} runs already${who}: give this one another name, or stop that one first`);
    }
    await delay(200, undefined, true);
  }
}

/** Writes the record whole, aside and renamed into place: a crash mid-write leaves the last one, never half of one. */
export async function saveRecord(paths: SessionPaths, record: SessionRecord): Promise<void> {
  const draft = join(paths.dir, `.session.json.${randomBytes(4).toString('hex')}`);
  await writeFile(draft, `${JSON.stringify(record, null, 2)}\n`, { mode: 0o640 });
  await rename(draft, join(paths.dir, 'session.json'));
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
 * mounts, its claim on its address slice and its directory. A session that died before it wrote
 * its record has made nothing outside its directory.
 */
export async function removeSession(paths: SessionPaths, log: Logger): Promise<void> {
  const record = await readRecord(paths);
  if (record) {
    if (record.cluster) await removeClusterObjects(record, log);
    const removed = await removeNodeFromDocker(record.dockerSocket, record.nodeName, record.podNetwork);
    if (!removed.network.removed && removed.network.refusal) log.warn({ network: record.podNetwork, reason: removed.network.refusal }, 'left the pod network in place');
    // Only a root of the node's own: never the shared one, whatever the record says.
    if (record.podsCgroup && record.podsCgroup === `dockerlet-${record.nodeName}`) await removePodsCgroup(record.podsCgroup, log);
    await cleanupServiceAddresses(parseIpv4Cidr(record.serviceCIDR)!, log);
  }
  await unmountAll(paths.dir);
  await rm(paths.dir, { recursive: true, force: true });
  if (record) await dropSliceClaim(record.slice, paths.dir);
}

/** The node's root cgroup, what is in it too: its containers are gone, and so what ran in them. What still holds processes is logged and left. */
async function removePodsCgroup(podsCgroup: string, log: Logger): Promise<void> {
  // A record is a file on disk: what it names is removed only when it is one cgroup name, never a path.
  if (!isValidPodsCgroup(podsCgroup)) return void log.warn({ cgroup: podsCgroup }, "the session's record names an invalid pods cgroup: left its cgroups alone");
  try {
    const left = await removeCgroups([[podsCgroup]]);
    if (left.length > 0) log.warn({ cgroups: left.map((cgroup) => `${cgroup.path}: ${cgroup.reason}`) }, "left the node's cgroups that still hold processes in place");
  } catch (err) {
    log.warn({ cgroup: podsCgroup, err: errorMessage(err) }, "could not remove the node's cgroups");
  }
}

/**
 * What a cluster node applied, and its Node, deleted from the API server. An API server that
 * cannot be reached is logged with what is left there, and the rest of the session goes all the
 * same: its containers must not wait for a cluster that may never come back.
 */
async function removeClusterObjects(record: SessionRecord, log: Logger): Promise<void> {
  const { kubeconfig, objects } = record.cluster!;
  try {
    await deleteClusterObjects(await KubeClient.fromKubeconfig(kubeconfig, userAgent('dockerlet')), objects, record.nodeName);
  } catch (err) {
    const left = [`Node ${record.nodeName}`, ...objects.map((object) => object.path)].join(', ');
    log.error({ node: record.nodeName, err }, `could not delete the node's objects from the API server of ${kubeconfig}; left there: ${left}`);
  }
}

const silent = pino({ level: 'silent' });

/**
 * Removes what every dead session under `sessionsDir` left; live ones (another process's, or
 * this one's) are left alone, and so is anything there that is not a session. Returns the node
 * names reaped. One session that cannot be removed is logged and left for the next reaper; the
 * others still go.
 */
export async function reapDeadSessions(sessionsDir: string = DefaultSessionsDir, log: Logger = silent): Promise<string[]> {
  const names = await readdir(sessionsDir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [];
    throw err;
  });
  const reaped: string[] = [];
  for (const nodeName of names) {
    if (!dnsLabel.safeParse(nodeName).success || !(await isSession(join(sessionsDir, nodeName)))) continue;
    const lock = await trySessionLock(nodeName, { pid: process.pid, reaping: nodeName });
    if (!lock) continue;
    try {
      // Reaped meanwhile by another process, between the listing and the lock.
      if (!(await isSession(join(sessionsDir, nodeName)))) continue;
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

/**
 * Ends the session of `nodeName` from another process (`dockerlet down`): its process is sent
 * SIGTERM and waited for (it removes what it made as it stops); what a dead one left is removed
 * here. Resolves false when there is no such session; rejects for a node a test started (its
 * test stops it) and when the session is not gone in time.
 */
export async function endSession(sessionsDir: string, nodeName: string, log: Logger): Promise<boolean> {
  const paths = sessionPaths(sessionsDir, nodeName);
  if (!(await isSession(paths.dir))) return false;
  const record = await readRecord(paths);
  if (record?.startedBy !== 'dockerlet run' && (await HostLock.holder(sessionLockKey(nodeName)))?.['nodeName'] === nodeName) {
    throw new DockerletError('DKL_ERR_BAD_REQUEST', `node ${nodeName} was started by a test${record ? ` (pid ${record.pid})` : ''}, not by \`dockerlet run\`: its test stops it`);
  }
  const deadline = Date.now() + SessionGoneMs;
  let signalled = false;
  for (;;) {
    const lock = await trySessionLock(nodeName, { pid: process.pid, reaping: nodeName });
    if (lock) {
      try {
        if (await isSession(paths.dir)) await removeSession(paths, log);
      } finally {
        await lock.release();
      }
      return true;
    }
    // The node's own process is told to stop; a reaper at work on it (another owner) is waited for.
    const holder = await HostLock.holder(sessionLockKey(nodeName));
    if (!signalled && record && holder?.['nodeName'] === nodeName && holder['pid'] === record.pid) {
      // Gone meanwhile (ESRCH) is what was asked for.
      try {
        process.kill(record.pid, 'SIGTERM');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
      }
      signalled = true;
    }
    if (!(await isSession(paths.dir))) return true;
    if (Date.now() > deadline) throw new DockerletError('DKL_ERR_WAIT_TIMEOUT', `node ${nodeName}${holder ? ` (pid ${holder['pid']})` : ''} did not go within ${SessionGoneMs / 1000} s`);
    await delay(200, undefined, true);
  }
}

interface SliceClaim {
  dir: string;
  nodeName: string;
}

const claimPath = (index: number): string => join(SliceClaimsDir, `${index}.json`);

async function readClaim(index: number): Promise<SliceClaim | undefined> {
  const text = await readFile(claimPath(index), 'utf8').catch(() => undefined);
  try {
    return text === undefined ? undefined : (JSON.parse(text) as SliceClaim);
  } catch {
    return undefined;
  }
}

async function dropSliceClaim(index: number, dir: string): Promise<void> {
  if ((await readClaim(index))?.dir === dir) await rm(claimPath(index), { force: true });
}

/**
 * Makes slice `index` (whose lock the caller holds) free of its last holder: a dead session that
 * still claims it is removed here, or waited for while another process removes it.
 */
async function clearSliceClaim(index: number, self: string, log: Logger): Promise<void> {
  const deadline = Date.now() + SessionGoneMs;
  for (;;) {
    const claim = await readClaim(index);
    if (!claim || claim.dir === self) return;
    const lock = await trySessionLock(claim.nodeName, { pid: process.pid, reaping: claim.nodeName });
    if (lock) {
      try {
        if (await isSession(claim.dir)) await removeSession(sessionPaths(dirname(claim.dir), claim.nodeName), log);
        else await rm(claimPath(index), { force: true });
      } finally {
        await lock.release();
      }
      continue;
    }
    // A live node of that name (here, or in another sessions directory) holds the name, not this slice: what the dead one left is not this process's to judge.
    if ((await HostLock.holder(sessionLockKey(claim.nodeName)))?.['reaping'] === undefined) {
      throw new DockerletError('DKL_ERR_RUNTIME', `address slice ${index}: its last holder ${claim.dir} has the name of a live node`);
    }
    if (Date.now() > deadline) throw new DockerletError('DKL_ERR_RUNTIME', `address slice ${index}: the dead session ${claim.dir} is still being removed after ${SessionGoneMs / 1000} s`);
    await delay(200, undefined, true);
  }
}

/**
 * Takes the first address slice this session can have, for as long as it runs: free of a live
 * session (its lock) and of what a dead one left (its claim, cleared here). A slice whose last
 * holder cannot be cleared is skipped, and logged.
 */
export async function takeAddressSlice(paths: SessionPaths, owner: { pid: number; nodeName: string }, log: Logger): Promise<{ slice: AddressSlice; lock: HostLock }> {
  await mkdir(SliceClaimsDir, { recursive: true, mode: 0o750 });
  const taken = new Error('taken');
  for (let index = 0; index < SliceCount; index++) {
    let lock: HostLock;
    try {
      lock = await HostLock.acquire([sliceLockKey(index)], owner, () => taken);
    } catch (err) {
      if (err === taken) continue;
      throw err;
    }
    try {
      await clearSliceClaim(index, paths.dir, log);
      await writeFile(claimPath(index), JSON.stringify({ dir: paths.dir, nodeName: owner.nodeName } satisfies SliceClaim));
      return { slice: addressSlice(index), lock };
    } catch (err) {
      log.warn({ slice: index, err }, 'skipping an address slice whose last holder could not be removed');
      await lock.release();
    }
  }
  throw new DockerletError('DKL_ERR_RUNTIME', `all ${SliceCount} address slices of test nodes are taken: stop some of the nodes running on this host`);
}
