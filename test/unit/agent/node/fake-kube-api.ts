/**
 * An in-memory stand-in for the API server's object store, enough for the node's status and
 * Lease logic: objects by path, resourceVersions, 404/409 as the server answers them, every
 * call recorded, and failures injected on demand.
 */
import { KubeApiError, type KubeApi } from '../../../../common/kube-api/kube-client.js';

export interface Call {
  verb: 'get' | 'create' | 'replace' | 'patch' | 'delete';
  path: string;
  body?: unknown;
  /** A get's query (selectors of a list). */
  query?: Record<string, unknown>;
}

type Stored = { metadata?: { name?: string; resourceVersion?: string; uid?: string; labels?: Record<string, string> } } & Record<string, unknown>;

export class FakeKubeApi implements KubeApi {
  readonly objects = new Map<string, Stored>();
  readonly calls: Call[] = [];
  /** Errors thrown by the next calls, in order, before the store is touched. */
  readonly failures: Error[] = [];
  /** Errors thrown by the next calls of one verb, in order, before the store is touched. */
  readonly failuresOf = new Map<Call['verb'], Error[]>();
  #version = 0;

  async get<T>(path: string, settings?: { query?: Record<string, unknown> }): Promise<T> {
    this.#record({ verb: 'get', path, ...(settings?.query ? { query: settings.query } : {}) });
    const found = this.objects.get(path);
    if (!found) throw new KubeApiError('GET', path, 404, JSON.stringify({ kind: 'Status', reason: 'NotFound', message: `${path} not found` }));
    return structuredClone(found) as T;
  }

  async create<T>(path: string, body: T): Promise<T> {
    this.#record({ verb: 'create', path, body });
    const object = structuredClone(body) as Stored;
    const at = `${path}/${object.metadata!.name!}`;
    if (this.objects.has(at)) throw new KubeApiError('POST', path, 409, JSON.stringify({ kind: 'Status', reason: 'AlreadyExists', message: 'already exists' }));
    object.metadata = { ...object.metadata, uid: `uid-${object.metadata!.name!}`, resourceVersion: this.#nextVersion() };
    this.objects.set(at, object);
    return structuredClone(object) as T;
  }

  async replace<T>(path: string, body: T): Promise<T> {
    this.#record({ verb: 'replace', path, body });
    const current = this.objects.get(path);
    const object = structuredClone(body) as Stored;
    if (!current) throw new KubeApiError('PUT', path, 404, '');
    if (object.metadata?.resourceVersion !== current.metadata?.resourceVersion) throw new KubeApiError('PUT', path, 409, JSON.stringify({ kind: 'Status', reason: 'Conflict', message: 'the object has been modified' }));
    object.metadata = { ...object.metadata, resourceVersion: this.#nextVersion() };
    this.objects.set(path, object);
    return structuredClone(object) as T;
  }

  async patch<T>(path: string, patch: unknown): Promise<T> {
    this.#record({ verb: 'patch', path, body: patch });
    const target = path.replace(/\/status$/, '');
    const current = this.objects.get(target);
    if (!current) throw new KubeApiError('PATCH', path, 404, '');
    const merged = { ...current, ...(patch as object), metadata: { ...current.metadata, ...((patch as Stored).metadata ?? {}), resourceVersion: this.#nextVersion() } } as Stored;
    const labels = (patch as { metadata?: { labels?: object } }).metadata?.labels;
    if (labels) merged.metadata = { ...merged.metadata, labels: { ...(current.metadata as { labels?: object }).labels, ...labels } } as Stored['metadata'];
    this.objects.set(target, merged);
    return structuredClone(merged) as T;
  }

  async delete<T>(path: string, options?: unknown): Promise<T> {
    this.#record({ verb: 'delete', path, body: options });
    const found = this.objects.get(path);
    this.objects.delete(path);
    return found as T;
  }

  async watch(): Promise<void> {
    throw new Error('FakeKubeApi does not watch');
  }

  /** The calls with `verb`, optionally on `path`. */
  callsOf(verb: Call['verb'], path?: string): Call[] {
    return this.calls.filter((call) => call.verb === verb && (path === undefined || call.path === path));
  }

  #record(call: Call): void {
    this.calls.push(call);
    const failure = this.failures.shift() ?? this.failuresOf.get(call.verb)?.shift();
    if (failure) throw failure;
  }

  #nextVersion(): string {
    this.#version += 1;
    return String(this.#version);
  }
}
