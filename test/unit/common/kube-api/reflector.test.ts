import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { KubeApiError, type KubeApi, type RequestSettings, type WatchEvent } from '../../../../common/kube-api/kube-client.js';
import { Reflector } from '../../../../common/kube-api/reflector.js';
import { memoryLogger } from '../../../helpers/memory-logger.js';

interface Pod {
  metadata: { namespace?: string; name: string; resourceVersion: string };
}

interface PodList {
  metadata: { resourceVersion: string };
  items: Pod[];
}

/**
 * What a watch does after its events: the server ends it, it fails, or it stays open until
 * aborted; or it stays open for a while before it ends or fails.
 */
type Ending = 'end' | 'open' | Error | { afterMs: number; then: 'end' | Error };

interface Stream {
  events: Array<WatchEvent<Pod>>;
  then: Ending;
}

interface ListCall {
  path: string;
  query: RequestSettings['query'];
  timeoutMs: number | undefined;
}

interface WatchCall {
  path: string;
  query: RequestSettings['query'];
  signal: AbortSignal;
}

const pod = (namespace: string, name: string, resourceVersion: string): Pod => ({ metadata: { namespace, name, resourceVersion } });
const list = (resourceVersion: string, ...items: Pod[]): PodList => ({ metadata: { resourceVersion }, items });
const label = (p: Pod): string => `${p.metadata.namespace ?? ''}/${p.metadata.name}@${p.metadata.resourceVersion}`;
const gone = (): KubeApiError => new KubeApiError('GET', '/api/v1/pods', 410, JSON.stringify({ kind: 'Status', reason: 'Expired', message: 'too old resource version' }));
const unavailable = (): KubeApiError => new KubeApiError('GET', '/api/v1/pods', 503, JSON.stringify({ kind: 'Status', reason: 'ServiceUnavailable', message: 'down' }));

function untilAborted(signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (!signal || signal.aborted) return resolve();
    signal.addEventListener('abort', () => resolve(), { once: true });
  });
}

/**
 * LIST answers and WATCH streams in the order scripted; with none left, a list waits (and fails)
 * until aborted and a watch stays open until aborted. Every call and every set handed on is kept.
 */
class ListWatchApi implements KubeApi {
  readonly lists: ListCall[] = [];
  readonly watches: WatchCall[] = [];
  readonly syncs: string[][] = [];
  readonly #answers: Array<PodList | Error> = [];
  readonly #streams: Stream[] = [];
  readonly #waiters = new Set<{ ready: () => boolean; resolve: () => void }>();

  answer(...answers: Array<PodList | Error>): this {
    this.#answers.push(...answers);
    return this;
  }

  stream(...streams: Stream[]): this {
    this.#streams.push(...streams);
    return this;
  }

  sync(pods: Pod[]): void {
    this.syncs.push(pods.map(label));
    this.#changed();
  }

  /** Resolves once `ready()` holds. */
  until(ready: () => boolean): Promise<void> {
    if (ready()) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.add({ ready, resolve }));
  }

  async get<T>(path: string, settings?: Omit<RequestSettings, 'body' | 'contentType'>): Promise<T> {
    this.lists.push({ path, query: settings?.query, timeoutMs: settings?.timeoutMs });
    this.#changed();
    if (settings?.signal?.aborted) throw new Error('aborted');
    const answer = this.#answers.shift();
    if (answer === undefined) {
      await untilAborted(settings?.signal);
      throw new Error('aborted');
    }
    if (answer instanceof Error) throw answer;
    return structuredClone(answer) as T;
  }

  async watch<T>(path: string, query: RequestSettings['query'], onEvent: (event: WatchEvent<T>) => void, signal: AbortSignal): Promise<void> {
    this.watches.push({ path, query, signal });
    this.#changed();
    if (signal.aborted) throw new Error('aborted');
    const stream = this.#streams.shift() ?? { events: [], then: 'open' };
    for (const event of stream.events) onEvent(structuredClone(event) as unknown as WatchEvent<T>);
    let ending = stream.then;
    if (typeof ending === 'object' && !(ending instanceof Error)) {
      await new Promise((resolve) => setTimeout(resolve, (ending as { afterMs: number }).afterMs));
      ending = ending.then;
    }
    if (ending === 'open') return untilAborted(signal);
    if (ending instanceof Error) throw ending;
  }

  async create<T>(): Promise<T> {
    throw new Error('a reflector does not create');
  }

  async replace<T>(): Promise<T> {
    throw new Error('a reflector does not replace');
  }

  async patch<T>(): Promise<T> {
    throw new Error('a reflector does not patch');
  }

  async delete<T>(): Promise<T> {
    throw new Error('a reflector does not delete');
  }

  #changed(): void {
    for (const waiter of this.#waiters) {
      if (!waiter.ready()) continue;
      this.#waiters.delete(waiter);
      waiter.resolve();
    }
  }
}

const running: Array<Reflector<Pod>> = [];

function start(api: ListWatchApi, query?: Record<string, string>): Reflector<Pod> {
  const reflector = new Reflector<Pod>({
    client: api,
    path: '/api/v1/pods',
    ...(query ? { query } : {}),
    onSync: (pods) => api.sync(pods),
    logger: memoryLogger().logger,
  });
  running.push(reflector);
  reflector.start();
  return reflector;
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date', 'performance'] });
});

afterEach(async () => {
  await Promise.all(running.splice(0).map((reflector) => reflector.stop()));
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe('Reflector: list', () => {
  test('the first onSync gets the listed items; synced() resolves only once a list has succeeded', async () => {
    const api = new ListWatchApi().answer(unavailable(), list('10', pod('ns1', 'a', '7'), pod('ns1', 'b', '9')));
    const reflector = start(api);
    let synced = false;
    void reflector.synced().then(() => (synced = true));
    await api.until(() => api.lists.length === 1);
    await vi.advanceTimersByTimeAsync(799);
    expect(synced).toBe(false);
    expect(api.syncs).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    await reflector.synced();
    expect(api.syncs).toEqual([['ns1/a@7', 'ns1/b@9']]);
  });

  test('lists with the query, then watches from the list\'s resourceVersion with the query, bookmarks and a timeoutSeconds in [300, 600)', async () => {
    vi.spyOn(Math, 'random').mockReturnValueOnce(0).mockReturnValueOnce(0.9999);
    const api = new ListWatchApi().answer(list('10')).stream({ events: [], then: { afterMs: 300_000, then: 'end' } });
    start(api, { fieldSelector: 'spec.nodeName=n1', labelSelector: 'app=web' });
    await api.until(() => api.watches.length === 1);
    await vi.advanceTimersByTimeAsync(300_000);
    await api.until(() => api.watches.length === 2);
    expect(api.lists).toEqual([{ path: '/api/v1/pods', query: { fieldSelector: 'spec.nodeName=n1', labelSelector: 'app=web' }, timeoutMs: 60_000 }]);
    expect(api.watches.map(({ path, query }) => ({ path, query }))).toEqual([
      { path: '/api/v1/pods', query: { fieldSelector: 'spec.nodeName=n1', labelSelector: 'app=web', resourceVersion: '10', timeoutSeconds: 300, allowWatchBookmarks: true } },
      { path: '/api/v1/pods', query: { fieldSelector: 'spec.nodeName=n1', labelSelector: 'app=web', resourceVersion: '10', timeoutSeconds: 599, allowWatchBookmarks: true } },
    ]);
  });
});

describe('Reflector: watch events', () => {
  test('ADDED, MODIFIED and DELETED change the set handed on, keyed by namespace/name', async () => {
    const api = new ListWatchApi().answer(list('10', pod('ns1', 'a', '1'), pod('ns2', 'a', '2'))).stream({
      events: [
        { type: 'ADDED', object: pod('ns1', 'b', '11') },
        { type: 'MODIFIED', object: pod('ns1', 'a', '12') },
        { type: 'DELETED', object: pod('ns2', 'a', '13') },
      ],
      then: 'open',
    });
    start(api);
    await api.until(() => api.syncs.length === 4);
    expect(api.syncs).toEqual([
      ['ns1/a@1', 'ns2/a@2'],
      ['ns1/a@1', 'ns2/a@2', 'ns1/b@11'],
      ['ns1/a@12', 'ns2/a@2', 'ns1/b@11'],
      ['ns1/a@12', 'ns1/b@11'],
    ]);
  });

  test('a BOOKMARK hands nothing on, but the next watch starts from its resourceVersion', async () => {
    const api = new ListWatchApi().answer(list('10', pod('ns1', 'a', '1'))).stream({ events: [{ type: 'BOOKMARK', object: { metadata: { name: '', resourceVersion: '15' } } }], then: 'end' });
    start(api);
    await api.until(() => api.watches.length === 2);
    expect(api.syncs).toEqual([['ns1/a@1']]);
    expect(api.watches.map((call) => call.query?.['resourceVersion'])).toEqual(['10', '15']);
  });

  test('a watch the server ends is resumed from the last resourceVersion seen, without listing again', async () => {
    const api = new ListWatchApi().answer(list('10')).stream(
      {
        events: [
          { type: 'ADDED', object: pod('ns1', 'a', '11') },
          { type: 'MODIFIED', object: pod('ns1', 'a', '12') },
        ],
        then: 'end',
      },
      { events: [{ type: 'ADDED', object: pod('ns1', 'b', '13') }], then: 'end' },
    );
    start(api);
    await api.until(() => api.watches.length === 3);
    expect(api.lists).toHaveLength(1);
    expect(api.watches.map((call) => call.query?.['resourceVersion'])).toEqual(['10', '12', '13']);
    expect(api.syncs.at(-1)).toEqual(['ns1/a@12', 'ns1/b@13']);
  });
});

describe('Reflector: failures', () => {
  test('410 Gone from the watch lists again after the backoff, and the new list replaces the whole set', async () => {
    const api = new ListWatchApi()
      .answer(list('10', pod('ns1', 'a', '1'), pod('ns1', 'b', '2')), list('20', pod('ns1', 'a', '1')))
      .stream({ events: [{ type: 'ADDED', object: pod('ns1', 'c', '11') }], then: gone() });
    start(api);
    await api.until(() => api.watches.length === 1);
    await vi.advanceTimersByTimeAsync(799);
    expect(api.lists).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    await api.until(() => api.watches.length === 2);
    expect(api.lists).toHaveLength(2);
    expect(api.watches.map((call) => call.query?.['resourceVersion'])).toEqual(['10', '20']);
    expect(api.syncs).toEqual([['ns1/a@1', 'ns1/b@2'], ['ns1/a@1', 'ns1/b@2', 'ns1/c@11'], ['ns1/a@1']]);
  });

  test('410 after 410 waits longer each time: a version always gone is not listed in a loop', async () => {
    const api = new ListWatchApi().answer(list('10'), list('20'), list('30')).stream({ events: [], then: gone() }, { events: [], then: gone() });
    start(api);
    await api.until(() => api.watches.length === 1);
    await vi.advanceTimersByTimeAsync(800);
    await api.until(() => api.watches.length === 2);
    await vi.advanceTimersByTimeAsync(1599);
    expect(api.lists).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1);
    await api.until(() => api.lists.length === 3);
  });

  test('a watch that ends within a second with no event is a failure: listed again after the backoff, not watched again at once', async () => {
    const api = new ListWatchApi().answer(list('10'), list('20')).stream({ events: [], then: 'end' }, { events: [], then: { afterMs: 999, then: 'end' } });
    start(api);
    await api.until(() => api.watches.length === 1);
    await vi.advanceTimersByTimeAsync(799);
    expect([api.lists.length, api.watches.length]).toEqual([1, 1]);
    await vi.advanceTimersByTimeAsync(1);
    await api.until(() => api.watches.length === 2);
    expect(api.lists).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(999 + 1599);
    expect(api.lists).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1);
    await api.until(() => api.lists.length === 3);
  });

  test('a watch that ends within a second after an event is an ordinary end: watched again at once', async () => {
    const api = new ListWatchApi().answer(list('10')).stream({ events: [{ type: 'ADDED', object: pod('ns1', 'a', '11') }], then: 'end' });
    start(api);
    await api.until(() => api.watches.length === 2);
    expect(api.lists).toHaveLength(1);
  });

  test('another failure lists again after a backoff from 800 ms doubling to 30 s, handing nothing on meanwhile', async () => {
    const failures = Array.from({ length: 7 }, (_, i) => (i % 2 === 0 ? unavailable() : new Error('connect ECONNREFUSED')));
    const api = new ListWatchApi().answer(list('10', pod('ns1', 'a', '1')), ...failures, list('30', pod('ns1', 'b', '2'))).stream({ events: [], then: unavailable() });
    start(api);
    await api.until(() => api.watches.length === 1);
    for (const [i, waitMs] of [800, 1600, 3200, 6400, 12_800, 25_600, 30_000, 30_000].entries()) {
      await vi.advanceTimersByTimeAsync(waitMs - 1);
      expect(api.lists).toHaveLength(i + 1);
      await vi.advanceTimersByTimeAsync(1);
      await api.until(() => api.lists.length === i + 2);
    }
    expect(api.lists).toHaveLength(9);
    await api.until(() => api.syncs.length === 2);
    expect(api.syncs).toEqual([['ns1/a@1'], ['ns1/b@2']]);
  });

  test('the backoff doubles while failures keep coming, and starts again from 800 ms after 2 minutes without one', async () => {
    const api = new ListWatchApi()
      .answer(list('10'), unavailable(), list('20'), list('30'))
      .stream({ events: [], then: unavailable() }, { events: [], then: { afterMs: 120_000, then: unavailable() } });
    start(api);
    await api.until(() => api.watches.length === 1);
    await vi.advanceTimersByTimeAsync(800);
    await api.until(() => api.lists.length === 2);
    await vi.advanceTimersByTimeAsync(1600);
    await api.until(() => api.watches.length === 2);
    await vi.advanceTimersByTimeAsync(120_000 + 799);
    expect(api.lists).toHaveLength(3);
    await vi.advanceTimersByTimeAsync(1);
    await api.until(() => api.lists.length === 4);
  });
});

describe('Reflector: stop', () => {
  test('stop() aborts the open watch and ends the loop: nothing is called after it', async () => {
    const api = new ListWatchApi().answer(list('10'));
    const reflector = start(api);
    await api.until(() => api.watches.length === 1);
    expect(api.watches[0]!.signal.aborted).toBe(false);
    await reflector.stop();
    expect(api.watches[0]!.signal.aborted).toBe(true);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(api.lists).toHaveLength(1);
    expect(api.watches).toHaveLength(1);
  });

  test('stop() during a backoff ends it at once, without another list', async () => {
    const api = new ListWatchApi().answer(unavailable());
    const reflector = start(api);
    await api.until(() => api.lists.length === 1);
    await vi.advanceTimersByTimeAsync(400);
    await reflector.stop();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(api.lists).toHaveLength(1);
    expect(api.watches).toHaveLength(0);
  });
});
