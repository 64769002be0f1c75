/**
 * The load generator of the DNS benchmark, run inside a container (a pod's, or one on a Docker
 * network) with the node image: a small script on one connected UDP socket, given the query's
 * bytes (built here with dns-packet) and setting only the ID of each copy. An answer counts when
 * it carries that ID, QR, RCODE 0 (NOERROR) and at least one answer record; anything else, or
 * no answer within the timeout, is a failure. The script first asks until an answer counts (the
 * cluster DNS says SERVFAIL until it knows the Services), then:
 *   - latency: queries one at a time, each timed with hrtime from its send to its answer;
 *   - throughput: a fixed number of queries with `inFlight` of them outstanding at all times
 *     (each answer sends the next): answers over the wall time of the whole batch.
 * The same client for every server, so its own cost cancels out in the comparison. It prints one
 * JSON line, with the first answer that counted so that the caller can check what it said.
 */
import * as dnsPacket from 'dns-packet';
import { dockerExec } from '../../helpers/docker.js';

export interface DnsLoadOptions {
  /** The server's address and port. */
  server: string;
  port: number;
  /** The name asked (type A). */
  name: string;
  /** Untimed queries, one at a time, after the first answer that counted. */
  warmUp: number;
  /** Timed queries, one at a time. */
  sequential: number;
  /** Queries of the throughput batch, and how many are outstanding at once. */
  total: number;
  inFlight: number;
  /** How long a query may go unanswered. */
  timeoutMs: number;
  /** How long the server has to give a first answer that counts. */
  readyMs: number;
}

export interface DnsLoadResult {
  /** Each sequential query's round trip, in µs. */
  latencyUs: number[];
  /** Answers per second of the throughput batch. */
  qps: number;
  /** Failed queries after the first good answer, by why ("timeout", "rcode 2", "no answer record"). */
  failures: Record<string, number>;
  /** The first answer that counted. */
  sample: dnsPacket.DecodedPacket;
}

/** Runs as `node -e Script '<options as JSON>'` (CommonJS: `require`); argv[1] is the options. */
export const DnsLoadScript = String.raw`
const { createSocket } = require('node:dgram');
const o = JSON.parse(process.argv[1]);
const template = Buffer.from(o.query, 'base64');
const socket = createSocket('udp4');
const pending = new Map();
const failures = {};
let lastId = 0;
const fail = (why) => (failures[why] = (failures[why] || 0) + 1);
// ICMP errors reach a connected socket as errors: the query they were about times out.
socket.on('error', () => undefined);
socket.on('message', (m) => {
  const at = process.hrtime.bigint();
  const query = m.length >= 12 ? pending.get(m.readUInt16BE(0)) : undefined;
  if (!query) return;
  pending.delete(m.readUInt16BE(0));
  clearTimeout(query.timer);
  const rcode = m[3] & 0x0f;
  const why = (m[2] & 0x80) === 0 ? 'not a response' : rcode !== 0 ? 'rcode ' + rcode : m.readUInt16BE(6) === 0 ? 'no answer record' : undefined;
  query.done({ error: why, us: Number(at - query.sentAt) / 1000, message: m });
});
const ask = () =>
  new Promise((done) => {
    do lastId = (lastId + 1) & 0xffff;
    while (pending.has(lastId));
    const id = lastId;
    const query = Buffer.from(template);
    query.writeUInt16BE(id, 0);
    const timer = setTimeout(() => {
      pending.delete(id);
      done({ error: 'timeout' });
    }, o.timeoutMs);
    pending.set(id, { timer, done, sentAt: process.hrtime.bigint() });
    socket.send(query);
  });
const sleep = (ms) => new Promise((done) => setTimeout(done, ms));
async function main() {
  await new Promise((done) => socket.connect(o.port, o.server, done));
  const readyBy = Date.now() + o.readyMs;
  let sample;
  while (!sample) {
    const answer = await ask();
    if (!answer.error) sample = answer.message.toString('base64');
    else if (Date.now() > readyBy) throw new Error('no good answer from ' + o.server + ' within ' + o.readyMs + ' ms: ' + answer.error);
    else await sleep(100);
  }
  for (let i = 0; i < o.warmUp; i++) {
    const answer = await ask();
    if (answer.error) fail(answer.error);
  }
  const latencyUs = [];
  for (let i = 0; i < o.sequential; i++) {
    const answer = await ask();
    if (answer.error) fail(answer.error);
    else latencyUs.push(answer.us);
  }
  let sent = 0;
  let answered = 0;
  const started = process.hrtime.bigint();
  const worker = async () => {
    while (sent < o.total) {
      sent++;
      const answer = await ask();
      if (answer.error) fail(answer.error);
      else answered++;
    }
  };
  await Promise.all(Array.from({ length: o.inFlight }, worker));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  socket.close();
  console.log(JSON.stringify({ latencyUs, qps: answered / seconds, failures, sample }));
}
main().catch((err) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
`;

/** The script's options: what `options` says, the query as base64. */
export function dnsLoadArgument(options: DnsLoadOptions): string {
  const query = dnsPacket.encode({ type: 'query', id: 0, flags: dnsPacket.RECURSION_DESIRED, questions: [{ name: options.name, type: 'A', class: 'IN' }] });
  return JSON.stringify({ ...options, query: query.toString('base64') });
}

/** Parses the script's output: its last JSON line. */
export function parseDnsLoad(output: string): DnsLoadResult {
  const line = output.split('\n').reverse().find((l) => l.startsWith('{'));
  if (!line) throw new Error(`the DNS load script printed no result: ${output.trim()}`);
  const raw = JSON.parse(line) as Omit<DnsLoadResult, 'sample'> & { sample: string };
  return { ...raw, sample: dnsPacket.decode(Buffer.from(raw.sample, 'base64')) };
}

/** Runs the load script in a running container that has node on its PATH. */
export async function dnsLoad(containerId: string, options: DnsLoadOptions): Promise<DnsLoadResult> {
  const { output, exitCode } = await dockerExec(containerId, ['node', '-e', DnsLoadScript, dnsLoadArgument(options)]);
  if (exitCode !== 0) throw new Error(`the DNS load script asking ${options.server}:${options.port} for ${options.name} failed (exit ${exitCode}): ${output.trim()}`);
  return parseDnsLoad(output);
}

/** The addresses of the A records of an answer. */
export const addressesOf = (packet: dnsPacket.DecodedPacket): string[] =>
  (packet.answers ?? []).flatMap((answer) => (answer.type === 'A' ? [answer.data] : []));
