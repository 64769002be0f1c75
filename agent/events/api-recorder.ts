/**
 * Events as Event objects in the API server (core/v1), so that `kubectl describe` tells a pod's
 * story, sent the way client-go's event broadcaster sends the kubelet's:
 * - an event identical to one sent in the last 10 minutes (same object, type, reason, message)
 *   is not a new object: the first one's count and lastTimestamp are PATCHed;
 * - a spam filter per involved object (a token bucket of 25, refilled one every 5 minutes)
 *   drops what exceeds it;
 * - sending never holds up the caller: events queue and go one at a time; one that fails is
 *   dropped (with a debug line), as events are best effort.
 */
import type { Logger } from 'pino';
import { errorMessage } from '../../common/api/errors.js';
import type { KubeApi } from '../../common/kube-api/kube-client.js';
import { CoalescingRunner } from '../../common/util/coalescing-runner.js';
import { rfc3339, type Clock } from '../../common/util/clock.js';
import type { EventRecorder, EventType, InvolvedObject } from './recorder.js';

export interface CoreEvent {
  apiVersion: 'v1';
  kind: 'Event';
  metadata: { name: string; namespace: string };
  involvedObject: InvolvedObject & { apiVersion: 'v1' };
  reason: string;
  message: string;
  type: EventType;
  source: { component: 'kubelet'; host: string };
  firstTimestamp: string;
  lastTimestamp: string;
  count: number;
  reportingComponent: 'kubelet';
  reportingInstance: string;
}

export interface ApiEventRecorderOptions {
  client: KubeApi;
  nodeName: string;
  clock: Clock;
  logger: Logger;
}

const DedupWindowMs = 10 * 60_000;
const SpamBurst = 25;
const SpamRefillMs = 5 * 60_000;
/** Identical events remembered for dedup, and objects' spam buckets, at most each (client-go's LRUs hold 4096). */
const MaxRemembered = 4096;

export class ApiEventRecorder implements EventRecorder {
  readonly #options: ApiEventRecorderOptions;
  readonly #queue: Array<{ event: CoreEvent; key: string }> = [];
  /** Identical events already sent: the object's name and count, by what makes them identical. */
  readonly #sent = new Map<string, { name: string; namespace: string; count: number; at: number }>();
  readonly #buckets = new Map<string, { tokens: number; at: number }>();
  readonly #runner: CoalescingRunner;
  #sequence = 0;

  constructor(options: ApiEventRecorderOptions) {
    this.#options = options;
    this.#runner = new CoalescingRunner(() => this.#drain());
  }

  event(object: InvolvedObject, type: EventType, reason: string, message: string): void {
    const now = this.#options.clock.now();
    if (!this.#allow(`${object.kind}/${object.namespace ?? ''}/${object.name}/${object.uid}`, now)) return;
    const namespace = object.namespace ?? 'default';
    const event: CoreEvent = {
      apiVersion: 'v1',
      kind: 'Event',
      // client-go names events <object>.<UnixNano in hex>; a sequence stands in for the
      // nanoseconds the clock does not have, so events of one millisecond keep apart.
      metadata: { name: `${object.name}.${(BigInt(now) * 1_000_000n + BigInt(this.#sequence++ % 1_000_000)).toString(16)}`, namespace },
      involvedObject: { apiVersion: 'v1', ...object },
      reason,
      message,
      type,
      source: { component: 'kubelet', host: this.#options.nodeName },
      firstTimestamp: rfc3339(now),
      lastTimestamp: rfc3339(now),
      count: 1,
      reportingComponent: 'kubelet',
      reportingInstance: this.#options.nodeName,
    };
    this.#queue.push({ event, key: JSON.stringify([object, type, reason, message]) });
    void this.#runner.run();
  }

  /** Resolves once every event recorded so far was sent or dropped. */
  flush(): Promise<void> {
    return this.#runner.run();
  }

  async stop(): Promise<void> {
    await this.#runner.stop();
  }

  #allow(objectKey: string, now: number): boolean {
    const bucket = this.#buckets.get(objectKey) ?? { tokens: SpamBurst, at: now };
    bucket.tokens = Math.min(SpamBurst, bucket.tokens + Math.floor((now - bucket.at) / SpamRefillMs));
    if (now - bucket.at >= SpamRefillMs) bucket.at = now;
    // Least recently used first out: an object gone for good no longer holds a bucket forever.
    this.#buckets.delete(objectKey);
    if (this.#buckets.size >= MaxRemembered) this.#buckets.delete(this.#buckets.keys().next().value!);
    this.#buckets.set(objectKey, bucket);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  async #drain(): Promise<void> {
    for (let next = this.#queue.shift(); next; next = this.#queue.shift()) {
      const { event, key } = next;
      const now = Date.parse(event.lastTimestamp);
      const earlier = this.#sent.get(key);
      try {
        if (earlier && now - earlier.at < DedupWindowMs) {
          earlier.count += 1;
          earlier.at = now;
          await this.#options.client.patch(`/api/v1/namespaces/${earlier.namespace}/events/${earlier.name}`, { count: earlier.count, lastTimestamp: event.lastTimestamp });
        } else {
          await this.#options.client.create(`/api/v1/namespaces/${event.metadata.namespace}/events`, event);
          this.#remember(key, { name: event.metadata.name, namespace: event.metadata.namespace, count: 1, at: now });
        }
      } catch (err) {
        this.#options.logger.debug({ reason: event.reason, err: errorMessage(err) }, 'dropped an event the API server did not take');
      }
    }
  }

  #remember(key: string, sent: { name: string; namespace: string; count: number; at: number }): void {
    if (this.#sent.size >= MaxRemembered) this.#sent.delete(this.#sent.keys().next().value!);
    this.#sent.set(key, sent);
  }
}
