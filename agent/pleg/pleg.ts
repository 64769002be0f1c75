/**
 * The pod lifecycle event generator (pkg/kubelet/pleg): turns what happens in the runtime into
 * per-pod events for the pod workers. Docker's event stream makes it immediate; a periodic
 * relist (every second while the stream is down, every relistPeriod while it is up) catches
 * anything the stream missed, and a relist right after every reconnect. Each event marks its pod
 * changed in the pod cache before any listener hears of it, so that the sync it causes reads
 * the runtime afresh; losing the stream marks every pod.
 */
import type { Logger } from 'pino';
import type { ContainerRuntime, RunningPod, RuntimeContainerState, RuntimeEvent } from '../runtime/runtime.js';
import type { Clock } from '../../common/util/clock.js';
import { CoalescingRunner } from '../../common/util/coalescing-runner.js';
import type { PodCache } from './pod-cache.js';

export type PodLifecycleEventType = 'ContainerStarted' | 'ContainerDied' | 'ContainerRemoved' | 'ContainerChanged';

export interface PodLifecycleEvent {
  podUID: string;
  type: PodLifecycleEventType;
  containerId: string;
}

export type PodLifecycleEventListener = (event: PodLifecycleEvent) => void;

export interface PlegOptions {
  runtime: ContainerRuntime;
  cache: PodCache;
  /** Relist period while Docker's event stream is up. */
  relistPeriodMs: number;
  /** Relist period while it is down. */
  fallbackRelistPeriodMs: number;
  clock: Clock;
  logger: Logger;
}

type RecordState = RuntimeContainerState | 'sandbox-ready' | 'sandbox-notready';

export class GenericPleg {
  readonly #o: PlegOptions;
  readonly #log: Logger;
  readonly #listeners: PodLifecycleEventListener[] = [];
  /** podUID -> containerId -> last state seen. */
  #records = new Map<string, Map<string, RecordState>>();
  #runningPods: RunningPod[] = [];
  #lastRelist = 0;
  #streamUp = false;
  #timer: NodeJS.Timeout | undefined;
  #stopEvents: (() => void) | undefined;
  readonly #relister = new CoalescingRunner(() => this.#relistOnce());
  #stopped = false;

  constructor(options: PlegOptions) {
    this.#o = options;
    this.#log = options.logger.child({ component: 'pleg' });
  }

  onEvent(listener: PodLifecycleEventListener): void {
    this.#listeners.push(listener);
  }

  /** Lists once (so the caller knows what runs), then follows events and relists periodically. */
  async start(): Promise<void> {
    await this.relist();
    if (this.#stopped) return;
    this.#stopEvents = this.#o.runtime.watchEvents({
      onEvent: (event) => this.#onRuntimeEvent(event),
      onConnected: () => {
        this.#streamUp = true;
        this.#log.debug('following Docker events');
        void this.relist();
      },
      onDisconnected: (err) => {
        if (this.#streamUp) this.#log.warn({ err }, 'lost the Docker event stream; relisting every second until it is back');
        this.#streamUp = false;
        this.#o.cache.markAllChanged();
      },
    });
    this.#schedule();
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#stopEvents?.();
    void this.#relister.stop();
  }

  /** The last listing: every pod that has containers on this node. */
  runningPods(): readonly RunningPod[] {
    return this.#runningPods;
  }

  /** When the last relist completed (ms), for the health check. */
  lastRelistTime(): number {
    return this.#lastRelist;
  }

  /** Relists now; concurrent calls share one relist and queue at most one more. */
  relist(): Promise<void> {
    return this.#relister.run();
  }

  #schedule(): void {
    if (this.#stopped) return;
    const period = this.#streamUp ? this.#o.relistPeriodMs : this.#o.fallbackRelistPeriodMs;
    this.#timer = setTimeout(() => {
      void this.relist().finally(() => this.#schedule());
    }, period);
    this.#timer.unref();
  }

  async #relistOnce(): Promise<void> {
    let pods: RunningPod[];
    try {
      pods = await this.#o.runtime.listPods();
    } catch (err) {
      this.#log.warn({ err }, 'relist failed');
      return;
    }
    const next = new Map<string, Map<string, RecordState>>();
    for (const pod of pods) {
      const states = new Map<string, RecordState>();
      for (const sandbox of pod.sandboxes) states.set(sandbox.id, sandbox.state === 'ready' ? 'sandbox-ready' : 'sandbox-notready');
      for (const container of pod.containers) states.set(container.id, container.state);
      next.set(pod.pod.uid, states);
    }
    const events: PodLifecycleEvent[] = [];
    for (const uid of new Set([...this.#records.keys(), ...next.keys()])) {
      const before = this.#records.get(uid) ?? new Map<string, RecordState>();
      const after = next.get(uid) ?? new Map<string, RecordState>();
      for (const id of new Set([...before.keys(), ...after.keys()])) {
        for (const type of transition(before.get(id), after.get(id))) events.push({ podUID: uid, type, containerId: id });
      }
    }
    this.#records = next;
    this.#runningPods = pods;
    this.#lastRelist = this.#o.clock.now();
    for (const event of events) this.#emit(event);
  }

  #onRuntimeEvent(event: RuntimeEvent): void {
    const states = this.#records.get(event.podUID) ?? new Map<string, RecordState>();
    this.#records.set(event.podUID, states);
    const sandbox = event.containerName === 'POD';
    const type: PodLifecycleEventType | undefined = {
      created: undefined,
      started: 'ContainerStarted' as const,
      died: 'ContainerDied' as const,
      removed: 'ContainerRemoved' as const,
    }[event.type];
    if (event.type === 'removed') states.delete(event.containerId);
    else if (event.type === 'started') states.set(event.containerId, sandbox ? 'sandbox-ready' : 'running');
    else if (event.type === 'died') states.set(event.containerId, sandbox ? 'sandbox-notready' : 'exited');
    else states.set(event.containerId, 'created');
    if (type) this.#emit({ podUID: event.podUID, type, containerId: event.containerId });
    // A container made, not started: no lifecycle event, but the pod is not what was read before.
    else this.#o.cache.markChanged(event.podUID);
  }

  #emit(event: PodLifecycleEvent): void {
    this.#o.cache.markChanged(event.podUID);
    for (const listener of this.#listeners) listener(event);
  }
}

/** The events one container's change of state between two relists means (generic.go generateEvents). */
function transition(before: RecordState | undefined, after: RecordState | undefined): PodLifecycleEventType[] {
  if (before === after) return [];
  if (after === undefined) {
    // Gone: if it was not seen to die first, it died too.
    return before === 'exited' || before === 'sandbox-notready' ? ['ContainerRemoved'] : ['ContainerDied', 'ContainerRemoved'];
  }
  if (after === 'running' || after === 'sandbox-ready') return ['ContainerStarted'];
  if (after === 'exited' || after === 'sandbox-notready') return ['ContainerDied'];
  return ['ContainerChanged'];
}
