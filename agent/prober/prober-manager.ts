/**
 * The prober manager (pkg/kubelet/prober/prober_manager.go): one worker per (pod, container,
 * probe type) for every app container and sidecar with a probe. It never blocks a pod's sync:
 * workers run on their own timers, and what they find reaches the agent as result updates.
 *
 * Readers:
 * - the status builder asks containerHealth(): started and ready, as UpdatePodStatus sets them
 *   (a container that is not started is never ready; no probe means started once running and
 *   ready once started; a readiness result other than Success triggers a probe at once);
 * - the sync decision asks failedProbe(): a container whose liveness or startup probe failed is
 *   killed and restarted per the pod's restart policy.
 */
import type { Logger } from 'pino';
import type { Container, DefaultedPod, PodStatus } from '../../common/api/types.js';
import { isSidecar } from '../../common/api/pod-helpers.js';
import type { EventRecorder } from '../events/recorder.js';
import type { RuntimeContainerStatus } from '../runtime/runtime.js';
import type { ContainerRuntime } from '../runtime/runtime.js';
import type { ContainerHealth } from '../status/generate-pod-status.js';
import type { Clock } from '../../common/util/clock.js';
import { ProbeWorker, type ProbeCounter, type ProbeWorkerContext } from './probe-worker.js';
import { Prober, probeSpec } from './prober.js';
import { ProbeResults, type ProbeResultUpdate, type ProbeType } from './results.js';

export interface ProberManagerOptions {
  runtime: ContainerRuntime;
  recorder: EventRecorder;
  podStatus(uid: string): PodStatus | undefined;
  isTerminating(uid: string): boolean;
  counter: ProbeCounter;
  clock: Clock;
  logger: Logger;
  random?: () => number;
}

const ProbeTypes: readonly ProbeType[] = ['startup', 'liveness', 'readiness'];

export class ProberManager {
  readonly #workers = new Map<string, ProbeWorker>();
  readonly #listeners: Array<(update: ProbeResultUpdate) => void> = [];
  readonly #results: Record<ProbeType, ProbeResults>;
  readonly #ctx: ProbeWorkerContext;
  readonly #log: Logger;

  constructor(options: ProberManagerOptions) {
    this.#log = options.logger.child({ component: 'prober' });
    const emit = (update: ProbeResultUpdate): void => {
      this.#log.debug(update, 'probe result changed');
      for (const listener of this.#listeners) listener(update);
    };
    this.#results = {
      liveness: new ProbeResults('liveness', emit),
      readiness: new ProbeResults('readiness', emit),
      startup: new ProbeResults('startup', emit),
    };
    const prober = new Prober({ runtime: options.runtime, recorder: options.recorder });
    this.#ctx = {
      podStatus: options.podStatus,
      probe: (probeType, target) => prober.probe(probeType, target),
      isTerminating: options.isTerminating,
      results: this.#results,
      counter: options.counter,
      clock: options.clock,
      startedAt: options.clock.now(),
      random: options.random ?? Math.random,
      onStopped: (worker) => {
        const key = workerKey(worker.pod.metadata.uid, worker.container.name, worker.probeType);
        if (this.#workers.get(key) === worker) this.#workers.delete(key);
      },
    };
  }

  /** Called with every change of a probe result. */
  onUpdate(listener: (update: ProbeResultUpdate) => void): void {
    this.#listeners.push(listener);
  }

  /** Starts the workers of `pod`'s probes that are not running yet (AddPod). */
  addPod(pod: DefaultedPod): void {
    for (const container of probedContainers(pod)) {
      for (const probeType of ProbeTypes) {
        if (!probeSpec(container, probeType)) continue;
        const key = workerKey(pod.metadata.uid, container.name, probeType);
        if (this.#workers.has(key)) continue;
        const worker = new ProbeWorker(this.#ctx, probeType, pod, container);
        this.#workers.set(key, worker);
        worker.start();
      }
    }
  }

  /** A terminating pod: liveness and startup stop, forgetting their results; readiness goes on. */
  stopLivenessAndStartup(uid: string): void {
    for (const worker of this.#podWorkers(uid)) {
      if (worker.probeType !== 'readiness') worker.stop();
    }
  }

  /** Stops every worker of the pod (RemovePod). */
  removePod(uid: string): void {
    for (const worker of this.#podWorkers(uid)) worker.stop();
  }

  stop(): void {
    for (const worker of [...this.#workers.values()]) worker.stop();
  }

  /** Started and ready, for the status builder (UpdatePodStatus). */
  readonly containerHealth: ContainerHealth = (container: RuntimeContainerStatus) => {
    if (container.state !== 'running') return { started: false, ready: false };
    const startup = this.#results.startup.get(container.id);
    const started = startup !== undefined ? startup === 'Success' : !this.#workers.has(workerKey(container.pod.uid, container.name, 'startup'));
    if (!started) return { started, ready: false };
    if (this.#results.readiness.get(container.id) === 'Success') return { started, ready: true };
    // Not ready yet (no result, the initial Failure, or a failure): probe at once, so that a
    // container that just passed its startup probe turns ready without waiting a whole period.
    const readiness = this.#workers.get(workerKey(container.pod.uid, container.name, 'readiness'));
    readiness?.trigger();
    return { started, ready: readiness === undefined };
  };

  /** The probe whose failure means the container must be killed, if any. */
  failedProbe(containerId: string): 'liveness' | 'startup' | undefined {
    if (this.#results.liveness.get(containerId) === 'Failure') return 'liveness';
    if (this.#results.startup.get(containerId) === 'Failure') return 'startup';
    return undefined;
  }

  #podWorkers(uid: string): ProbeWorker[] {
    return [...this.#workers.values()].filter((worker) => worker.pod.metadata.uid === uid);
  }
}

/** App containers and sidecars: the containers that can have probes. */
function probedContainers(pod: DefaultedPod): Container[] {
  return [...pod.spec.containers, ...(pod.spec.initContainers ?? []).filter(isSidecar)];
}

function workerKey(uid: string, container: string, probeType: ProbeType): string {
  return `${uid}/${container}/${probeType}`;
}
