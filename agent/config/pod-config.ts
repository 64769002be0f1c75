/**
 * Pod config: merges the sources (file, http, api) into one desired set of pods and tells
 * listeners what changed, as ADD / UPDATE / REMOVE (pkg/kubelet/config/config.go).
 *
 * Every source reports its whole current set (a SET): the merge diffs it against what that
 * source said last time. A source that has reported once is "seen", even if its set is
 * empty; only when every source is seen may the agent treat unknown pods as orphans.
 */
import type { Logger } from 'pino';
import { ConfigSeenAnnotation, type PodSource } from '../../common/api/well-known.js';
import { podFullName, type DefaultedPod } from '../../common/api/types.js';
import type { Clock } from '../../common/util/clock.js';

export type PodOperation = 'ADD' | 'UPDATE' | 'REMOVE';

export interface PodUpdate {
  op: PodOperation;
  source: PodSource;
  pods: DefaultedPod[];
}

export type PodUpdateListener = (update: PodUpdate) => void;

interface Entry {
  pod: DefaultedPod;
  /** Content fingerprint without the seen annotation: equal fingerprints -> no UPDATE. */
  fingerprint: string;
}

export class PodConfig {
  readonly #bySource = new Map<PodSource, Map<string, Entry>>();
  readonly #listeners: PodUpdateListener[] = [];
  readonly #clock: Clock;
  readonly #log: Logger;

  constructor(options: { clock: Clock; logger: Logger }) {
    this.#clock = options.clock;
    this.#log = options.logger.child({ component: 'pod-config' });
  }

  onUpdate(listener: PodUpdateListener): void {
    this.#listeners.push(listener);
  }

  /** Replaces `source`'s whole set with `pods`. */
  set(source: PodSource, pods: readonly DefaultedPod[]): void {
    const previous = this.#bySource.get(source) ?? new Map<string, Entry>();
    const next = new Map<string, Entry>();
    const added: DefaultedPod[] = [];
    const updated: DefaultedPod[] = [];
    const takenNames = this.#fullNamesOutside(source);
    for (const pod of pods) {
      const uid = pod.metadata.uid;
      const fullName = podFullName(pod);
      const holder = takenNames.get(fullName);
      if (holder !== undefined && holder !== uid) {
        this.#log.error({ pod: fullName, source }, `pod ${fullName} is declared twice; keeping the first, ignoring the one from ${source}`);
        continue;
      }
      takenNames.set(fullName, uid);
      const fingerprint = JSON.stringify(pod);
      const known = previous.get(uid);
      if (known?.fingerprint === fingerprint) {
        next.set(uid, known);
        continue;
      }
      const seen = known?.pod.metadata.annotations?.[ConfigSeenAnnotation] ?? new Date(this.#clock.now()).toISOString();
      const withSeen: DefaultedPod = {
        ...pod,
        metadata: { ...pod.metadata, annotations: { ...pod.metadata.annotations, [ConfigSeenAnnotation]: seen } },
      };
      next.set(uid, { pod: withSeen, fingerprint });
      (known ? updated : added).push(withSeen);
    }
    const removed = [...previous].filter(([uid]) => !next.has(uid)).map(([, entry]) => entry.pod);
    this.#bySource.set(source, next);
    this.#emit({ op: 'REMOVE', source, pods: removed });
    this.#emit({ op: 'ADD', source, pods: added });
    this.#emit({ op: 'UPDATE', source, pods: updated });
  }

  /** True once every source in `sources` has reported at least one set. */
  seenAll(sources: readonly PodSource[]): boolean {
    return sources.every((source) => this.#bySource.has(source));
  }

  /** Every desired pod, across sources. */
  pods(): DefaultedPod[] {
    return [...this.#bySource.values()].flatMap((entries) => [...entries.values()].map((entry) => entry.pod));
  }

  pod(uid: string): DefaultedPod | undefined {
    for (const entries of this.#bySource.values()) {
      const entry = entries.get(uid);
      if (entry) return entry.pod;
    }
    return undefined;
  }

  #fullNamesOutside(source: PodSource): Map<string, string> {
    const names = new Map<string, string>();
    for (const [other, entries] of this.#bySource) {
      if (other === source) continue;
      for (const [uid, entry] of entries) names.set(podFullName(entry.pod), uid);
    }
    return names;
  }

  #emit(update: PodUpdate): void {
    if (update.pods.length === 0) return;
    for (const pod of update.pods) this.#log.info({ pod: podFullName(pod), podUID: pod.metadata.uid, source: update.source }, `${update.op} pod`);
    for (const listener of this.#listeners) listener(update);
  }
}
