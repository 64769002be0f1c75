/**
 * Names outside the cluster, asked of the host's resolvers: each upstream in turn, in the order
 * of resolv.conf, over UDP, again over TCP when the answer came truncated. An upstream that
 * stays silent for the timeout, fails, or answers SERVFAIL, REFUSED or NOTIMP passes the
 * question to the next (as the C library's resolver does); the last one's answer is the answer.
 * A reply counts only when it comes from the upstream asked, with the query's ID and question:
 * anything else is ignored while the exchange waits. Answers are kept in a small cache for their
 * TTL, at most CacheMaxTtlSeconds (kubeadm's CoreDNS: `cache 30`); failures are not kept. At
 * most MaxInFlight questions are out at once (CoreDNS forward's max_concurrent): past that the
 * caller is told to refuse, rather than open sockets without end.
 */
import { randomInt } from 'node:crypto';
import * as dnsPacket from 'dns-packet';
import type { Answer, DecodedPacket, OptAnswer, Question } from 'dns-packet';
import { ednsRecord, tcpExchange, udpExchange, type DnsEndpoint } from './dns-transport.js';

/** The longest any answer is kept. */
export const CacheMaxTtlSeconds = 30;

/** Entries the cache holds before the oldest go. */
const CacheMaxEntries = 10_000;

/** How long one upstream has to answer before the next is asked (CoreDNS's forward: 2 s reads). */
const UpstreamTimeoutMs = 2_000;

/** The UDP payload size offered upstreams: DNS Flag Day 2020's, which IP fragmentation never splits. */
const UpstreamUdpPayloadSize = 1232;

/** Questions out to upstreams at once. */
const MaxInFlight = 256;

/** Answers for which the next upstream is asked. */
const TryNextUpstream = new Set(['SERVFAIL', 'REFUSED', 'NOTIMP']);

/** Thrown when MaxInFlight questions are already out. */
export class ForwarderBusy extends Error {
  constructor() {
    super(`${MaxInFlight} questions are already out to the upstream resolvers`);
  }
}

/** What an upstream answered: the sections to pass on, and the rcode. */
export interface ForwardedAnswer {
  rcode: string;
  answers: Answer[];
  authorities: Answer[];
  additionals: Answer[];
  /** The upstream's RA and AD flags. */
  flags: number;
}

interface CacheEntry {
  answer: ForwardedAnswer;
  storedAtMs: number;
  ttlSeconds: number;
}

const CarriedFlags = dnsPacket.RECURSION_AVAILABLE | dnsPacket.AUTHENTIC_DATA;

const isOpt = (record: Answer): record is OptAnswer => record.type === 'OPT';

/** The TTL a response may be kept for: the least of its records' (the SOA's minimum for a negative one), capped; 0 means not at all. */
function cacheTtl(answer: ForwardedAnswer): number {
  if (answer.rcode !== 'NOERROR' && answer.rcode !== 'NXDOMAIN') return 0;
  const ttls = [...answer.answers, ...answer.authorities].map((record) => {
    if (isOpt(record)) return CacheMaxTtlSeconds;
    return record.type === 'SOA' ? Math.min(record.ttl ?? 0, record.data.minimum ?? 0) : (record.ttl ?? 0);
  });
  return ttls.length === 0 ? 0 : Math.min(CacheMaxTtlSeconds, ...ttls);
}

/** `records` with the TTLs they have left after `elapsedSeconds` in a cache that keeps them `keptSeconds` (OPT records have none). */
function aged(records: readonly Answer[], elapsedSeconds: number, keptSeconds: number): Answer[] {
  return records.map((record) => (isOpt(record) ? record : { ...record, ttl: Math.max(0, Math.min(record.ttl ?? 0, keptSeconds) - elapsedSeconds) }) as Answer);
}

export class Forwarder {
  readonly #upstreams: readonly DnsEndpoint[];
  readonly #timeoutMs: number;
  readonly #now: () => number;
  readonly #cache = new Map<string, CacheEntry>();
  #inFlight = 0;

  constructor(options: { upstreams: readonly DnsEndpoint[]; timeoutMs?: number; now?: () => number }) {
    this.#upstreams = options.upstreams;
    this.#timeoutMs = options.timeoutMs ?? UpstreamTimeoutMs;
    this.#now = options.now ?? Date.now;
  }

  /**
   * The answer to `question` from the cache or the upstreams; rejects when none answered (with
   * ForwarderBusy when too many questions are out). `recursionDesired`: the client's RD.
   */
  async resolve(question: Question, recursionDesired: boolean): Promise<ForwardedAnswer> {
    const key = `${question.name.toLowerCase()}/${question.type}/${question.class ?? 'IN'}/${recursionDesired ? 'rd' : ''}`;
    const hit = this.#fromCache(key);
    if (hit) return hit;
    if (this.#inFlight >= MaxInFlight) throw new ForwarderBusy();
    this.#inFlight += 1;
    try {
      const answer = await this.#ask(question, recursionDesired);
      const ttlSeconds = cacheTtl(answer);
      if (ttlSeconds > 0) this.#store(key, { answer, storedAtMs: this.#now(), ttlSeconds });
      return answer;
    } finally {
      this.#inFlight -= 1;
    }
  }

  #fromCache(key: string): ForwardedAnswer | undefined {
    const entry = this.#cache.get(key);
    if (!entry) return undefined;
    const elapsedSeconds = Math.floor((this.#now() - entry.storedAtMs) / 1000);
    if (elapsedSeconds >= entry.ttlSeconds) {
      this.#cache.delete(key);
      return undefined;
    }
    const { answer, ttlSeconds } = entry;
    const age = (records: readonly Answer[]): Answer[] => aged(records, elapsedSeconds, ttlSeconds);
    return { ...answer, answers: age(answer.answers), authorities: age(answer.authorities), additionals: age(answer.additionals) };
  }

  #store(key: string, entry: CacheEntry): void {
    this.#cache.delete(key);
    this.#cache.set(key, entry);
    if (this.#cache.size > CacheMaxEntries) this.#cache.delete(this.#cache.keys().next().value!);
  }

  async #ask(question: Question, recursionDesired: boolean): Promise<ForwardedAnswer> {
    if (this.#upstreams.length === 0) throw new Error('no upstream resolver: the host resolv.conf names no nameserver');
    const failures: string[] = [];
    let last: ForwardedAnswer | undefined;
    for (const upstream of this.#upstreams) {
      try {
        last = await this.#exchange(upstream, question, recursionDesired);
        if (!TryNextUpstream.has(last.rcode)) return last;
      } catch (err) {
        failures.push(err instanceof Error ? err.message : String(err));
      }
    }
    if (last) return last;
    throw new Error(failures.join('; '));
  }

  /** One upstream: UDP, then TCP if the answer was truncated. */
  async #exchange(upstream: DnsEndpoint, question: Question, recursionDesired: boolean): Promise<ForwardedAnswer> {
    const id = randomInt(0, 65_536);
    const query = dnsPacket.encode({
      type: 'query',
      id,
      flags: recursionDesired ? dnsPacket.RECURSION_DESIRED : 0,
      questions: [question],
      additionals: [ednsRecord(UpstreamUdpPayloadSize)],
    });
    const answer = (reply: Buffer): DecodedPacket | undefined => answerTo(reply, id, question);
    let reply = await udpExchange(upstream, query, this.#timeoutMs, answer);
    if (reply.flag_tc) reply = await tcpExchange(upstream, query, this.#timeoutMs, answer);
    return {
      rcode: (reply as DecodedPacket & { rcode: string }).rcode,
      answers: reply.answers ?? [],
      authorities: reply.authorities ?? [],
      additionals: (reply.additionals ?? []).filter((record) => !isOpt(record)),
      flags: (reply.flags ?? 0) & CarriedFlags,
    };
  }
}

/** `reply` decoded, when it is a response to query `id` about `question` (the same name, type and class); undefined otherwise. */
function answerTo(reply: Buffer, id: number, question: Question): DecodedPacket | undefined {
  let decoded: DecodedPacket;
  try {
    decoded = dnsPacket.decode(reply);
  } catch {
    return undefined;
  }
  const asked = decoded.questions?.[0];
  const answers =
    decoded.id === id &&
    decoded.type === 'response' &&
    asked?.name.toLowerCase() === question.name.toLowerCase() &&
    asked.type === question.type &&
    (asked.class ?? 'IN') === (question.class ?? 'IN');
  return answers ? decoded : undefined;
}
