/**
 * Per-key exponential backoff with client-go's flowcontrol.Backoff semantics, which the
 * kubelet uses for CrashLoopBackOff and image pulls:
 * - the first failure is not held back; each later one waits initial, 2x, 4x ... up to max;
 * - an entry untouched for 2 x max (10 min with the 5 min cap) expires, so a container that
 *   ran that long without crashing starts over at the initial delay.
 */
import type { Clock } from './clock.js';

interface Entry {
  backoffMs: number;
  lastUpdate: number;
}

export class Backoff {
  readonly #entries = new Map<string, Entry>();
  readonly #initialMs: number;
  readonly #maxMs: number;
  readonly #clock: Clock;

  /** A max below the initial delay lowers the initial delay too (KubeletCrashLoopBackOffMax). */
  constructor(options: { initialMs: number; maxMs: number; clock: Clock }) {
    this.#maxMs = options.maxMs;
    this.#initialMs = Math.min(options.initialMs, options.maxMs);
    this.#clock = options.clock;
  }

  /** The current delay for `key`, 0 when it has none. */
  get(key: string): number {
    return this.#entries.get(key)?.backoffMs ?? 0;
  }

  /** Records a failure that happened at `eventTime` (ms). */
  next(key: string, eventTime: number): void {
    const entry = this.#entries.get(key);
    const backoffMs = !entry || this.#hasExpired(eventTime, entry) ? this.#initialMs : Math.min(entry.backoffMs * 2, this.#maxMs);
    this.#entries.set(key, { backoffMs, lastUpdate: this.#clock.now() });
  }

  /** How long `key` must still wait after a failure at `eventTime`; 0 when it may go now. */
  remaining(key: string, eventTime: number): number {
    const entry = this.#entries.get(key);
    if (!entry || this.#hasExpired(eventTime, entry)) return 0;
    return Math.max(0, entry.backoffMs - (this.#clock.now() - eventTime));
  }

  /** How long `key` must still wait counting from its last recorded failure (image pulls). */
  remainingSinceUpdate(key: string): number {
    const entry = this.#entries.get(key);
    return entry ? this.remaining(key, entry.lastUpdate) : 0;
  }

  reset(key: string): void {
    this.#entries.delete(key);
  }

  /** Drops expired entries; keys with a common prefix (one pod's) can be dropped together. */
  gc(prefix?: string): void {
    const now = this.#clock.now();
    for (const [key, entry] of this.#entries) {
      if ((prefix !== undefined && key.startsWith(prefix)) || this.#hasExpired(now, entry)) this.#entries.delete(key);
    }
  }

  #hasExpired(eventTime: number, entry: Entry): boolean {
    return eventTime - entry.lastUpdate > 2 * this.#maxMs;
  }
}
