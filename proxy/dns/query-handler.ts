/**
 * One DNS query in, one response out: the cluster zone answers its names with authority, the
 * forwarder everything else (and the targets of ExternalName CNAMEs). What a client gets:
 * - a query that cannot be read: FORMERR (nothing when not even its header can, or when it is
 *   itself a response);
 * - an opcode other than QUERY: NOTIMP; not exactly one question: FORMERR;
 * - a cluster name before the Services are known: SERVFAIL, so that the client asks again
 *   rather than cache a wrong NXDOMAIN;
 * - a forwarded name no upstream answered: SERVFAIL; one asked while too many are out: REFUSED;
 * - a response longer than the client takes (over UDP 512 bytes, or its EDNS payload size; over
 *   TCP 65,535) as many whole records as fit, additional ones dropped first, with TC set when an
 *   answer or authority record had to go: the client asks again over TCP.
 * The response keeps the query's ID, opcode, RD and CD. Each query is counted by type (the
 * common ones; others as "other"), rcode and who answered, with its duration.
 */
import * as dnsPacket from 'dns-packet';
import type { Answer, DecodedPacket, OptAnswer, Packet, Question, RecordType } from 'dns-packet';
import { Counter, Histogram, type Registry } from 'prom-client';
import type { Logger } from 'pino';
import { inDomain, type ClusterZone, type ZoneAnswer } from './cluster-zone.js';
import { ednsRecord, MaxMessage } from './dns-transport.js';
import { ForwarderBusy, type Forwarder } from './forwarder.js';

export type Transport = 'udp' | 'tcp';

/** The rcodes by name (RFC 1035, RFC 2136), as dns-packet names them when it decodes. */
const Rcodes = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED', 'YXDOMAIN', 'YXRRSET', 'NXRRSET', 'NOTAUTH', 'NOTZONE'];

/** An rcode's number from its name ("RCODE_12" for those without one). */
function rcodeNumber(name: string): number {
  const known = Rcodes.indexOf(name);
  return known >= 0 ? known : Number(/^RCODE_(\d+)$/.exec(name)?.[1] ?? 2) & 0xf;
}

/** The least a UDP client takes (RFC 1035), and the most we send over UDP whatever it offers (DNS Flag Day 2020). */
const MinUdpSize = 512;
const MaxUdpSize = 1232;

/** Question types counted by name; the metric's label has no other values (the rest are "other"). */
const CountedTypes = new Set(['A', 'AAAA', 'SRV', 'PTR', 'CNAME', 'TXT', 'SOA', 'NS', 'MX', 'ANY']);

/** The header bits a response copies from its query: the opcode, RD and CD. */
const CopiedFlags = 0x7800 | dnsPacket.RECURSION_DESIRED | dnsPacket.CHECKING_DISABLED;

/** What the zone is now: undefined until the Services are known. */
export type ZoneSource = () => ClusterZone | undefined;

interface Response {
  rcode: string;
  authoritative: boolean;
  answers: Answer[];
  authorities: Answer[];
  additionals: Answer[];
  /** RA, AD as an upstream set them. */
  flags?: number;
}

type Source = 'cluster' | 'upstream' | 'none';

/** What the response echoes and honours of the query. */
interface Asked {
  id: number;
  /** The query's opcode, RD and CD bits. */
  flags: number;
  recursionDesired: boolean;
  question?: Question;
  /** The client's EDNS record: its UDP payload size. */
  edns?: OptAnswer;
}

const ednsOf = (query: DecodedPacket): OptAnswer | undefined => query.additionals?.find((record): record is OptAnswer => record.type === 'OPT');

const opcodeOf = (packet: DecodedPacket): string => (packet as DecodedPacket & { opcode?: string }).opcode ?? 'QUERY';
const failure = (rcode: string): Response => ({ rcode, authoritative: false, answers: [], authorities: [], additionals: [] });

export class QueryHandler {
  readonly #zone: ZoneSource;
  readonly #domain: string;
  readonly #forwarder: Forwarder;
  readonly #log: Logger;
  readonly #queries: Counter<'type' | 'rcode' | 'source'>;
  readonly #duration: Histogram<'source'>;

  constructor(options: { zone: ZoneSource; domain: string; forwarder: Forwarder; metrics: Registry; logger: Logger }) {
    this.#zone = options.zone;
    this.#domain = options.domain;
    this.#forwarder = options.forwarder;
    this.#log = options.logger;
    this.#queries = new Counter({
      name: 'dockerlet_dns_queries_total',
      help: 'DNS queries the cluster DNS answered, by question type, response code and source (cluster: the cluster zone; upstream: the host resolvers; none: refused or failed before either)',
      labelNames: ['type', 'rcode', 'source'],
      registers: [options.metrics],
    });
    this.#duration = new Histogram({
      name: 'dockerlet_dns_query_duration_seconds',
      help: 'Time from a DNS query to its response, by source',
      labelNames: ['source'],
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [options.metrics],
    });
  }

  /** The response to `message`, or undefined when it is not a DNS query at all. */
  async respond(message: Buffer, transport: Transport): Promise<Buffer | undefined> {
    const started = process.hrtime.bigint();
    let query: DecodedPacket;
    try {
      query = dnsPacket.decode(message);
    } catch {
      // Only its header can be trusted, and is answered; a response is never answered.
      if (message.length < 12 || (message[2]! & 0x80) !== 0) return undefined;
      return this.#finish({ id: message.readUInt16BE(0), flags: message.readUInt16BE(2) & CopiedFlags, recursionDesired: false }, failure('FORMERR'), 'none', started, transport);
    }
    if (query.type !== 'query') return undefined;
    const edns = ednsOf(query);
    const asked: Asked = {
      id: query.id ?? 0,
      flags: (query.flags ?? 0) & CopiedFlags,
      recursionDesired: query.flag_rd,
      ...(query.questions?.length === 1 ? { question: query.questions[0]! } : {}),
      ...(edns ? { edns } : {}),
    };
    if (opcodeOf(query) !== 'QUERY') return this.#finish(asked, failure('NOTIMP'), 'none', started, transport);
    if (!asked.question) return this.#finish(asked, failure('FORMERR'), 'none', started, transport);
    const [response, source] = await this.#answer(asked.question, asked.recursionDesired);
    return this.#finish(asked, response, source, started, transport);
  }

  async #answer(question: Question, recursionDesired: boolean): Promise<[Response, Source]> {
    const zone = this.#zone();
    const isClass = (question.class ?? 'IN') === 'IN';
    if (isClass && !zone && inDomain(question.name, this.#domain)) return [failure('SERVFAIL'), 'none'];
    const local = isClass ? zone?.answer(question.name, question.type) : undefined;
    if (local) return [await this.#withChase(local, question.type, recursionDesired), 'cluster'];
    try {
      const forwarded = await this.#forwarder.resolve(question, recursionDesired);
      return [{ ...forwarded, authoritative: false }, 'upstream'];
    } catch (err) {
      if (err instanceof ForwarderBusy) return [failure('REFUSED'), 'none'];
      this.#log.warn({ name: question.name, type: question.type, err: err instanceof Error ? err.message : String(err) }, 'no upstream resolver answered');
      return [failure('SERVFAIL'), 'upstream'];
    }
  }

  /** The zone's answer, with the records of an ExternalName's target outside the zone appended when an upstream has them. */
  async #withChase(answer: ZoneAnswer, type: RecordType, recursionDesired: boolean): Promise<Response> {
    const response: Response = { rcode: answer.rcode, authoritative: true, answers: answer.answers, authorities: answer.authorities, additionals: answer.additionals };
    if (!answer.chase || !recursionDesired || type === 'CNAME') return response;
    try {
      const target = await this.#forwarder.resolve({ name: answer.chase, type, class: 'IN' }, true);
      return { ...response, rcode: target.rcode, answers: [...response.answers, ...target.answers] };
    } catch {
      // The CNAME alone: the client may resolve its target itself.
      return response;
    }
  }

  #finish(asked: Asked, response: Response, source: Source, started: bigint, transport: Transport): Buffer {
    const { question, edns } = asked;
    const type = question ? (CountedTypes.has(question.type) ? question.type : 'other') : 'none';
    this.#queries.inc({ type, rcode: Rcodes.includes(response.rcode) ? response.rcode : 'other', source });
    this.#duration.observe({ source }, Number(process.hrtime.bigint() - started) / 1e9);
    const flags =
      asked.flags |
      dnsPacket.RECURSION_AVAILABLE |
      (response.flags ?? 0) |
      (response.authoritative ? dnsPacket.AUTHORITATIVE_ANSWER : 0) |
      rcodeNumber(response.rcode);
    const packet: Packet = {
      type: 'response',
      id: asked.id,
      flags,
      questions: question ? [question] : [],
      answers: response.answers,
      authorities: response.authorities,
      additionals: response.additionals,
    };
    const opt: Answer[] = edns ? [ednsRecord(MaxUdpSize)] : [];
    const limit = transport === 'tcp' ? MaxMessage : edns ? Math.min(MaxUdpSize, Math.max(MinUdpSize, edns.udpPayloadSize)) : MinUdpSize;
    return fitted(packet, opt, limit);
  }
}

/**
 * `packet` encoded in at most `limit` bytes, `opt` always last: whole as it is when it fits;
 * else without its additional records; else with as many answers (then authorities) as fit, and
 * TC set.
 */
function fitted(packet: Packet, opt: readonly Answer[], limit: number): Buffer {
  const encode = (answers: Answer[], authorities: Answer[], additionals: Answer[], truncated: boolean): Buffer =>
    dnsPacket.encode({ ...packet, flags: (packet.flags ?? 0) | (truncated ? dnsPacket.TRUNCATED_RESPONSE : 0), answers, authorities, additionals: [...additionals, ...opt] });
  const answers = packet.answers ?? [];
  const authorities = packet.authorities ?? [];
  const whole = encode(answers, authorities, packet.additionals ?? [], false);
  if (whole.length <= limit) return whole;
  const bare = encode(answers, authorities, [], false);
  if (bare.length <= limit) return bare;
  // The most answers that fit, found by halving; then the authorities, the same way.
  const most = (count: number, fits: (n: number) => boolean): number => {
    let low = 0;
    let high = count;
    while (low < high) {
      const middle = Math.ceil((low + high) / 2);
      if (fits(middle)) low = middle;
      else high = middle - 1;
    }
    return low;
  };
  const size = (a: number, b: number): number => dnsPacket.encodingLength({ ...packet, answers: answers.slice(0, a), authorities: authorities.slice(0, b), additionals: [...opt] });
  const keptAnswers = most(answers.length, (n) => size(n, 0) <= limit);
  const keptAuthorities = keptAnswers === answers.length ? most(authorities.length, (n) => size(keptAnswers, n) <= limit) : 0;
  return encode(answers.slice(0, keptAnswers), authorities.slice(0, keptAuthorities), [], true);
}
