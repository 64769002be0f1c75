/**
 * The eviction manager, checked every evictionMonitoringPeriod (pkg/kubelet/eviction
 * eviction_manager.go synchronize):
 * - local storage (local-storage.ts): pods over an emptyDir's sizeLimit or their
 *   ephemeral-storage limits are evicted with a grace period of 1 s; when one is, the pass
 *   ends there;
 * - node pressure: the signals observed against the thresholds (node-pressure.ts); the node
 *   conditions they raise, kept for evictionPressureTransitionPeriod after the last time they
 *   were met; once a threshold has held for its grace period, node-level resources are
 *   reclaimed first (dead containers and unused images, for the file system signals), and if
 *   that is not enough, one pod is evicted, the first in the kubelet's order for the signal:
 *   with a grace period of 1 s for a hard threshold, evictionMaxPodGracePeriod or the pod's
 *   own when shorter (at least 1 s) for a soft one.
 * An evicted pod is Failed with reason Evicted and upstream's message; the pod workers then kill
 * it and start nothing again. A critical pod is never evicted; unlike upstream, for which every static pod
 * is critical, critical means by priority here (system-cluster-critical and above): on a
 * standalone node static pods are all the pods there are.
 */
import type { Logger } from 'pino';
import type { DefaultedPod } from '../../common/api/types.js';
import { errorMessage } from '../../common/api/errors.js';
import { isCriticalPod } from '../../common/api/priority.js';
import type { EventRecorder } from '../events/recorder.js';
import { podRef } from '../runtime/runtime.js';
import type { Clock } from '../../common/util/clock.js';
import type { InvolvedObject } from '../events/recorder.js';
import type { VolumeManager } from '../volumes/volume-manager.js';
import { evictionMessage, pressureConditions, rankForEviction, ResourceOf, thresholdsMet, thresholdToReclaim, type Observations, type PodUsage, type PressureCondition } from './node-pressure.js';
import type { Threshold } from './thresholds.js';
import { hasEphemeralStorageLimit, localStorageViolation } from './local-storage.js';

export interface PodEviction {
  reason: 'Evicted';
  message: string;
  /** The grace period its containers are stopped with. */
  gracePeriodSeconds: number;
}

/** What node-pressure eviction acts on, and how it observes the node and its pods. */
export interface NodePressureOptions {
  thresholds: readonly Threshold[];
  /** How long a condition stays after its threshold was last met (evictionPressureTransitionPeriod). */
  pressureTransitionPeriodMs: number;
  /** The longest grace period a pod evicted for a soft threshold is given (evictionMaxPodGracePeriod). */
  maxPodGracePeriodSeconds: number;
  observe(): Promise<Observations>;
  /** Frees node-level disk space: dead containers, then unused images. */
  reclaimDisk(): Promise<void>;
  /** Whether any container of the pod still runs: a victim is waited for before the next is chosen. */
  podRunning(uid: string): boolean;
  node: InvolvedObject;
  clock: Clock;
}

export interface EvictionManagerOptions {
  volumes: Pick<VolumeManager, 'emptyDirUsage'>;
  /** The pod's use of memory or of ephemeral storage, by container. */
  podUsage(pod: DefaultedPod, resource: 'memory' | 'ephemeral-storage'): Promise<PodUsage>;
  nodePressure?: NodePressureOptions;
  /** The pods that may be evicted now: desired and not terminating. */
  activePods(): DefaultedPod[];
  recorder: EventRecorder;
  /** Called once per evicted pod, after its eviction is recorded. */
  onEvict(pod: DefaultedPod): void;
  periodMs: number;
  logger: Logger;
}

/** How long a pass waits for the pod evicted last to stop before choosing another (upstream's podCleanupTimeout). */
const VictimCleanupMs = 30_000;
/** The grace period of a pod evicted for a hard threshold or a local storage limit (upstream's immediateEvictionGracePeriodSeconds), and the least any eviction gives. */
const ImmediateEvictionGracePeriodSeconds = 1;
const NoUsage: PodUsage = { memoryBytes: 0, diskBytes: 0, containers: [] };

export class EvictionManager {
  readonly #o: EvictionManagerOptions;
  readonly #log: Logger;
  readonly #evicted = new Map<string, PodEviction>();
  #timer: NodeJS.Timeout | undefined;
  #checking = false;
  /** When each threshold met now was first met, for soft thresholds' grace periods. */
  readonly #firstObservedAt = new Map<Threshold, number>();
  /** When each condition was last raised. */
  readonly #conditionObservedAt = new Map<PressureCondition, number>();
  /** The thresholds acted on in the last pass: acted on until their minimum reclaim is met too. */
  #acting: Threshold[] = [];
  #conditions = new Set<PressureCondition>();
  /** The last pod evicted for node pressure, until its containers have stopped (or VictimCleanupMs has passed). */
  #victim: { uid: string; at: number } | undefined;

  constructor(options: EvictionManagerOptions) {
    this.#o = options;
    this.#log = options.logger.child({ component: 'eviction-manager' });
  }

  start(): void {
    this.#timer = setInterval(() => void this.check(), this.#o.periodMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /** The pod's eviction, if it was evicted. */
  eviction(uid: string): PodEviction | undefined {
    return this.#evicted.get(uid);
  }

  /** The node conditions node pressure raises now (MemoryPressure, DiskPressure, PIDPressure). */
  conditions(): ReadonlySet<PressureCondition> {
    return this.#conditions;
  }

  /** Forgets a pod that is gone. */
  forget(uid: string): void {
    this.#evicted.delete(uid);
  }

  /** One pass: local storage, then node pressure; concurrent calls do nothing. */
  async check(): Promise<void> {
    if (this.#checking) return;
    this.#checking = true;
    try {
      if (await this.#localStorageEviction()) return;
      if (this.#o.nodePressure) await this.#nodePressure(this.#o.nodePressure);
    } catch (err) {
      // The next pass tries again: a signal that cannot be read this time stops nothing.
      this.#log.warn({ err: errorMessage(err) }, 'the eviction manager could not check the node');
    } finally {
      this.#checking = false;
    }
  }

  /** The pods over their local storage limits, evicted; whether there was one. Pods are measured side by side. */
  async #localStorageEviction(): Promise<boolean> {
    const measured = await Promise.all(
      this.#candidates().map(async (pod) => {
        const emptyDirs = (await this.#o.volumes.emptyDirUsage(pod).catch(this.#measuringFailed(pod, 'emptyDir usage'))) ?? [];
        const usage = hasEphemeralStorageLimit(pod) ? await this.#o.podUsage(pod, 'ephemeral-storage').catch(this.#measuringFailed(pod, 'ephemeral storage')) : undefined;
        return { pod, violation: localStorageViolation(pod, emptyDirs, usage) };
      }),
    );
    let evicted = false;
    for (const { pod, violation } of measured) {
      if (!violation) continue;
      this.#evict(pod, violation.message, ImmediateEvictionGracePeriodSeconds, violation.details);
      evicted = true;
    }
    return evicted;
  }

  /** A pod whose use cannot be measured this pass is logged and left out (undefined). */
  #measuringFailed(pod: DefaultedPod, what: string): (err: unknown) => undefined {
    return (err) => {
      this.#log.warn({ pod: pod.metadata.name, podUID: pod.metadata.uid, err: errorMessage(err) }, `measuring ${what} failed`);
      return undefined;
    };
  }

  async #nodePressure(np: NodePressureOptions): Promise<void> {
    if (np.thresholds.length === 0) return;
    const now = np.clock.now();
    let observations = await np.observe();
    const met = thresholdsMet(np.thresholds, observations, false);
    // A threshold acted on stays met until its minimum reclaim is freed too.
    for (const threshold of thresholdsMet(this.#acting, observations, true)) if (!met.includes(threshold)) met.push(threshold);
    for (const threshold of [...this.#firstObservedAt.keys()]) if (!met.includes(threshold)) this.#firstObservedAt.delete(threshold);
    for (const threshold of met) if (!this.#firstObservedAt.has(threshold)) this.#firstObservedAt.set(threshold, now);
    for (const condition of pressureConditions(met)) this.#conditionObservedAt.set(condition, now);
    const conditions = new Set([...this.#conditionObservedAt].filter(([, at]) => now - at < np.pressureTransitionPeriodMs).map(([condition]) => condition));
    for (const condition of new Set([...conditions, ...this.#conditions])) {
      if (conditions.has(condition) !== this.#conditions.has(condition)) this.#log.info({ condition, status: conditions.has(condition) }, 'node condition changed');
    }
    this.#conditions = conditions;
    this.#acting = met.filter((threshold) => now - this.#firstObservedAt.get(threshold)! >= threshold.gracePeriodMs);
    const threshold = thresholdToReclaim(this.#acting);
    if (!threshold) return;
    const resource = ResourceOf[threshold.signal];
    this.#o.recorder.event(np.node, 'Warning', 'EvictionThresholdMet', `Attempting to reclaim ${resource}`);
    if (resource === 'ephemeral-storage' || resource === 'inodes') {
      await np.reclaimDisk().catch((err: unknown) => this.#log.warn({ err: errorMessage(err) }, 'reclaiming dead containers and unused images failed'));
      observations = await np.observe();
      if (thresholdsMet([threshold], observations, true).length === 0) {
        this.#log.info({ signal: threshold.signal }, 'reclaimed enough from node-level resources: no pod evicted');
        return;
      }
    }
    // As upstream's waitForPodsCleanup: the last victim's resources are not free until it has stopped.
    if (this.#victim && np.podRunning(this.#victim.uid) && now - this.#victim.at < VictimCleanupMs) {
      this.#log.debug({ podUID: this.#victim.uid }, 'waiting for the pod evicted last to stop');
      return;
    }
    const measured = resource === 'memory' ? 'memory' : resource === 'pids' ? undefined : 'ephemeral-storage';
    const usageOf = async (pod: DefaultedPod): Promise<PodUsage> => (measured ? ((await this.#o.podUsage(pod, measured).catch(this.#measuringFailed(pod, measured))) ?? NoUsage) : NoUsage);
    const candidates = await Promise.all(this.#candidates().map(async (pod) => ({ pod, usage: await usageOf(pod) })));
    const victim = rankForEviction(threshold.signal, candidates)[0];
    if (!victim) {
      this.#log.warn({ signal: threshold.signal }, 'the node is under pressure and no pod may be evicted');
      return;
    }
    const usage = candidates.find((candidate) => candidate.pod === victim)!.usage;
    // Soft: evictionMaxPodGracePeriod, or the pod's own when shorter, as upstream; never under 1 s, as the kubelet's pod workers give.
    const soft = Math.min(np.maxPodGracePeriodSeconds, victim.spec.terminationGracePeriodSeconds ?? np.maxPodGracePeriodSeconds);
    const grace = threshold.hard ? ImmediateEvictionGracePeriodSeconds : Math.max(ImmediateEvictionGracePeriodSeconds, soft);
    this.#evict(victim, evictionMessage(threshold, observations[threshold.signal]!, victim, usage), grace, { signal: threshold.signal });
    this.#victim = { uid: victim.metadata.uid, at: now };
  }

  /** The pods that may be evicted: active, not evicted yet, not critical. */
  #candidates(): DefaultedPod[] {
    return this.#o.activePods().filter((pod) => !this.#evicted.has(pod.metadata.uid) && !isCriticalPod(pod));
  }

  #evict(pod: DefaultedPod, message: string, gracePeriodSeconds: number, details: Record<string, unknown>): void {
    this.#evicted.set(pod.metadata.uid, { reason: 'Evicted', message, gracePeriodSeconds });
    this.#o.recorder.event({ kind: 'Pod', ...podRef(pod) }, 'Warning', 'Evicted', message);
    this.#log.info({ pod: pod.metadata.name, podUID: pod.metadata.uid, gracePeriodSeconds, ...details }, 'evicting pod');
    this.#o.onEvict(pod);
  }
}
