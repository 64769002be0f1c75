/**
 * Pod workers (pkg/kubelet/pod_workers.go): one serial worker per pod UID, so a pod's syncs
 * never overlap while different pods proceed in parallel. Updates that arrive while a sync
 * runs are coalesced into one more sync with the newest spec.
 *
 *            update              kill                  done                 done
 *   (new) ──────────► syncing ─────────► terminating ──────► terminated ──────► (gone)
 *     │                  ▲
 *     └──► waiting ──────┘  a static pod whose full name another pod still holds waits
 *                           until that pod is gone (as the kubelet's allowStaticPodStart)
 *
 * A sync asks for its next run (a backoff expiring); otherwise the pod is resynced every
 * resync interval. A sync that throws is retried with a capped exponential delay. A pod added
 * again while its previous life is terminating (same UID: its manifest was deleted and put
 * back) starts afresh once that termination is done, as the kubelet's restartRequested.
 */
import { setMaxListeners } from 'node:events';
import type { Logger } from 'pino';
import { isStaticPod } from '../../common/api/pod-helpers.js';
import { podFullName, type DefaultedPod } from '../../common/api/types.js';
import type { RunningPod } from '../runtime/runtime.js';

export type PodWorkerState = 'waiting' | 'syncing' | 'terminating' | 'terminated';

export interface TerminationRequest {
  uid: string;
  /** The spec, when the pod is known; a pod found only in the runtime has just its listing. */
  pod?: DefaultedPod;
  runningPod?: RunningPod;
  gracePeriodSeconds?: number;
}

export interface PodSyncHandlers {
  /** `signal` aborts when the pod is to be killed: the sync should stop waiting on anything long. */
  syncPod(pod: DefaultedPod, signal: AbortSignal): Promise<{ retryAfterMs?: number }>;
  /** `signal` aborts when the agent stops: the kills should stop being waited for. */
  syncTerminatingPod(request: TerminationRequest, signal: AbortSignal): Promise<void>;
  syncTerminatedPod(uid: string): Promise<void>;
}

/**
 * `create`: a source added the pod; `sync`: its spec changed, or the runtime changed under it;
 * `kill`: terminate it. Only a create brings back a pod whose termination is under way.
 */
export type PodWorkUpdate = { type: 'create' | 'sync'; pod: DefaultedPod } | ({ type: 'kill' } & TerminationRequest);

interface Worker {
  uid: string;
  fullName: string;
  isStatic: boolean;
  state: PodWorkerState;
  pod?: DefaultedPod;
  kill?: TerminationRequest;
  running: boolean;
  pending: boolean;
  /** Wanted again while terminating: start this spec once the termination is done. */
  restartWith?: DefaultedPod;
  /** Aborts the sync under way, when a kill comes (the kubelet cancels the sync's context). */
  syncAbort?: AbortController;
  timer?: NodeJS.Timeout;
  errorDelayMs: number;
  idle: Array<() => void>;
}

export interface PodWorkersOptions {
  handlers: PodSyncHandlers;
  /** syncFrequency: how often an idle pod is synced anyway. */
  resyncIntervalMs: number;
  logger: Logger;
}

const InitialErrorDelayMs = 1_000;
const MaxErrorDelayMs = 60_000;

export class PodWorkers {
  readonly #o: PodWorkersOptions;
  readonly #log: Logger;
  readonly #workers = new Map<string, Worker>();
  /** Static pod full name -> the UID allowed to run under it. */
  readonly #staticHolders = new Map<string, string>();
  #stopped = false;
  readonly #stopping = new AbortController();

  constructor(options: PodWorkersOptions) {
    this.#o = options;
    // Every kill under way listens on it: as many listeners as pods terminating at once.
    setMaxListeners(0, this.#stopping.signal);
    this.#log = options.logger.child({ component: 'pod-workers' });
  }

  update(update: PodWorkUpdate): void {
    if (this.#stopped) return;
    let worker = this.#workers.get(update.type === 'kill' ? update.uid : update.pod.metadata.uid);
    if (update.type !== 'kill') {
      if (!worker) worker = this.#create(update.pod);
      if (worker.kill) {
        if (update.type === 'create') worker.restartWith = update.pod;
        return;
      }
      worker.pod = update.pod;
    } else {
      if (!worker) worker = this.#createForKill(update);
      delete worker.restartWith;
      if (worker.state === 'terminated') return;
      worker.kill ??= update;
      worker.syncAbort?.abort();
    }
    void this.#process(worker);
  }

  /** Whether a worker exists for `uid` (in any state). */
  has(uid: string): boolean {
    return this.#workers.has(uid);
  }

  state(uid: string): PodWorkerState | undefined {
    return this.#workers.get(uid)?.state;
  }

  /** Resolves once `uid`'s worker has no sync running or queued (at once when there is no worker). */
  whenIdle(uid: string): Promise<void> {
    const worker = this.#workers.get(uid);
    if (!worker || (!worker.running && !worker.pending)) return Promise.resolve();
    return new Promise((resolve) => worker.idle.push(resolve));
  }

  /**
   * Stops scheduling, aborts the syncs and terminations under way and resolves once they have
   * ended, so that nothing acts on the runtime after the agent has stopped. That is prompt: a
   * kill under way stops being waited for (the kubelet does not wait for one on exit either; it
   * may take a pod's whole grace period), the engine finishes the container's stop, and the
   * next start finds the pod and finishes its termination.
   */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#stopping.abort();
    for (const worker of this.#workers.values()) {
      clearTimeout(worker.timer);
      worker.syncAbort?.abort();
    }
    await Promise.all([...this.#workers.keys()].map((uid) => this.whenIdle(uid)));
  }

  #create(pod: DefaultedPod): Worker {
    const worker = this.#newWorker(pod.metadata.uid, podFullName(pod), isStaticPod(pod));
    worker.pod = pod;
    if (worker.isStatic) {
      const holder = this.#staticHolders.get(worker.fullName);
      if (holder !== undefined && holder !== worker.uid && this.#workers.has(holder)) {
        worker.state = 'waiting';
        this.#log.info({ pod: worker.fullName, podUID: worker.uid, waitingFor: holder }, 'static pod waits for its previous instance to terminate');
      } else {
        this.#staticHolders.set(worker.fullName, worker.uid);
      }
    }
    return worker;
  }

  #createForKill(request: TerminationRequest): Worker {
    const ref = request.runningPod?.pod;
    const fullName = request.pod ? podFullName(request.pod) : `${ref?.namespace ?? ''}/${ref?.name ?? ''}`;
    const worker = this.#newWorker(request.uid, fullName, request.pod ? isStaticPod(request.pod) : false);
    worker.state = 'terminating';
    return worker;
  }

  #newWorker(uid: string, fullName: string, isStatic: boolean): Worker {
    const worker: Worker = { uid, fullName, isStatic, state: 'syncing', running: false, pending: false, errorDelayMs: InitialErrorDelayMs, idle: [] };
    this.#workers.set(uid, worker);
    return worker;
  }

  async #process(worker: Worker): Promise<void> {
    if (worker.running) {
      worker.pending = true;
      return;
    }
    worker.running = true;
    try {
      do {
        worker.pending = false;
        clearTimeout(worker.timer);
        await this.#step(worker);
      } while (worker.pending && !this.#stopped);
    } finally {
      worker.running = false;
      for (const resolve of worker.idle.splice(0)) resolve();
    }
  }

  async #step(worker: Worker): Promise<void> {
    if (worker.kill && (worker.state === 'syncing' || worker.state === 'waiting')) worker.state = 'terminating';
    switch (worker.state) {
      case 'waiting':
        return;
      case 'syncing':
        try {
          worker.syncAbort = new AbortController();
          const { retryAfterMs } = await this.#o.handlers.syncPod(worker.pod!, worker.syncAbort.signal);
          worker.errorDelayMs = InitialErrorDelayMs;
          this.#scheduleResync(worker, retryAfterMs ?? this.#o.resyncIntervalMs);
        } catch (err) {
          // Cut short on purpose: the pod's termination, or the agent's stop, takes it from here.
          if (worker.syncAbort?.signal.aborted) return;
          this.#log.error({ err, pod: worker.fullName, podUID: worker.uid }, 'sync failed; will retry');
          this.#scheduleResync(worker, worker.errorDelayMs);
          worker.errorDelayMs = Math.min(worker.errorDelayMs * 2, MaxErrorDelayMs);
        } finally {
          delete worker.syncAbort;
        }
        return;
      case 'terminating':
        try {
          await this.#o.handlers.syncTerminatingPod({ ...worker.kill!, uid: worker.uid, ...(worker.pod && !worker.kill?.pod ? { pod: worker.pod } : {}) }, this.#stopping.signal);
        } catch (err) {
          // The agent stops: the next start finishes the termination.
          if (this.#stopped) return;
          this.#log.error({ err, pod: worker.fullName, podUID: worker.uid }, 'terminating the pod failed; will retry');
          this.#scheduleResync(worker, worker.errorDelayMs);
          worker.errorDelayMs = Math.min(worker.errorDelayMs * 2, MaxErrorDelayMs);
          return;
        }
        worker.state = 'terminated';
        worker.pending = true;
        return;
      case 'terminated':
        try {
          await this.#o.handlers.syncTerminatedPod(worker.uid);
        } catch (err) {
          this.#log.error({ err, pod: worker.fullName, podUID: worker.uid }, 'cleaning up the pod failed; will retry');
          this.#scheduleResync(worker, worker.errorDelayMs);
          worker.errorDelayMs = Math.min(worker.errorDelayMs * 2, MaxErrorDelayMs);
          return;
        }
        this.#remove(worker);
        return;
    }
  }

  #scheduleResync(worker: Worker, delayMs: number): void {
    if (this.#stopped) return;
    clearTimeout(worker.timer);
    worker.timer = setTimeout(() => void this.#process(worker), delayMs);
    worker.timer.unref();
  }

  #remove(worker: Worker): void {
    clearTimeout(worker.timer);
    this.#workers.delete(worker.uid);
    if (this.#staticHolders.get(worker.fullName) === worker.uid) {
      this.#staticHolders.delete(worker.fullName);
      const next = [...this.#workers.values()].find((w) => w.state === 'waiting' && w.fullName === worker.fullName);
      if (next) {
        this.#staticHolders.set(next.fullName, next.uid);
        next.state = 'syncing';
        void this.#process(next);
      }
    }
    if (worker.restartWith) this.update({ type: 'create', pod: worker.restartWith });
  }
}
