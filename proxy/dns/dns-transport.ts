/**
 * DNS messages over TCP (RFC 1035 4.2.2): each one after its length in two bytes. The packets
 * themselves are dns-packet's; this is the framing of a stream, and one exchange with a server.
 */
import { createSocket } from 'node:dgram';
import { connect, isIPv6, type Socket } from 'node:net';
import type { OptAnswer } from 'dns-packet';

/** A server to ask: a nameserver of the host's resolv.conf (port 53), or a test's resolver. */
export interface DnsEndpoint {
  host: string;
  port: number;
}

/** The largest message: TCP's length prefix is 16 bits. */
export const MaxMessage = 65_535;

/** An EDNS record (RFC 6891) offering `udpPayloadSize` bytes over UDP. */
export function ednsRecord(udpPayloadSize: number): OptAnswer {
  return { type: 'OPT', name: '.', udpPayloadSize, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] };
}

/** `message` with its length in front. */
export function frame(message: Buffer): Buffer {
  const length = Buffer.alloc(2);
  length.writeUInt16BE(message.length);
  return Buffer.concat([length, message]);
}

/** Calls `onMessage` with each whole message `socket` brings, however TCP cuts the stream. */
export function readFrames(socket: Socket, onMessage: (message: Buffer) => void): void {
  let pending: Buffer = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    while (pending.length >= 2) {
      const length = pending.readUInt16BE(0);
      if (pending.length < 2 + length) break;
      onMessage(pending.subarray(2, 2 + length));
      pending = pending.subarray(2 + length);
    }
  });
}

/** A reply read, when it answers the query sent; undefined for others, which are ignored while the exchange waits on. */
export type ReplyReader<T> = (reply: Buffer) => T | undefined;

const anyReply = (reply: Buffer): Buffer => reply;

/** Settles once: with the first reply, error or timeout, whichever comes first; `release` then frees the socket. */
function exchange<T>(what: string, timeoutMs: number, release: () => void, start: (done: (err: Error | undefined, reply?: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const done = (err: Error | undefined, reply?: T): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      release();
      if (err) reject(err);
      else resolve(reply!);
    };
    const timer = setTimeout(() => done(new Error(`no answer from ${what} in ${timeoutMs} ms`)), timeoutMs);
    start(done);
  });
}

/**
 * Sends `query` to `server` over UDP from a socket of its own, connected to the server (a fresh
 * source port each time, and only the server's datagrams arrive); resolves with the first reply
 * `read` takes, as it read it (the reply itself by default).
 */
export function udpExchange<T = Buffer>(server: DnsEndpoint, query: Buffer, timeoutMs: number, read: ReplyReader<T> = anyReply as ReplyReader<T>): Promise<T> {
  const socket = createSocket(isIPv6(server.host) ? 'udp6' : 'udp4');
  return exchange<T>(`${server.host}:${server.port} over UDP`, timeoutMs, () => socket.close(), (done) => {
    socket.on('error', (err) => done(err));
    socket.on('message', (reply) => {
      const answer = read(reply);
      if (answer !== undefined) done(undefined, answer);
    });
    socket.connect(server.port, server.host, () => socket.send(query));
  });
}

/** Sends `query` to `server` over a TCP connection of its own; resolves with the first message back `read` takes, as it read it. */
export function tcpExchange<T = Buffer>(server: DnsEndpoint, query: Buffer, timeoutMs: number, read: ReplyReader<T> = anyReply as ReplyReader<T>): Promise<T> {
  const socket = connect({ host: server.host, port: server.port });
  return exchange<T>(`${server.host}:${server.port} over TCP`, timeoutMs, () => socket.destroy(), (done) => {
    socket.on('error', (err) => done(err));
    socket.on('end', () => done(new Error(`${server.host}:${server.port} closed the TCP connection without an answer`)));
    readFrames(socket, (reply) => {
      const answer = read(Buffer.from(reply));
      if (answer !== undefined) done(undefined, answer);
    });
    if (query.length > MaxMessage) done(new Error(`a DNS message of ${query.length} bytes is too long for TCP`));
    else socket.write(frame(query));
  });
}
