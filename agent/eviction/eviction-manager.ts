/**
 * Local storage eviction of pods whose disk-backed emptyDir outgrew its sizeLimit (the eviction
 * manager's emptyDirLimitEviction, checked every evictionMonitoringPeriod). An evicted pod is
 * Failed with reason Evicted and upstream's message; the pod workers then kill it and start
 * nothing again. A critical pod is never evicted; unlike upstream, for which every static pod
 * is critical, critical means by priority here (system-cluster-critical and above): on a
 * standalone node static pods are all the pods there are.
 */
import type { Logger } from 'pino';
import type { DefaultedPod } from '../../common/api/types.js';
import { errorMessage } from '../../common/api/errors.js';
import { isCriticalPod } from '../../common/api/priority.js';
import type { EventRecorder } from '../events/recorder.js';
import { podRef } from '../runtime/runtime.js';
import type { VolumeManager } from '../volumes/volume-manager.js';

export interface PodEviction {
  reason: 'Evicted';
  message: string;
}

export interface EvictionManagerOptions {
  volumes: Pick<VolumeManager, 'emptyDirUsage'>;
  /** The pods that may be evicted now: desired and not terminating. */
  activePods(): DefaultedPod[];
  recorder: EventRecorder;
  /** Called once per evicted pod, after its eviction is recorded. */
  onEvict(pod: DefaultedPod): void;
  periodMs: number;
  logger: Logger;
}

export class EvictionManager {
  readonly #o: EvictionManagerOptions;
  readonly #log: Logger;
  readonly #evicted = new Map<string, PodEviction>();
  #timer: NodeJS.Timeout | undefined;
  #checking = false;

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

  /** Forgets a pod that is gone. */
  forget(uid: string): void {
    this.#evicted.delete(uid);
  }

  /** One pass over the active pods; concurrent calls do nothing. */
  async check(): Promise<void> {
    if (this.#checking) return;
    this.#checking = true;
    try {
      for (const pod of this.#o.activePods()) {
        if (this.#evicted.has(pod.metadata.uid) || isCriticalPod(pod)) continue;
        const over = (await this.#o.volumes.emptyDirUsage(pod).catch((err: unknown) => {
          this.#log.warn({ pod: pod.metadata.name, podUID: pod.metadata.uid, err: errorMessage(err) }, 'measuring emptyDir usage failed');
          return [];
        })).find((usage) => usage.limitBytes > 0 && usage.usedBytes > usage.limitBytes);
        if (!over) continue;
        const limit = pod.spec.volumes?.find((v) => v.name === over.volume)?.emptyDir?.sizeLimit ?? over.limitBytes;
        const message = `Usage of EmptyDir volume "${over.volume}" exceeds the limit "${String(limit)}". `;
        this.#evicted.set(pod.metadata.uid, { reason: 'Evicted', message });
        this.#o.recorder.event({ kind: 'Pod', ...podRef(pod) }, 'Warning', 'Evicted', message);
        this.#log.info({ pod: pod.metadata.name, podUID: pod.metadata.uid, volume: over.volume, usedBytes: over.usedBytes }, 'evicting pod');
        this.#o.onEvict(pod);
      }
    } finally {
      this.#checking = false;
    }
  }
}
