/**
 * Kills one container as the kubelet does (kuberuntime_container.go killContainer):
 *   1. a Killing event;
 *   2. the preStop hook, if any and the grace period is not 0, given at most the grace period;
 *      what it took (whole seconds) is taken off the grace period; a failure is a
 *      FailedPreStopHook event ("PreStopHook failed": the kubelet keeps the hook's error out of
 *      events, where it could leak secrets), and the kill goes on;
 *   3. TERM, then KILL once what is left of the grace period has passed, never less than 2 s:
 *      a hook that used it all still leaves the container its 2 s to stop.
 * A kill given a `signal` stops waiting when it aborts (the agent stops, or the pod's own
 * termination takes over): it rejects, and the engine finishes what it was asked.
 */
import type { Logger } from 'pino';
import type { Container } from '../../common/api/types.js';
import { containerObject, type EventRecorder } from '../events/recorder.js';
import type { HandlerRunner } from '../lifecycle/handler-runner.js';
import { podLabel, type ContainerRuntime, type PodRef } from '../runtime/runtime.js';
import { delay, type Clock } from '../../common/util/clock.js';

/** The kubelet never gives a container less than this to stop (minimumGracePeriodInSeconds). */
export const MinimumGracePeriodSeconds = 2;

export interface KillTarget {
  pod: PodRef;
  containerId: string;
  /** The container's spec: from the pod, or restored from its labels when the pod is gone. */
  spec: Container;
  /** A sidecar or init container, for the events' field path. */
  init: boolean;
  podIP: string | undefined;
  gracePeriodSeconds: number;
  /** The Killing event's message; "Stopping container <name>" by default. */
  message?: string;
}

export class ContainerKiller {
  readonly #runtime: ContainerRuntime;
  readonly #hooks: HandlerRunner;
  readonly #recorder: EventRecorder;
  readonly #clock: Clock;
  readonly #log: Logger | undefined;

  /** `logger`, when given, gets the failed preStop hook's error, which the event leaves out. */
  constructor(options: { runtime: ContainerRuntime; hooks: HandlerRunner; recorder: EventRecorder; clock: Clock; logger?: Logger }) {
    this.#runtime = options.runtime;
    this.#hooks = options.hooks;
    this.#recorder = options.recorder;
    this.#clock = options.clock;
    this.#log = options.logger?.child({ component: 'container-killer' });
  }

  async kill(target: KillTarget, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    const { spec } = target;
    const object = containerObject(target.pod, spec.name, target.init);
    this.#recorder.event(object, 'Normal', 'Killing', target.message ?? `Stopping container ${spec.name}`);
    let grace = target.gracePeriodSeconds;
    const preStop = spec.lifecycle?.preStop;
    if (preStop && grace > 0) grace -= await this.#runPreStop(target, preStop, grace, signal);
    signal?.throwIfAborted();
    await this.#runtime.stopContainer(target.containerId, Math.max(grace, MinimumGracePeriodSeconds), signal);
  }

  /** Runs the hook for at most `graceSeconds`, or until `signal` aborts; returns the whole seconds it took. */
  async #runPreStop(target: KillTarget, preStop: NonNullable<NonNullable<Container['lifecycle']>['preStop']>, graceSeconds: number, signal?: AbortSignal): Promise<number> {
    const started = this.#clock.now();
    const expired = new AbortController();
    const cutShort = (): void => expired.abort();
    signal?.addEventListener('abort', cutShort, { once: true });
    const hook = this.#hooks
      .run(
        preStop,
        {
          container: target.spec,
          containerId: target.containerId,
          podIP: target.podIP,
          podLabel: podLabel(target.pod),
          object: containerObject(target.pod, target.spec.name, target.init),
        },
        expired.signal,
      )
      .catch((err: unknown) => {
        if (expired.signal.aborted) return;
        this.#log?.warn({ pod: podLabel(target.pod), container: target.spec.name, containerID: target.containerId.slice(0, 12), err }, 'preStop hook failed');
        this.#recorder.event(containerObject(target.pod, target.spec.name, target.init), 'Warning', 'FailedPreStopHook', 'PreStopHook failed');
      });
    await Promise.race([hook, delay(graceSeconds * 1000, expired.signal)]);
    expired.abort();
    signal?.removeEventListener('abort', cutShort);
    return Math.floor((this.#clock.now() - started) / 1000);
  }
}
