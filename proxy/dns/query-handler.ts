/**
 * One DNS query in, one response out: the cluster zone answers its names with authority, the
 * forwarder everything else (and the targets of ExternalName CNAMEs). What a client gets:
 * - a query that cannot be read: FORMERR (nothing when not even its header can);
 * - an opcode other than QUERY: NOTIMP; not exactly one question: FORMERR;
 * - a cluster name before the Services are known: SERVFAIL, so that the client asks again
 *   rather than cache a wrong NXDOMAIN;
 * - a forwarded name no upstream answered: SERVFAIL;
 * - over UDP, a response longer than the client takes (512 bytes, or its EDNS payload size)
 *   comes truncated (TC, no records), for the client to ask again over TCP.
 * Each query is counted by type, rcode and who answered, with its duration.
 */
import * as dnsPacket from 'dns-packet';
import type { Answer, DecodedPacket, OptAnswer, Packet, Question, RecordType } from 'dns-packet';
import { Counter, Histogram, type Registry } from 'prom-client';
import type { Logger } from 'pino';
import type { ClusterZone, ZoneAnswer } from './cluster-zone.js';
import { ednsRecord } from './dns-transport.js';
import type { Forwarder } from './forwarder.js';

export type Transport = 'udp' | 'tcp';

/** The rcodes by name (RFC 1035, RFC 2136), as dns-packet names them when it decodes. */
const Rcodes = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED', 'YXDOMAIN', 'YXRRSET', 'NXRRSET', 'NOTAUTH', 'NOTZONE'];

/** An rcode's number from its name ("RCODE_12" for those without one). */
function rcodeNumber(name: string): number {
  const known = Rcodes.indexOf(name);
  return known >= 0 ? known : Number(/^RCODE_(\d+)$/.exec(name)?.[1] ?? 2) & 0xf;
}

/** The least a UDP client takes (RFC 1035), and the most we send over UDP whatever it offers. */
const MinUdpSize = 512;
const MaxUdpSize = 4096;

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
    this.#domain = options.domain.toLowerCase().replace(/\.$/, '');
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
      // Only its ID can be trusted, and is answered.
      if (message.length < 12) return undefined;
      return this.#finish({ id: message.readUInt16BE(0), recursionDesired: false }, failure('FORMERR'), 'none', started, transport);
    }
    if (query.type !== 'query') return undefined;
    const edns = ednsOf(query);
    const asked: Asked = {
      id: query.id ?? 0,
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
    if (isClass && !zone && this.#inDomain(question.name)) return [failure('SERVFAIL'), 'none'];
    const local = isClass ? zone?.answer(question.name, question.type) : undefined;
    if (local) return [await this.#withChase(local, question.type, recursionDesired), 'cluster'];
    try {
      const forwarded = await this.#forwarder.resolve(question, recursionDesired);
      return [{ ...forwarded, authoritative: false }, 'upstream'];
    } catch (err) {
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

  #inDomain(name: string): boolean {
    const key = name.toLowerCase().replace(/\.$/, '');
    return key === this.#domain || key.endsWith(`.${this.#domain}`);
  }

  #finish(asked: Asked, response: Response, source: Source, started: bigint, transport: Transport): Buffer {
    const { question, edns } = asked;
    this.#queries.inc({ type: question?.type ?? 'none', rcode: response.rcode, source });
    this.#duration.observe({ source }, Number(process.hrtime.bigint() - started) / 1e9);
    const flags =
      (asked.recursionDesired ? dnsPacket.RECURSION_DESIRED : 0) |
      dnsPacket.RECURSION_AVAILABLE |
      (response.flags ?? 0) |
      (response.authoritative ? dnsPacket.AUTHORITATIVE_ANSWER : 0) |
      rcodeNumber(response.rcode);
    const opt: Answer[] = edns ? [ednsRecord(MaxUdpSize)] : [];
    const packet: Packet = {
      type: 'response',
      id: asked.id,
      flags,
      questions: question ? [question] : [],
      answers: response.answers,
      authorities: response.authorities,
      additionals: [...response.additionals, ...opt],
    };
    const encoded = dnsPacket.encode(packet);
    if (transport === 'tcp') return encoded;
    const limit = edns ? Math.min(MaxUdpSize, Math.max(MinUdpSize, edns.udpPayloadSize)) : MinUdpSize;
    if (encoded.length <= limit) return encoded;
    return dnsPacket.encode({ ...packet, flags: flags | dnsPacket.TRUNCATED_RESPONSE, answers: [], authorities: [], additionals: opt });
  }
}
