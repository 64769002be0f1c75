/**
 * One probe of one container of one pod, run every periodSeconds (pkg/kubelet/prober/worker.go).
 * Each run reads the pod's latest status and decides, in the kubelet's order:
 *
 *   no status, or container not created yet ............ wait
 *   pod Succeeded/Failed ................................ stop
 *   a new container ID .................................. result := initial value, hold released
 *   on hold (after a liveness/startup failure) .......... wait for the next container
 *   container not running ............................... Failure; stop if it will not restart
 *   pod terminating (liveness, startup) ................. Success, then stop
 *   within initialDelaySeconds .......................... wait
 *   started: startup waits; not started: only startup runs
 *   probe ............................................... an error is discarded; a result counts
 *                                                         once failureThreshold / successThreshold
 *                                                         runs in a row agree
 *
 * Initial results: readiness Failure, liveness Success, startup Unknown.
 */
import { isTerminalPhase } from '../../common/api/pod-helpers.js';
import type { Container, ContainerStatus, DefaultedPod, PodStatus, Probe } from '../../common/api/types.js';
import type { Clock } from '../../common/util/clock.js';
import type { ProbeTarget } from './prober.js';
import { probeSpec, probeTypeName } from './prober.js';
import type { ProbeResult, ProbeResults, ProbeType } from './results.js';

export interface ProbeMetricLabels {
  probe_type: string;
  container: string;
  pod: string;
  namespace: string;
  pod_uid: string;
}

export type ProbeMetricResult = 'successful' | 'failed' | 'unknown';

/** prober_probe_total, as far as a worker needs it (prom-client's Counter fits). */
export interface ProbeCounter {
  inc(labels: ProbeMetricLabels & { result: ProbeMetricResult }): void;
  remove(labels: ProbeMetricLabels & { result: ProbeMetricResult }): void;
}

export interface ProbeWorkerContext {
  podStatus(uid: string): PodStatus | undefined;
  probe(probeType: ProbeType, target: ProbeTarget): Promise<ProbeResult>;
  /** Whether the pod is being terminated: liveness and startup stop, readiness goes on. */
  isTerminating(uid: string): boolean;
  results: Readonly<Record<ProbeType, ProbeResults>>;
  counter: ProbeCounter;
  clock: Clock;
  /** When the prober manager started: workers started soon after wait a random part of a period. */
  startedAt: number;
  random(): number;
  /** Called once when the worker has stopped for good. */
  onStopped(worker: ProbeWorker): void;
}

const InitialResult: Record<ProbeType, ProbeResult> = { readiness: 'Failure', liveness: 'Success', startup: 'Unknown' };
const MetricResult: Record<ProbeResult, ProbeMetricResult> = { Success: 'successful', Failure: 'failed', Unknown: 'unknown' };

export class ProbeWorker {
  readonly probeType: ProbeType;
  readonly pod: DefaultedPod;
  readonly container: Container;
  readonly #spec: Probe;
  readonly #ctx: ProbeWorkerContext;
  readonly #labels: ProbeMetricLabels;
  #containerId: string | undefined;
  #lastResult: ProbeResult | undefined;
  #resultRun = 0;
  #onHold = false;
  #running = false;
  #stopped = false;
  #timer: NodeJS.Timeout | undefined;

  constructor(ctx: ProbeWorkerContext, probeType: ProbeType, pod: DefaultedPod, container: Container) {
    const spec = probeSpec(container, probeType);
    if (!spec) throw new Error(`container ${container.name} has no ${probeType} probe`);
    this.#ctx = ctx;
    this.probeType = probeType;
    this.pod = pod;
    this.container = container;
    this.#spec = spec;
    this.#labels = {
      probe_type: probeTypeName(probeType),
      container: container.name,
      pod: pod.metadata.name,
      namespace: pod.metadata.namespace,
      pod_uid: pod.metadata.uid,
    };
  }

  /** Starts the loop: at once, or after a random part of a period when the manager just started. */
  start(): void {
    const periodMs = this.#periodMs();
    const sinceStart = this.#ctx.clock.now() - this.#ctx.startedAt;
    const jitterMs = periodMs > sinceStart ? Math.floor(this.#ctx.random() * periodMs) : 0;
    this.#timer = setTimeout(() => {
      void this.#tick();
      this.#timer = setInterval(() => void this.#tick(), periodMs);
      this.#timer.unref();
    }, jitterMs);
    this.#timer.unref();
  }

  /**
   * Probes in a moment, unless a probe is running then (the kubelet's manual trigger). Not
   * synchronously: the trigger comes while a status is being built, and the probe must read
   * that status (a container just marked started), not the one before it.
   */
  trigger(): void {
    if (this.#stopped) return;
    setImmediate(() => void this.#tick()).unref();
  }

  /** Idempotent. Forgets this worker's result and metrics. */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    clearTimeout(this.#timer);
    clearInterval(this.#timer);
    if (this.#containerId !== undefined) this.#results().remove(this.#containerId);
    for (const result of Object.values(MetricResult)) this.#ctx.counter.remove({ ...this.#labels, result });
    this.#ctx.onStopped(this);
  }

  async #tick(): Promise<void> {
    if (this.#running || this.#stopped) return;
    this.#running = true;
    let keepGoing = true;
    try {
      keepGoing = await this.doProbe();
    } catch {
      // A run that blew up is not a reason to stop probing (the kubelet's HandleCrash: keepGoing).
    } finally {
      this.#running = false;
    }
    if (!keepGoing) this.stop();
  }

  /** One run; returns whether the worker should go on. */
  async doProbe(): Promise<boolean> {
    const uid = this.pod.metadata.uid;
    const status = this.#ctx.podStatus(uid);
    if (!status) return true;
    if (isTerminalPhase(status.phase)) return false;
    const found = this.#containerStatus(status);
    if (!found?.status.containerID) return true;
    const { status: c, init } = found;
    const containerId = c.containerID!.replace(/^[a-z]+:\/\//, '');
    const results = this.#results();

    if (this.#containerId !== containerId) {
      if (this.#containerId !== undefined) results.remove(this.#containerId);
      this.#containerId = containerId;
      results.set(containerId, InitialResult[this.probeType], uid);
      this.#onHold = false;
    }
    if (this.#onHold) return true;

    if (!c.state?.running) {
      results.set(containerId, 'Failure', uid);
      return c.state?.terminated === undefined || this.pod.spec.restartPolicy !== 'Never';
    }
    if (this.probeType !== 'readiness' && this.#ctx.isTerminating(uid)) {
      results.set(containerId, 'Success', uid);
      return false;
    }
    // Whole seconds, truncated as Go's int32() does; no startedAt is Go's zero time: long ago.
    const startedAt = c.state.running.startedAt ? Date.parse(c.state.running.startedAt) : 0;
    if (Math.trunc((this.#ctx.clock.now() - startedAt) / 1000) < (this.#spec.initialDelaySeconds ?? 0)) return true;
    if (c.started === true ? this.probeType === 'startup' : this.probeType !== 'startup') return true;

    let result: ProbeResult;
    try {
      result = await this.#ctx.probe(this.probeType, { pod: this.pod, status, container: this.container, containerId, init });
    } catch {
      return true;
    }
    if (this.#stopped) return false;
    this.#ctx.counter.inc({ ...this.#labels, result: MetricResult[result] });

    if (this.#lastResult === result) this.#resultRun += 1;
    else {
      this.#lastResult = result;
      this.#resultRun = 1;
    }
    if (
      (result === 'Failure' && this.#resultRun < (this.#spec.failureThreshold ?? 3)) ||
      (result === 'Success' && this.#resultRun < (this.#spec.successThreshold ?? 1))
    ) {
      return true;
    }
    results.set(containerId, result, uid);
    if (this.probeType !== 'readiness' && result === 'Failure') {
      // The container will be killed: stop probing it until a new one appears.
      this.#onHold = true;
      this.#resultRun = 0;
    }
    return true;
  }

  #results(): ProbeResults {
    return this.#ctx.results[this.probeType];
  }

  #periodMs(): number {
    return (this.#spec.periodSeconds ?? 10) * 1000;
  }

  #containerStatus(status: PodStatus): { status: ContainerStatus; init: boolean } | undefined {
    const app = status.containerStatuses?.find((c) => c.name === this.container.name);
    if (app?.containerID) return { status: app, init: false };
    const init = status.initContainerStatuses?.find((c) => c.name === this.container.name);
    return init?.containerID ? { status: init, init: true } : undefined;
  }
}
