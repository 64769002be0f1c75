/**
 * client-go's Reflector, for one collection: LIST, then WATCH from the list's resourceVersion,
 * keeping the objects by namespace/name and handing the whole set to `onSync` after the list and
 * after every event. A watch the server ends (its timeoutSeconds ran out) resumes from the last
 * resourceVersion seen. Anything else lists again after a backoff, as client-go's does: 410 Gone,
 * a failed call, or a watch that ended within a second with no event (a server that closes every
 * watch at once would otherwise be asked again in a tight loop). The backoff doubles from 800 ms
 * to 30 s and starts over after 2 minutes without one. Nothing is handed over while the API
 * server is away, so an outage never looks like an empty collection.
 */
import type { Logger } from 'pino';
import { errorMessage } from '../api/errors.js';
import { delay, monotonicClock, type Clock } from '../util/clock.js';
import { isApiGone, type KubeApi, type WatchEvent } from './kube-client.js';

export interface ListedObject {
  metadata?: { name?: string; namespace?: string; resourceVersion?: string };
}

interface List<T> {
  metadata?: { resourceVersion?: string };
  items: T[];
}

export interface ReflectorOptions<T> {
  client: KubeApi;
  /** The collection, such as /api/v1/pods. */
  path: string;
  /** Selectors and the like, on both the list and the watch. */
  query?: Record<string, string>;
  /** The whole current set, after the list and after each change. */
  onSync(objects: T[]): void;
  logger: Logger;
  /** Measuring watches and back-offs (default: the monotonic clock). */
  monotonic?: Clock;
}

const BackoffInitialMs = 800;
const BackoffMaxMs = 30_000;
const BackoffResetMs = 120_000;
/** A watch that ends sooner than this with no event at all is a failure, not a timeout. */
const ShortWatchMs = 1000;
/** A watch's timeoutSeconds is drawn from [min, 2 x min), as client-go's reflector does. */
const MinWatchTimeoutSeconds = 300;

const key = (object: ListedObject): string => `${object.metadata?.namespace ?? ''}/${object.metadata?.name ?? ''}`;

export class Reflector<T extends ListedObject> {
  readonly #options: ReflectorOptions<T>;
  readonly #monotonic: Clock;
  readonly #stop = new AbortController();
  readonly #store = new Map<string, T>();
  #loop: Promise<void> | undefined;
  readonly #synced: Promise<void>;
  #markSynced!: () => void;

  constructor(options: ReflectorOptions<T>) {
    this.#options = options;
    this.#monotonic = options.monotonic ?? monotonicClock;
    this.#synced = new Promise((resolve) => (this.#markSynced = resolve));
  }

  /** Resolves once a list has succeeded (and its set was handed on). */
  synced(): Promise<void> {
    return this.#synced;
  }

  start(): void {
    this.#loop ??= this.#run(this.#stop.signal);
  }

  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#loop;
  }

  async #run(signal: AbortSignal): Promise<void> {
    const { logger, path } = this.#options;
    let backoffMs = 0;
    let lastBackoffAt = -Infinity;
    while (!signal.aborted) {
      try {
        let resourceVersion = await this.#list(signal);
        // Watch on from the last version seen until the version is gone or a watch fails.
        for (;;) {
          resourceVersion = await this.#watch(resourceVersion, signal);
          if (signal.aborted) return;
        }
      } catch (err) {
        if (signal.aborted) return;
        const startedAt = this.#monotonic.now();
        backoffMs = startedAt - lastBackoffAt > BackoffResetMs ? BackoffInitialMs : Math.min(backoffMs * 2, BackoffMaxMs);
        lastBackoffAt = startedAt;
        if (isApiGone(err)) logger.info({ path, listInMs: backoffMs }, 'watch version too old: will list again');
        else logger.warn({ path, err: errorMessage(err), retryInMs: backoffMs }, 'list/watch failed, will retry');
        await delay(backoffMs, signal);
      }
    }
  }

  async #list(signal: AbortSignal): Promise<string> {
    const list = await this.#options.client.get<List<T>>(this.#options.path, { ...(this.#options.query ? { query: this.#options.query } : {}), signal, timeoutMs: 60_000 });
    this.#store.clear();
    for (const item of list.items) this.#store.set(key(item), item);
    this.#options.onSync([...this.#store.values()]);
    this.#markSynced();
    return list.metadata?.resourceVersion ?? '';
  }

  /**
   * One watch request; resolves with the last resourceVersion seen when the server ends it,
   * rejects when it fails or was very short.
   */
  async #watch(from: string, signal: AbortSignal): Promise<string> {
    let resourceVersion = from;
    let events = 0;
    const startedAt = this.#monotonic.now();
    const timeoutSeconds = Math.floor(MinWatchTimeoutSeconds * (1 + Math.random()));
    await this.#options.client.watch<T>(
      this.#options.path,
      { ...this.#options.query, resourceVersion, timeoutSeconds, allowWatchBookmarks: true },
      (event: WatchEvent<T>) => {
        events++;
        resourceVersion = event.object.metadata?.resourceVersion ?? resourceVersion;
        if (event.type === 'BOOKMARK') return;
        if (event.type === 'DELETED') this.#store.delete(key(event.object));
        else this.#store.set(key(event.object), event.object);
        this.#options.onSync([...this.#store.values()]);
      },
      signal,
    );
    const lastedMs = this.#monotonic.now() - startedAt;
    if (events === 0 && lastedMs < ShortWatchMs && !signal.aborted) {
      throw new Error(`very short watch: the server ended it after ${Math.round(lastedMs)} ms with no event`);
    }
    return resourceVersion;
  }
}
