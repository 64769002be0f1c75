/**
 * The WebSocket side of the kubelet's streaming endpoints: the channel protocol of upstream's
 * wsstream (k8s.io/apiserver/pkg/util/wsstream conn.go). Several byte streams share one WebSocket;
 * every message starts with its channel number:
 * - binary subprotocols ("" when the client names none, channel.k8s.io, v4.channel.k8s.io,
 *   v5.channel.k8s.io): a binary message whose first byte is the channel;
 * - base64 subprotocols (base64.channel.k8s.io, v4.base64.channel.k8s.io): a text message whose
 *   first character is the channel as an ASCII digit and whose rest is base64;
 * - v5.channel.k8s.io adds CLOSE: a message [255, channel] from the client ends that channel, which
 *   is how a v5 client signals the end of stdin (older versions cannot).
 * Empty messages and messages for unknown channels are dropped. The server sends no pings (clients
 * such as client-go ping, and ws answers); idleness is bounded by the caller's idle timeout.
 * A request offering only subprotocols the endpoint does not speak is refused before the upgrade
 * with 403, as golang.org/x/net/websocket refuses a failed handshake for wsstream; clients take any
 * refusal as the signal to fall back to SPDY.
 */
import type { IncomingMessage } from 'node:http';
import { Readable, Writable, type Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { destroyWhenIdle, goList, rejectUpgrade } from './upgrade-socket.js';

export interface ChannelCodec {
  base64: boolean;
  /** The client may end a channel with [255, channel] (v5). */
  streamClose: boolean;
}

const binary: ChannelCodec = { base64: false, streamClose: false };
const base64: ChannelCodec = { base64: true, streamClose: false };

/** Every channel subprotocol, by name; each endpoint accepts its own subset. */
export const ChannelProtocols: Readonly<Record<string, ChannelCodec>> = {
  '': binary,
  'channel.k8s.io': binary,
  'base64.channel.k8s.io': base64,
  'v4.channel.k8s.io': binary,
  'v4.base64.channel.k8s.io': base64,
  'v5.channel.k8s.io': { base64: false, streamClose: true },
};

/** What the server does with a channel: read what the client sends on it, write to it, both, or neither. */
export type ChannelMode = 'read' | 'write' | 'read-write' | 'ignore';

const closeSignal = 255;

export interface WebSocketUpgradeOptions {
  /** The subprotocols this endpoint speaks ("" for a client that names none). */
  protocols: readonly string[];
  logger: Logger;
  idleTimeoutMs: number;
}

/**
 * Negotiates the subprotocol (the first one the client offers that the endpoint speaks) and
 * completes the upgrade; resolves undefined when it refused the request instead.
 */
export function acceptWebSocket(req: IncomingMessage, socket: Duplex, head: Buffer, options: WebSocketUpgradeOptions): Promise<{ ws: WebSocket; protocol: string } | undefined> {
  const header = (req.headers['sec-websocket-protocol'] ?? '').trim();
  const offered = header === '' ? [''] : header.split(',').map((item) => item.trim());
  const protocol = offered.find((name) => options.protocols.includes(name));
  if (protocol === undefined) {
    rejectUpgrade(socket, 403, `requested protocol(s) are not supported: ${goList(offered)}; supports ${goList(options.protocols)}`);
    return Promise.resolve(undefined);
  }
  const server = new WebSocketServer({ noServer: true, clientTracking: false, handleProtocols: () => protocol });
  return new Promise((resolve) => {
    // ws answers a malformed handshake itself (400) and never calls back.
    socket.once('close', () => resolve(undefined));
    server.handleUpgrade(req, socket, head, (ws) => {
      // ws clears the socket's timeout when it takes the socket over.
      destroyWhenIdle(socket, options.idleTimeoutMs, () => options.logger.debug({ protocol }, 'streaming connection idle, closing'));
      ws.on('error', (err) => options.logger.debug({ err, protocol }, 'WebSocket error'));
      resolve({ ws, protocol });
    });
  });
}

/** The channels of one WebSocket, as Node streams. */
export class WebSocketChannels {
  /** Settles when the WebSocket has closed, whichever side closed it. */
  readonly closed: Promise<void>;
  private readonly readers = new Map<number, Readable>();
  private readonly writers = new Map<number, Writable>();
  /** Channels whose reader is full: the socket is not read while any is. */
  private readonly full = new Set<number>();
  private readonly ended = new Set<number>();

  constructor(
    private readonly ws: WebSocket,
    private readonly codec: ChannelCodec,
    modes: readonly ChannelMode[],
    private readonly logger: Logger,
  ) {
    modes.forEach((mode, channel) => {
      if (mode === 'read' || mode === 'read-write') {
        this.readers.set(channel, new Readable({ read: () => this.drained(channel) }));
      }
      if (mode === 'write' || mode === 'read-write') {
        this.writers.set(channel, new Writable({ write: (chunk: Buffer, _encoding, done) => void this.send(channel, chunk).then(() => done()) }));
      }
    });
    ws.on('message', (data: RawData) => this.receive(Buffer.isBuffer(data) ? data : Buffer.concat(Array.isArray(data) ? data : [Buffer.from(data)])));
    this.closed = new Promise((resolve) =>
      ws.once('close', () => {
        for (const channel of this.readers.keys()) this.endReader(channel);
        resolve();
      }),
    );
  }

  /** What the client sends on `channel`, for a channel read by the server. */
  reader(channel: number): Readable | undefined {
    return this.readers.get(channel);
  }

  /** Where the server writes `channel`, for a channel written by the server. */
  writer(channel: number): Writable | undefined {
    return this.writers.get(channel);
  }

  /** Sends one message on `channel`; settles once it is written (or dropped, the socket being closed). */
  send(channel: number, data: Buffer): Promise<void> {
    if (this.ws.readyState !== WebSocket.OPEN) return Promise.resolve();
    const frame = this.codec.base64 ? String.fromCharCode(0x30 + channel) + data.toString('base64') : Buffer.concat([Buffer.of(channel), data]);
    return new Promise((resolve) =>
      this.ws.send(frame, { binary: !this.codec.base64 }, (err) => {
        if (err) this.logger.debug({ err, channel }, 'WebSocket write failed');
        resolve();
      }),
    );
  }

  /** Closes the WebSocket normally (1000) after the messages already sent. */
  close(): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.close(1000);
  }

  private receive(message: Buffer): void {
    if (message.length === 0) return;
    if (this.codec.streamClose && message[0] === closeSignal) {
      if (message.length === 2) this.endReader(message[1]!);
      return;
    }
    const channel = this.codec.base64 ? message[0]! - 0x30 : message[0]!;
    const reader = this.readers.get(channel);
    if (!reader || this.ended.has(channel)) return;
    const payload = this.codec.base64 ? Buffer.from(message.subarray(1).toString('latin1'), 'base64') : message.subarray(1);
    if (!reader.push(payload)) {
      this.full.add(channel);
      this.ws.pause();
    }
  }

  private drained(channel: number): void {
    this.full.delete(channel);
    if (this.full.size === 0) this.ws.resume();
  }

  private endReader(channel: number): void {
    const reader = this.readers.get(channel);
    if (!reader || this.ended.has(channel)) return;
    this.ended.add(channel);
    reader.push(null);
    this.drained(channel);
  }
}
