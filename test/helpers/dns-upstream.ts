/**
 * A DNS resolver of the test's own on 127.0.0.1 (UDP and TCP, one port), standing for the host's
 * upstream: the cluster DNS forwards to it, so that no query of a test leaves this machine. It
 * answers A questions from `records` (NXDOMAIN for other names), can be told to stay silent, and
 * counts what it was asked.
 */
import { createSocket, type Socket as DgramSocket } from 'node:dgram';
import { createServer, type Server, type Socket } from 'node:net';
import * as dnsPacket from 'dns-packet';
import type { Answer } from 'dns-packet';
import { frame, readFrames } from '../../proxy/dns/dns-transport.js';

export interface FakeUpstream {
  host: string;
  port: number;
  /** "name/type" of each question asked, in order. */
  asked: string[];
  /** Set false to drop every query (an upstream that is down). */
  answering: boolean;
  close(): Promise<void>;
}

/** `records`: name -> its IPv4 addresses. Answers longer than 512 bytes come truncated over UDP, whole over TCP. */
export async function startFakeUpstream(records: Record<string, string[]>, options: { ttl?: number } = {}): Promise<FakeUpstream> {
  const ttl = options.ttl ?? 60;
  const upstream: FakeUpstream = { host: '127.0.0.1', port: 0, asked: [], answering: true, close: async () => undefined };
  const answer = (message: Buffer): Buffer | undefined => {
    const query = dnsPacket.decode(message);
    const question = query.questions![0]!;
    upstream.asked.push(`${question.name}/${question.type}`);
    if (!upstream.answering) return undefined;
    const addresses = records[question.name.toLowerCase()];
    const answers: Answer[] = question.type === 'A' ? (addresses ?? []).map((ip) => ({ name: question.name, type: 'A', ttl, data: ip })) : [];
    const rcode = addresses ? 0 : 3;
    const soa: Answer = { name: 'test', type: 'SOA', ttl, data: { mname: 'ns.test', rname: 'admin.test', serial: 1, refresh: 60, retry: 60, expire: 60, minimum: ttl } };
    return dnsPacket.encode({
      type: 'response',
      id: query.id ?? 0,
      flags: dnsPacket.RECURSION_AVAILABLE | ((query.flags ?? 0) & dnsPacket.RECURSION_DESIRED) | rcode,
      questions: [question],
      answers,
      authorities: addresses ? [] : [soa],
    });
  };
  // One port for both: the UDP socket's, free for UDP, may be taken for TCP by another process; then another.
  let udp!: DgramSocket;
  let tcp!: Server;
  const connections = new Set<Socket>();
  for (let attempt = 1; ; attempt++) {
    udp = createSocket('udp4');
    udp.on('message', (message, peer) => {
      const reply = answer(message);
      if (!reply) return;
      const limit = 512;
      // A plain server: anything longer than 512 bytes comes truncated over UDP.
      if (reply.length > limit) {
        const decoded = dnsPacket.decode(reply);
        udp.send(dnsPacket.encode({ ...decoded, flags: (decoded.flags ?? 0) | dnsPacket.TRUNCATED_RESPONSE, answers: [], authorities: [] }), peer.port, peer.address);
      } else udp.send(reply, peer.port, peer.address);
    });
    await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', () => resolve()));
    upstream.port = udp.address().port;
    tcp = createServer((socket) => {
      connections.add(socket);
      socket.on('close', () => connections.delete(socket));
      socket.on('error', () => socket.destroy());
      readFrames(socket, (message) => {
        const reply = answer(Buffer.from(message));
        if (reply) socket.write(frame(reply));
      });
    });
    const listening = await new Promise<boolean>((resolve, reject) => {
      tcp.once('error', (err: NodeJS.ErrnoException) => (err.code === 'EADDRINUSE' && attempt < 5 ? resolve(false) : reject(err)));
      tcp.listen(upstream.port, '127.0.0.1', () => resolve(true));
    });
    if (listening) break;
    udp.close();
  }
  upstream.close = async () => {
    udp.close();
    for (const socket of connections) socket.destroy();
    await new Promise<void>((resolve) => tcp.close(() => resolve()));
  };
  return upstream;
}
