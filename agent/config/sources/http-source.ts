/**
 * The URL source (pkg/kubelet/config/http.go): GET the manifest URL at start and every
 * httpCheckFrequency, with the configured headers and a 10 s timeout for the whole answer. A
 * body identical to the last one changes nothing; an empty body is an empty set (its pods are
 * removed, as upstream's); a failed request, a body over 10 MiB (counted after decompression)
 * or one that does not decode leaves the previous set in place.
 */
import type { Logger } from 'pino';
import { errorMessage } from '../../../common/api/errors.js';
import { MaxManifestBytes, readManifestText } from '../manifest.js';
import { emptyManifestObjects, readManifest } from '../read-manifest.js';
import type { PodSourceRunner, SnapshotListener } from './source.js';

export interface HttpSourceOptions {
  url: string;
  /** staticPodURLHeader: each header may carry several values. */
  headers: Readonly<Record<string, readonly string[]>>;
  nodeName: string;
  /** httpCheckFrequency, in ms. */
  checkFrequencyMs: number;
  logger: Logger;
  onSnapshot: SnapshotListener;
}

const RequestTimeoutMs = 10_000;

export class HttpSource implements PodSourceRunner {
  readonly name = 'http' as const;
  readonly #options: HttpSourceOptions;
  readonly #log: Logger;
  #lastBody: string | undefined;
  #lastError: string | undefined;
  #timer: NodeJS.Timeout | undefined;
  readonly #abort = new AbortController();
  #inFlight: Promise<void> = Promise.resolve();

  constructor(options: HttpSourceOptions) {
    this.#options = options;
    this.#log = options.logger.child({ component: 'http-source', url: options.url });
  }

  async start(): Promise<void> {
    await this.#poll();
    this.#timer = setInterval(() => void this.#poll(), this.#options.checkFrequencyMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#abort.abort();
    await this.#inFlight;
  }

  #poll(): Promise<void> {
    this.#inFlight = this.#fetchOnce().then(
      () => {
        if (this.#lastError !== undefined) this.#log.info('manifest URL answers again');
        this.#lastError = undefined;
      },
      (err: unknown) => {
        if (this.#abort.signal.aborted) return;
        const message = errorMessage(err);
        if (message !== this.#lastError) this.#log.error({ err: message }, `reading the manifest URL failed; keeping the pods it gave before`);
        this.#lastError = message;
      },
    );
    return this.#inFlight;
  }

  async #fetchOnce(): Promise<void> {
    const headers = new Headers();
    for (const [name, values] of Object.entries(this.#options.headers)) for (const value of values) headers.append(name, value);
    const response = await fetch(this.#options.url, {
      headers,
      signal: AbortSignal.any([this.#abort.signal, AbortSignal.timeout(RequestTimeoutMs)]),
    });
    if (response.status !== 200) {
      await response.body?.cancel();
      throw new Error(`${this.#options.url}: HTTP ${response.status} ${response.statusText}`);
    }
    // fetch has decompressed the body: a gzip bomb stops at the bound too.
    const body = await readManifestText(response.body ?? []);
    if (body === undefined) throw new Error(`${this.#options.url}: the manifest is over ${MaxManifestBytes} bytes; refused`);
    if (body === this.#lastBody) return;
    if (body.trim() === '') {
      this.#lastBody = body;
      this.#log.warn('the manifest URL answered with an empty body: no pods from it now');
      this.#options.onSnapshot(emptyManifestObjects(), false);
      return;
    }
    const content = readManifest(body, { source: 'http', location: this.#options.url }, this.#options.nodeName);
    if (!content.ok) throw new Error(content.error);
    this.#lastBody = body;
    this.#options.onSnapshot(content.objects, true);
  }
}
