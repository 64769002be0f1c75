/**
 * Where the proxy learns which pods run and whether they are Ready: the agent in the same
 * process (dockerlet up: every change at once), or the agent's read-only API polled every
 * second (dockerlet proxy beside a separate agent). In a cluster the API server's EndpointSlices
 * take their place (api-config.ts).
 */
import type { Logger } from 'pino';
import { errorMessage } from '../../common/api/errors.js';
import type { Pod, PodList } from '../../common/api/types.js';
import type { PodWithStatus } from './pod-endpoints.js';

export interface PodFeed {
  pods(): PodWithStatus[];
  onChange(listener: () => void): void;
  start(): Promise<void>;
  stop(): Promise<void>;
}

const withStatus = (pod: Pod): PodWithStatus => ({ pod, status: pod.status });

/** The agent in this process. */
export function localPodFeed(agent: { podsWithStatus(): Pod[]; onPodsChanged(listener: () => void): void }): PodFeed {
  return {
    pods: () => agent.podsWithStatus().map(withStatus),
    onChange: (listener) => agent.onPodsChanged(listener),
    start: async () => undefined,
    stop: async () => undefined,
  };
}

/** An agent elsewhere, through GET <kubelet>/pods every `periodMs`. */
export class KubeletApiPodFeed implements PodFeed {
  readonly #url: string;
  readonly #periodMs: number;
  readonly #log: Logger;
  readonly #listeners: Array<() => void> = [];
  #pods: PodWithStatus[] = [];
  #last = '';
  #timer: NodeJS.Timeout | undefined;
  #failing = false;

  constructor(options: { kubeletUrl: string; periodMs: number; logger: Logger }) {
    this.#url = `${options.kubeletUrl.replace(/\/$/, '')}/pods`;
    this.#periodMs = options.periodMs;
    this.#log = options.logger.child({ component: 'pod-feed', url: this.#url });
  }

  pods(): PodWithStatus[] {
    return this.#pods;
  }

  onChange(listener: () => void): void {
    this.#listeners.push(listener);
  }

  async start(): Promise<void> {
    await this.#poll();
    this.#timer = setInterval(() => void this.#poll(), this.#periodMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
  }

  async #poll(): Promise<void> {
    try {
      const response = await fetch(this.#url, { signal: AbortSignal.timeout(Math.max(this.#periodMs, 1_000)) });
      if (response.status !== 200) throw new Error(`HTTP ${response.status}`);
      const text = await response.text();
      if (this.#failing) this.#log.info('the kubelet answers again');
      this.#failing = false;
      if (text === this.#last) return;
      this.#last = text;
      this.#pods = ((JSON.parse(text) as PodList).items ?? []).map(withStatus);
      for (const listener of this.#listeners) listener();
    } catch (err) {
      // Keep the last known pods: an agent restarting must not take every Service's endpoints away.
      if (!this.#failing) this.#log.warn({ err: errorMessage(err) }, 'reading pods from the kubelet failed; keeping the last known ones');
      this.#failing = true;
    }
  }
}
