/**
 * Per-key exponential backoff with client-go's flowcontrol.Backoff semantics, which the
 * kubelet uses for CrashLoopBackOff and image pulls:
 * - the first failure is not held back; each later one waits initial, 2x, 4x ... up to max;
 * - an entry untouched for 2 x max (10 min with the 5 min cap) expires, so a container that
 *   ran that long without crashing starts over at the initial delay.
 *
 * Waits are counted on the monotonic clock, so that a step of the wall clock neither
 * lengthens nor skips them. Failure times arrive as wall-clock times (a container's
 * finishedAt); each is placed on the monotonic clock once, when first seen, and a time
 * that lies in the future (the clock stepped back) counts as now.
 */
import type { Clock } from './clock.js';

interface Entry {
  backoffMs: number;
  /** Monotonic time of the last recorded failure. */
  lastUpdate: number;
  /** The last failure time asked about, and where it lies on the monotonic clock. */
  event: { wall: number; monotonic: number };
}

export class Backoff {
  readonly #entries = new Map<string, Entry>();
  readonly #initialMs: number;
  readonly #maxMs: number;
  readonly #clock: Clock;
  readonly #monotonic: Clock;

  /** A max below the initial delay lowers the initial delay too (KubeletCrashLoopBackOffMax). */
  constructor(options: { initialMs: number; maxMs: number; clock: Clock; monotonic: Clock }) {
    this.#maxMs = options.maxMs;
    this.#initialMs = Math.min(options.initialMs, options.maxMs);
    this.#clock = options.clock;
    this.#monotonic = options.monotonic;
  }

  /** The current delay for `key`, 0 when it has none. */
  get(key: string): number {
    return this.#entries.get(key)?.backoffMs ?? 0;
  }

  /** Records a failure that happened at `eventTime` (wall-clock ms). */
  next(key: string, eventTime: number): void {
    const entry = this.#entries.get(key);
    const event = entry?.event.wall === eventTime ? entry.event : this.#place(eventTime);
    const backoffMs = !entry || this.#hasExpired(event.monotonic, entry) ? this.#initialMs : Math.min(entry.backoffMs * 2, this.#maxMs);
    this.#entries.set(key, { backoffMs, lastUpdate: this.#monotonic.now(), event });
  }

  /** How long `key` must still wait after a failure at `eventTime` (wall-clock ms); 0 when it may go now. */
  remaining(key: string, eventTime: number): number {
    const entry = this.#entries.get(key);
    if (!entry) return 0;
    if (entry.event.wall !== eventTime) entry.event = this.#place(eventTime);
    return this.#remainingAfter(entry, entry.event.monotonic);
  }

  /** How long `key` must still wait counting from its last recorded failure (image pulls). */
  remainingSinceUpdate(key: string): number {
    const entry = this.#entries.get(key);
    return entry ? this.#remainingAfter(entry, entry.lastUpdate) : 0;
  }

  reset(key: string): void {
    this.#entries.delete(key);
  }

  /** Drops expired entries; keys with a common prefix (one pod's) can be dropped together. */
  gc(prefix?: string): void {
    const now = this.#monotonic.now();
    for (const [key, entry] of this.#entries) {
      if ((prefix !== undefined && key.startsWith(prefix)) || this.#hasExpired(now, entry)) this.#entries.delete(key);
    }
  }

  #remainingAfter(entry: Entry, eventMonotonic: number): number {
    if (this.#hasExpired(eventMonotonic, entry)) return 0;
    return Math.max(0, entry.backoffMs - (this.#monotonic.now() - eventMonotonic));
  }

  /** Where the wall-clock time `wall` lies on the monotonic clock; never later than now. */
  #place(wall: number): Entry['event'] {
    return { wall, monotonic: this.#monotonic.now() - Math.max(0, this.#clock.now() - wall) };
  }

  #hasExpired(eventMonotonic: number, entry: Entry): boolean {
    return eventMonotonic - entry.lastUpdate > 2 * this.#maxMs;
  }
}
