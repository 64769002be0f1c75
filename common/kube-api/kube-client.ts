/**
 * The agent's client of the Kubernetes API: JSON over HTTPS, the objects in their API shapes
 * (kubernetes-types). ./kubeconfig.ts reads the kubeconfig and applies its credentials (client
 * certificates, bearer tokens and token files, basic auth, exec plugins) to each request; the
 * requests themselves are plain, so what goes over the wire is exactly what the kubelet sends
 * (strategic merge patches, resourceVersion preconditions, watch streams) and an object read
 * is the JSON the server wrote.
 */
import type { IncomingMessage } from 'node:http';
import { request, type RequestOptions } from 'node:https';
import { createInterface } from 'node:readline';
import { DockerletError, errorMessage } from '../api/errors.js';
import { KubeconfigCredentials, KubeconfigError } from './kubeconfig.js';

export const StrategicMergePatch = 'application/strategic-merge-patch+json';

/** A failed API call: the HTTP status and, when the server sent one, the Status's reason. */
export class KubeApiError extends Error {
  readonly status: number;
  readonly reason: string | undefined;

  constructor(method: string, path: string, status: number, body: string) {
    let reason: string | undefined;
    let message = body.trim().slice(0, 500);
    try {
      const parsed = JSON.parse(body) as { kind?: string; reason?: string; message?: string };
      if (parsed.kind === 'Status') {
        reason = parsed.reason;
        message = parsed.message ?? message;
      }
    } catch {
      // Not a Status: the text is the message.
    }
    super(`${method} ${path}: ${status}${reason ? ` ${reason}` : ''}: ${message}`);
    this.name = 'KubeApiError';
    this.status = status;
    this.reason = reason;
  }
}

/** DeleteOptions for a deletion that takes effect at once (grace 0), of the object with `uid` only when given: how the kubelet removes pods it is done with. */
export function deleteNowOptions(uid: string | undefined): Record<string, unknown> {
  return { apiVersion: 'v1', kind: 'DeleteOptions', gracePeriodSeconds: 0, ...(uid ? { preconditions: { uid } } : {}) };
}

export const isApiStatus = (err: unknown, status: number): boolean => err instanceof KubeApiError && err.status === status;
export const isApiNotFound = (err: unknown): boolean => isApiStatus(err, 404);
export const isApiConflict = (err: unknown): boolean => isApiStatus(err, 409);
/** 410 Gone: the resourceVersion a watch asked for is too old; list again. */
export const isApiGone = (err: unknown): boolean => isApiStatus(err, 410);

export interface WatchEvent<T> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: T;
}

export interface RequestSettings {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  /** The body's type; JSON unless a patch type is given. */
  contentType?: string;
  timeoutMs?: number;
  signal?: AbortSignal;
}

const DefaultTimeoutMs = 10_000;

/** What the agent's API users need of a client: the verbs, on API paths. */
export interface KubeApi {
  get<T>(path: string, settings?: Omit<RequestSettings, 'body' | 'contentType'>): Promise<T>;
  create<T>(path: string, body: T, settings?: Omit<RequestSettings, 'body'>): Promise<T>;
  replace<T>(path: string, body: T, settings?: Omit<RequestSettings, 'body'>): Promise<T>;
  patch<T>(path: string, patch: unknown, settings?: Omit<RequestSettings, 'body'>): Promise<T>;
  delete<T>(path: string, options?: unknown, settings?: Omit<RequestSettings, 'body'>): Promise<T>;
  watch<T>(path: string, query: RequestSettings['query'], onEvent: (event: WatchEvent<T>) => void, signal: AbortSignal): Promise<void>;
}

export class KubeClient implements KubeApi {
  readonly server: string;
  readonly #credentials: KubeconfigCredentials;
  readonly #userAgent: string;

  private constructor(credentials: KubeconfigCredentials, server: string, userAgent: string) {
    this.#credentials = credentials;
    this.server = server.replace(/\/+$/, '');
    this.#userAgent = userAgent;
  }

  /** Reads the kubeconfig at `path`; rejects with DKL_ERR_FLAG_INVALID naming `flag` and the file when it cannot be used. */
  static async fromKubeconfig(path: string, userAgent: string, flag = '--kubeconfig'): Promise<KubeClient> {
    let credentials: KubeconfigCredentials;
    try {
      credentials = await KubeconfigCredentials.load(path);
    } catch (err) {
      const detail = err instanceof KubeconfigError ? err.detail : errorMessage(err);
      throw new DockerletError('DKL_ERR_FLAG_INVALID', `${flag} ${path}: ${detail}`, { cause: err });
    }
    return new KubeClient(credentials, credentials.server, userAgent);
  }

  get<T>(path: string, settings: Omit<RequestSettings, 'body' | 'contentType'> = {}): Promise<T> {
    return this.request<T>('GET', path, settings);
  }

  create<T>(path: string, body: T, settings: Omit<RequestSettings, 'body'> = {}): Promise<T> {
    return this.request<T>('POST', path, { ...settings, body });
  }

  replace<T>(path: string, body: T, settings: Omit<RequestSettings, 'body'> = {}): Promise<T> {
    return this.request<T>('PUT', path, { ...settings, body });
  }

  /** A strategic merge patch unless `contentType` says otherwise. */
  patch<T>(path: string, patch: unknown, settings: Omit<RequestSettings, 'body'> = {}): Promise<T> {
    return this.request<T>('PATCH', path, { contentType: StrategicMergePatch, ...settings, body: patch });
  }

  delete<T>(path: string, options?: unknown, settings: Omit<RequestSettings, 'body'> = {}): Promise<T> {
    return this.request<T>('DELETE', path, { ...settings, ...(options === undefined ? {} : { body: options }) });
  }

  async request<T>(method: string, path: string, settings: RequestSettings = {}): Promise<T> {
    const response = await this.#send(method, path, settings);
    const text = await readAll(response);
    if ((response.statusCode ?? 0) >= 300) throw new KubeApiError(method, path, response.statusCode ?? 0, text);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /**
   * Watches `path` (a collection, with ?watch=true added), calling `onEvent` for each event
   * until the server ends the stream (resolves) or the request fails (rejects). An ERROR event
   * carrying a Status rejects with that Status as a KubeApiError (410 when the version is gone).
   * With a timeoutSeconds in `query`, a connection silent 30 s longer than that is given up.
   */
  async watch<T>(path: string, query: RequestSettings['query'], onEvent: (event: WatchEvent<T>) => void, signal: AbortSignal): Promise<void> {
    // The server ends a watch after its timeoutSeconds; silence well past that is a dead connection.
    const timeoutSeconds = Number(query?.['timeoutSeconds']);
    const timeoutMs = Number.isFinite(timeoutSeconds) ? (timeoutSeconds + 30) * 1000 : 0;
    const response = await this.#send('GET', path, { query: { ...query, watch: true }, signal, timeoutMs });
    if ((response.statusCode ?? 0) >= 300) throw new KubeApiError('GET', path, response.statusCode ?? 0, await readAll(response));
    const lines = createInterface({ input: response, crlfDelay: Infinity });
    try {
      for await (const line of lines) {
        if (!line.trim()) continue;
        const event = JSON.parse(line) as WatchEvent<T>;
        if (event.type === 'ERROR') {
          const status = event.object as { code?: number };
          throw new KubeApiError('GET', path, status.code ?? 500, JSON.stringify(event.object));
        }
        onEvent(event);
      }
    } catch (err) {
      if (signal.aborted) return;
      throw err;
    } finally {
      response.destroy();
    }
  }

  async #send(method: string, path: string, settings: RequestSettings): Promise<IncomingMessage> {
    const url = new URL(this.server + path);
    for (const [key, value] of Object.entries(settings.query ?? {})) if (value !== undefined) url.searchParams.set(key, String(value));
    const body = settings.body === undefined ? undefined : JSON.stringify(settings.body);
    const options: RequestOptions = {
      method,
      headers: {
        Accept: 'application/json',
        'User-Agent': this.#userAgent,
        ...(body === undefined ? {} : { 'Content-Type': settings.contentType ?? 'application/json', 'Content-Length': Buffer.byteLength(body) }),
      },
    };
    // Credentials as the kubeconfig says, files read afresh for each request (tokens and certificates rotate).
    const credentials = await this.#credentials.applyTo(options);
    const timeoutMs = settings.timeoutMs ?? DefaultTimeoutMs;
    return new Promise<IncomingMessage>((resolve, reject) => {
      const req = request(url, { ...options, ...(settings.signal ? { signal: settings.signal } : {}) }, (response) => {
        // An exec plugin's credential the server refused is not used again.
        if (response.statusCode === 401) credentials.rejected();
        resolve(response);
      });
      if (timeoutMs > 0) req.setTimeout(timeoutMs, () => req.destroy(new Error(`${method} ${url.pathname}: no answer from ${this.server} within ${timeoutMs} ms`)));
      req.on('error', (err) => reject(err instanceof KubeApiError ? err : new Error(`${method} ${url.pathname}: ${errorMessage(err)}`, { cause: err })));
      req.end(body);
    });
  }
}

async function readAll(response: IncomingMessage): Promise<string> {
  let text = '';
  response.setEncoding('utf8');
  for await (const chunk of response) text += chunk as string;
  return text;
}
