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
const MaxMessage = 65_535;

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

/** Sends `query` to `server` over UDP from a socket of its own (a fresh source port each time); resolves with the first datagram back. */
export function udpExchange(server: DnsEndpoint, query: Buffer, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = createSocket(isIPv6(server.host) ? 'udp6' : 'udp4');
    const done = (err: Error | undefined, reply?: Buffer): void => {
      clearTimeout(timer);
      socket.close();
      if (err) reject(err);
      else resolve(reply!);
    };
    const timer = setTimeout(() => done(new Error(`no answer from ${server.host}:${server.port} over UDP in ${timeoutMs} ms`)), timeoutMs);
    socket.on('error', (err) => done(err));
    socket.on('message', (reply) => done(undefined, reply));
    socket.send(query, server.port, server.host);
  });
}

/** Sends `query` to `server` over a TCP connection of its own; resolves with the one message back. */
export function tcpExchange(server: DnsEndpoint, query: Buffer, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: server.host, port: server.port });
    const done = (err: Error | undefined, reply?: Buffer): void => {
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(reply!);
    };
    const timer = setTimeout(() => done(new Error(`no answer from ${server.host}:${server.port} over TCP in ${timeoutMs} ms`)), timeoutMs);
    socket.on('error', (err) => done(err));
    socket.on('end', () => done(new Error(`${server.host}:${server.port} closed the TCP connection without an answer`)));
    readFrames(socket, (reply) => done(undefined, Buffer.from(reply)));
    if (query.length > MaxMessage) done(new Error(`a DNS message of ${query.length} bytes is too long for TCP`));
    else socket.write(frame(query));
  });
}
