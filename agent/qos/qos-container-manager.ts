/**
 * The node's QoS and pod cgroups (the kubelet's QOSContainerManager and PodContainerManager,
 * qos_container_manager_linux.go and pod_container_manager_linux.go); qos-cgroups.ts says what
 * goes where.
 *
 *   start()                      the root cgroup (the node's CPUs as its shares, as kubepods has
 *                                its allocatable) and its burstable and besteffort tiers
 *   ensureExists(pod)            before the pod's sandbox: the pod's cgroup with its values, the
 *                                tiers written again; the cgroup parent its sandbox gets. For a
 *                                pod known already, one stat: a cgroup gone is made again, one
 *                                that could not be made is tried again
 *   release(uid)                 the pod has finished: its requests leave its tier's
 *   destroy(uid)                 its containers are gone: its cgroup removed, the tiers written
 *   cleanupOrphanedPodCgroups(keep)  at each housekeeping once every source has been seen: every
 *                                `pod<uid>` cgroup under the root and its tiers (an earlier
 *                                agent's too) whose pod is neither known here nor kept by the
 *                                caller (wanted, or still running) is removed. The cgroups are
 *                                listed once a minute (orphanScanPeriodMs), not at each call: in
 *                                every cgroup v1 hierarchy that listing was the largest part of an
 *                                idle node's CPU. In between, only the cgroups already found
 *                                holding processes are tried again.
 *
 * The tiers are written each time a pod comes or goes: besteffort 2 shares, burstable the
 * shares of the cpu requests of every Burstable pod that has a cgroup and has not finished.
 *
 * One agent manages a root, under a host lock named after it: a second one on the root (another
 * node name) would write other tier shares and take the first one's pods' cgroups for orphans;
 * it goes without, as below.
 *
 * Where the host's cgroups cannot be written (a read-only /sys/fs/cgroup, as in many CI
 * containers) or the engine gives containers none of their own, start() says so once, and
 * every pod gets the runtime's default cgroup, as it did before: no pod fails for it. A pod
 * whose own cgroup cannot be made is logged, and runs the same way.
 *
 * With the systemd driver the agent makes the slices' directories itself, as it does with
 * cgroupfs, before the pod's first container. systemd takes the slices over when runc starts
 * the sandbox's scope in them and can put its own defaults in then, so their values are
 * written again once the sandbox runs (sandboxCreated). A pod's slice is removed with rmdir, as
 * with cgroupfs; systemd's unit for it stays behind, empty.
 */
import { availableParallelism } from 'node:os';
import type { Logger } from 'pino';
import { DockerletError, errorMessage } from '../../common/api/errors.js';
import { HostLock } from '../../common/util/host-lock.js';
import { systemClock, type Clock } from '../../common/util/clock.js';
import { qosClass, type QOSClass } from '../../common/api/qos.js';
import type { DefaultedPod } from '../../common/api/types.js';
import { podLabel, podRef, type RuntimeCgroups } from '../runtime/runtime.js';
import { CgroupManager, discoverCgroupHierarchies, type CgroupFs, type CgroupHierarchies, type CgroupLeft } from './cgroup-manager.js';
import {
  BestEffortResourceConfig,
  burstableResourceConfig,
  isValidPodsCgroup,
  isValidPodUid,
  milliCpuToShares,
  podCgroupName,
  podCgroupNames,
  podCpuRequestMilli,
  podResourceConfig,
  podUidFromCgroup,
  qosCgroupName,
  type CgroupName,
  type ResourceConfig,
} from './qos-cgroups.js';

/** What the pod syncer asks of the node's cgroups (upstream's PodContainerManager, with the QoS tier updates that go with it). */
export interface PodContainerManager {
  /**
   * Makes the pod's cgroup with its values, the first time it is asked for (and again when it
   * is gone, or could not be made), and counts its requests in its tier's. The cgroup parent its sandbox (and so its containers) get: none
   * where pods get the runtime's default.
   */
  ensureExists(pod: DefaultedPod): Promise<string | undefined>;
  /** The pod's sandbox was just made: with systemd, the values go in again. */
  sandboxCreated(pod: DefaultedPod): Promise<void>;
  /** The pod runs nothing more (it completed, or failed): its requests leave its tier's; its cgroup stays until destroy(). */
  release(uid: string): Promise<void>;
  /** The pod's containers and sandboxes are gone for good: its cgroup goes; one that still holds processes is tried again later. Never rejects. */
  destroy(uid: string): Promise<void>;
}

export interface QOSContainerManagerOptions {
  /** The root cgroup's name (KubeletOptions.podsCgroup): one component, such as dockerlet. */
  root: string;
  logger: Logger;
  /** Where the cgroup hierarchies of a version are (default: this process's mountinfo); tests hand in temp directories. */
  hierarchies?: (version: 1 | 2) => Promise<{ ok: true; hierarchies: CgroupHierarchies } | { ok: false; reason: string }>;
  fs?: CgroupFs;
  /** The node's CPUs, the root cgroup's weight (default: os.availableParallelism()). */
  nodeCpus?: number;
  /** Takes the host-wide hold on the root (default: a host lock named after it); rejects, saying who holds it, when another agent does. */
  lockRoot?: (root: string) => Promise<{ release(): Promise<void> }>;
  /** How often cleanupOrphanedPodCgroups lists the cgroups (default: a minute); 0 lists them at each call. */
  orphanScanPeriodMs?: number;
  clock?: Clock;
}

const OrphanScanPeriodMs = 60_000;

/** The host lock on a root cgroup: one agent per root, refused with who holds it. */
function lockPodsCgroup(root: string): Promise<HostLock> {
  return HostLock.acquire([`pods-cgroup:${root}`], { pid: process.pid, podsCgroup: root }, (_key, holder) =>
    new Error(`another dockerlet agent${holder ? ` (pid ${String(holder['pid'])})` : ''} manages the QoS cgroups under ${root}`),
  );
}

interface PodCgroup {
  name: CgroupName;
  qos: QOSClass;
  cpuRequestMilli: number;
  config: ResourceConfig;
  /** The cgroup parent its sandbox gets; none when its cgroup could not be made. */
  parent: string | undefined;
  /** Its requests count in its tier's: its cgroup was made, and it has not finished. */
  active: boolean;
  /** Its cgroup could not be made, and that was logged: tries again are logged at debug. */
  warned: boolean;
}

export class QOSContainerManager implements PodContainerManager {
  readonly #root: string;
  readonly #o: QOSContainerManagerOptions;
  readonly #log: Logger;
  /** Pods whose uid cannot name a cgroup, warned about once. */
  readonly #refusedUids = new Set<string>();
  /** This agent's hold on its root cgroup, while it manages it. */
  #rootLock: { release(): Promise<void> } | undefined;
  /** Unset until started, and for good where the host's cgroups cannot be written. */
  #cgroups: CgroupManager | undefined;
  readonly #pods = new Map<string, PodCgroup>();
  /** Pods gone whose cgroups still held processes (logged once), and those cgroups: housekeeping tries them again. */
  readonly #orphans = new Map<string, readonly CgroupName[]>();
  /** When cleanupOrphanedPodCgroups last listed the cgroups. */
  #lastOrphanScan = -Infinity;
  /** Writes one after the other, so that the tiers' last write has the last count. */
  #queue: Promise<unknown> = Promise.resolve();

  constructor(options: QOSContainerManagerOptions) {
    if (!isValidPodsCgroup(options.root)) {
      throw new DockerletError('DKL_ERR_CONFIG_INVALID', `podsCgroup: invalid value ${JSON.stringify(options.root)}: must be one cgroup name (letters, digits, '_', '.' and '-'), such as dockerlet`);
    }
    this.#root = options.root;
    this.#o = options;
    this.#log = options.logger.child({ component: 'qos-container-manager' });
  }

  /** Makes the root cgroup and its tiers, once the runtime has said how it names cgroups (none: pods get its default). */
  async start(runtime: RuntimeCgroups | undefined): Promise<void> {
    const off = (reason: string): void =>
      this.#log.warn({ reason }, "pods are not grouped under dockerlet's QoS cgroups on this host: their containers get the container runtime's default cgroup parent");
    if (!runtime) return off('the container runtime gives containers no cgroup of their own (cgroup driver none)');
    const found = await (this.#o.hierarchies ?? discoverCgroupHierarchies)(runtime.version);
    if (!found.ok) return off(found.reason);
    const cgroups = new CgroupManager(found.hierarchies, runtime.driver, this.#o.fs);
    // One agent manages a root: two would write each other's tier shares and take each other's pod cgroups for orphans.
    try {
      this.#rootLock = await (this.#o.lockRoot ?? lockPodsCgroup)(this.#root);
    } catch (err) {
      return off(errorMessage(err));
    }
    try {
      await this.#ensureRoot(cgroups);
    } catch (err) {
      await this.stop();
      return off(`the host's cgroups cannot be written (${errorMessage(err)}); is /sys/fs/cgroup read-only?`);
    }
    this.#cgroups = cgroups;
    this.#log.info({ cgroup: cgroups.path([this.#root]), driver: runtime.driver, cgroupVersion: runtime.version }, "pods go under dockerlet's QoS cgroups");
  }

  /** Lets another agent manage the root. */
  async stop(): Promise<void> {
    const lock = this.#rootLock;
    this.#rootLock = undefined;
    await lock?.release();
  }

  async ensureExists(pod: DefaultedPod): Promise<string | undefined> {
    const cgroups = this.#cgroups;
    if (!cgroups) return undefined;
    const uid = pod.metadata.uid;
    if (!isValidPodUid(uid)) {
      if (this.#refusedUids.has(uid)) return undefined;
      this.#refusedUids.add(uid);
      this.#warn(pod, new Error(`uid ${JSON.stringify(uid)} has characters other than letters, digits, '.', '_' and '-'`), "the pod's uid cannot name a cgroup: its containers get the container runtime's default cgroup parent");
      return undefined;
    }
    // A terminal pod is never synced up to here again (it is killed, and released): a pod known is active, or its cgroup failed.
    const known = this.#pods.get(uid);
    if (known?.parent !== undefined) {
      const there = await cgroups.exists(known.name).catch(() => false);
      if (there) return known.parent;
    }
    return this.#serially(async () => {
      const qos = qosClass(pod);
      const name = podCgroupName(this.#root, qos, uid);
      const entry: PodCgroup = known ?? { name, qos, cpuRequestMilli: podCpuRequestMilli(pod), config: podResourceConfig(pod), parent: undefined, active: false, warned: false };
      this.#pods.set(uid, entry);
      this.#orphans.delete(uid);
      const again = known !== undefined;
      try {
        entry.active = true;
        // The tiers first, as the kubelet's SyncPod updates them before it makes the pod's; when made again, the root too (gone with it, as likely as not).
        if (again) await this.#ensureRoot(cgroups);
        await this.#updateQOSCgroups(cgroups);
        await cgroups.ensure(entry.name, entry.config);
        entry.parent = cgroups.path(entry.name);
        this.#log[again ? 'info' : 'debug'](
          { pod: podLabel(podRef(pod)), podUID: uid, cgroup: entry.parent, ...entry.config },
          again ? "made the pod's cgroup again (it was gone, or could not be made before)" : "made the pod's cgroup",
        );
      } catch (err) {
        entry.parent = undefined;
        entry.active = false;
        if (entry.warned) this.#log.debug({ podUID: uid, err: errorMessage(err) }, "still cannot make the pod's cgroup");
        else this.#warn(pod, err, "could not make the pod's cgroup: its containers get the container runtime's default cgroup parent");
        entry.warned = true;
      }
      return entry.parent;
    });
  }

  async sandboxCreated(pod: DefaultedPod): Promise<void> {
    const cgroups = this.#cgroups;
    const entry = this.#pods.get(pod.metadata.uid);
    if (cgroups?.driver !== 'systemd' || !entry?.parent) return;
    await this.#serially(async () => {
      await this.#updateQOSCgroups(cgroups);
      await cgroups.ensure(entry.name, entry.config);
    }).catch((err: unknown) => this.#warn(pod, err, "writing the pod's cgroup values again after systemd took its slice over failed"));
  }

  async release(uid: string): Promise<void> {
    const cgroups = this.#cgroups;
    const entry = this.#pods.get(uid);
    if (!cgroups || !entry?.active) return;
    entry.active = false;
    if (entry.qos !== 'Burstable') return;
    await this.#serially(() => this.#updateQOSCgroups(cgroups)).catch((err: unknown) =>
      this.#log.warn({ podUID: uid, err: errorMessage(err) }, 'updating the burstable cgroup failed'),
    );
  }

  async destroy(uid: string): Promise<void> {
    const cgroups = this.#cgroups;
    if (!cgroups) return;
    if (!isValidPodUid(uid)) return void this.#log.warn({ podUID: uid }, "a pod uid that cannot name a cgroup: no cgroup of it to remove");
    const entry = this.#pods.get(uid);
    this.#pods.delete(uid);
    // Its class may not be known (it finished before this agent started): wherever it may be.
    const names = entry ? [entry.name] : podCgroupNames(this.#root, uid);
    await this.#serially(async () => {
      if (entry?.active && entry.qos === 'Burstable') {
        await this.#updateQOSCgroups(cgroups).catch((err: unknown) => this.#log.warn({ podUID: uid, err: errorMessage(err) }, 'updating the burstable cgroup failed'));
      }
      await this.#remove(cgroups, uid, names, false);
    }).catch((err: unknown) => this.#log.warn({ podUID: uid, err: errorMessage(err) }, "removing the pod's cgroup failed"));
  }

  /**
   * The kubelet's cleanupOrphanedPodCgroups: every pod cgroup under the root and its tiers, in
   * any hierarchy (an earlier agent's included), whose pod is neither known here nor one `keep`
   * says is still there (wanted by a source, or running), is removed; one that still holds
   * processes stays, logged once, and is tried again at the next call. The cgroups are listed
   * once every orphanScanPeriodMs; the calls in between try again only those. Never rejects.
   */
  async cleanupOrphanedPodCgroups(keep: (uid: string) => boolean = () => false): Promise<void> {
    const cgroups = this.#cgroups;
    if (!cgroups) return;
    await this.#serially(async () => {
      const now = (this.#o.clock ?? systemClock).now();
      if (now - this.#lastOrphanScan < (this.#o.orphanScanPeriodMs ?? OrphanScanPeriodMs)) {
        for (const [uid, names] of this.#orphans) if (!this.#pods.has(uid) && !keep(uid)) await this.#remove(cgroups, uid, names, true);
        return;
      }
      const found = await this.#podCgroupsOnNode(cgroups);
      // Only a listing that worked waits the period: one that failed is tried at the next call.
      this.#lastOrphanScan = now;
      // Those gone from every hierarchy by other hands: nothing to retry.
      for (const uid of this.#orphans.keys()) if (!found.has(uid)) this.#orphans.delete(uid);
      for (const [uid, names] of found) {
        if (this.#pods.has(uid) || keep(uid)) continue;
        await this.#remove(cgroups, uid, names, true);
      }
    }).catch((err: unknown) => this.#log.warn({ err: errorMessage(err) }, 'looking for the cgroups of pods that are gone failed'));
  }

  /** GetAllPodsFromCgroups: the uids of the `pod<uid>` cgroups under the root and its tiers, and which ones each has. */
  async #podCgroupsOnNode(cgroups: CgroupManager): Promise<Map<string, CgroupName[]>> {
    const found = new Map<string, CgroupName[]>();
    for (const qos of ['Guaranteed', 'Burstable', 'BestEffort'] as const) {
      const parent = qosCgroupName(this.#root, qos);
      for (const child of await cgroups.children(parent)) {
        const uid = podUidFromCgroup(parent, child, cgroups.driver);
        if (uid === undefined) continue;
        found.set(uid, [...(found.get(uid) ?? []), podCgroupName(this.#root, qos, uid)]);
      }
    }
    return found;
  }

  /** Removes the pod's cgroups; what is left is logged the first time. `found`: by a scan, not by the pod's own destroy(). */
  async #remove(cgroups: CgroupManager, uid: string, names: readonly CgroupName[], found: boolean): Promise<void> {
    const left: CgroupLeft[] = [];
    for (const name of names) left.push(...(await cgroups.destroy(name)));
    if (left.length === 0) {
      if (this.#orphans.delete(uid) || found) this.#log.info({ podUID: uid }, 'removed the cgroup of a pod that is gone');
      return;
    }
    if (this.#orphans.has(uid)) return;
    this.#orphans.set(uid, names);
    this.#log.warn({ podUID: uid, left: left.map((cgroup) => `${cgroup.path}: ${cgroup.reason}`) }, "the pod's cgroup cannot be removed yet; housekeeping tries again");
  }

  /** The root with the node's CPUs as its shares (kubepods' allocatable), and its tiers. */
  async #ensureRoot(cgroups: CgroupManager): Promise<void> {
    await cgroups.ensure([this.#root], { cpuShares: milliCpuToShares((this.#o.nodeCpus ?? availableParallelism()) * 1000) });
    await this.#updateQOSCgroups(cgroups);
  }

  /** The tiers' values for the pods known now (setCPUCgroupConfig). */
  async #updateQOSCgroups(cgroups: CgroupManager): Promise<void> {
    const burstable = [...this.#pods.values()].filter((pod) => pod.active && pod.qos === 'Burstable').map((pod) => pod.cpuRequestMilli);
    await cgroups.ensure(qosCgroupName(this.#root, 'Burstable'), burstableResourceConfig(burstable));
    await cgroups.ensure(qosCgroupName(this.#root, 'BestEffort'), BestEffortResourceConfig);
  }

  #serially<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(work, work);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  #warn(pod: DefaultedPod, err: unknown, message: string): void {
    this.#log.warn({ pod: podLabel(podRef(pod)), podUID: pod.metadata.uid, err: errorMessage(err) }, message);
  }
}
