/**
 * Real TCP and UDP servers on loopback standing in for endpoints, and clients, for the userspace
 * datapath tests. Everything opened here is registered; `closeAll()` in an afterEach closes it.
 */
import { createSocket, type RemoteInfo, type Socket as UdpSocket } from 'node:dgram';
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { pino } from 'pino';
import type { EndpointInfo } from '../../../proxy/datapath/proxier.js';

export const silentLogger = pino({ level: 'silent' });

const closers: (() => Promise<void>)[] = [];

/** Registers something for closeAll(). */
export function onCleanup(close: () => Promise<void> | void): void {
  closers.push(async () => {
    await close();
  });
}

/** Closes everything opened since the last call, newest first. */
export async function closeAll(): Promise<void> {
  const pending = closers.splice(0).reverse();
  for (const close of pending) await close();
}

export interface TcpBackend {
  server: Server;
  endpoint: EndpointInfo;
  /** Remote ports of the connections it accepted, in order. */
  accepted: number[];
}

/**
 * A TCP server on 127.0.0.1. `mode` 'name' writes `name` and ends; 'echo' echoes every byte
 * and ends after the client ended; 'reply-after-end' collects until the client ends, then
 * writes `name:` + what it got, in `replyChunks` pieces, and ends.
 */
export async function tcpBackend(name: string, mode: 'name' | 'echo' | 'reply-after-end' = 'name'): Promise<TcpBackend> {
  const accepted: number[] = [];
  const sockets = new Set<Socket>();
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    accepted.push(socket.remotePort ?? 0);
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    if (mode === 'name') socket.end(name);
    else if (mode === 'echo') socket.pipe(socket);
    else {
      const chunks: Buffer[] = [];
      socket.on('data', (chunk: Buffer) => chunks.push(chunk));
      socket.on('end', () => socket.end(`${name}:${Buffer.concat(chunks).toString()}`));
    }
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  onCleanup(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { server, endpoint: { ip: '127.0.0.1', port: (server.address() as AddressInfo).port }, accepted };
}

/** A port on `host` that no TCP (or UDP) socket uses: it was free a moment ago. */
export async function freePort(host = '127.0.0.1', protocol: 'TCP' | 'UDP' = 'TCP'): Promise<number> {
  if (protocol === 'UDP') {
    const socket = createSocket('udp4');
    socket.bind(0, host);
    await once(socket, 'listening');
    const { port } = socket.address();
    await new Promise<void>((resolve) => socket.close(() => resolve()));
    return port;
  }
  const server = createServer();
  server.listen(0, host);
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * Connects to host:port (from the local address `from`, when given), writes `payload` (if any),
 * ends, and resolves with all it read until the other side ended.
 */
export function request(port: number, host = '127.0.0.1', payload?: string | Buffer, from?: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, allowHalfOpen: true, ...(from ? { localAddress: from } : {}) });
    onCleanup(() => void socket.destroy());
    const chunks: Buffer[] = [];
    socket.on('connect', () => {
      if (payload !== undefined) socket.write(payload);
      socket.end();
    });
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => resolve(Buffer.concat(chunks)));
    socket.on('error', reject);
  });
}

/** A TCP client connection, connected. */
export async function tcpClient(port: number, host = '127.0.0.1'): Promise<Socket> {
  const socket = connect({ host, port, allowHalfOpen: true });
  onCleanup(() => void socket.destroy());
  await once(socket, 'connect');
  return socket;
}

/** Closes a UDP socket unless it is closed already. */
export function closeUdp(socket: UdpSocket): Promise<void> {
  return new Promise((resolve) => {
    try {
      socket.close(() => resolve());
    } catch {
      resolve();
    }
  });
}

export interface UdpBackend {
  socket: UdpSocket;
  endpoint: EndpointInfo;
  /** Who sent each datagram it got ("ip:port"), in order. */
  senders: string[];
}

/** A UDP server on 127.0.0.1 that answers every datagram with `name:` + the datagram. */
export async function udpBackend(name: string): Promise<UdpBackend> {
  const socket = createSocket('udp4');
  const senders: string[] = [];
  socket.on('message', (message: Buffer, from: RemoteInfo) => {
    senders.push(`${from.address}:${from.port}`);
    socket.send(`${name}:${message.toString()}`, from.port, from.address);
  });
  socket.bind(0, '127.0.0.1');
  await once(socket, 'listening');
  onCleanup(() => closeUdp(socket));
  return { socket, endpoint: { ip: '127.0.0.1', port: socket.address().port }, senders };
}

/** A UDP client socket on `address`. */
export async function udpClient(address = '127.0.0.1'): Promise<UdpSocket> {
  const socket = createSocket('udp4');
  socket.bind(0, address);
  await once(socket, 'listening');
  onCleanup(() => closeUdp(socket));
  return socket;
}

/** Sends `text` to host:port from `socket` and resolves with the next datagram it receives. */
export async function udpAsk(socket: UdpSocket, port: number, text: string, host = '127.0.0.1'): Promise<string> {
  const reply = once(socket, 'message') as Promise<[Buffer, RemoteInfo]>;
  socket.send(text, port, host);
  const [message] = await reply;
  return message.toString();
}
