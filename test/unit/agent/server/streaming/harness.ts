/**
 * What the streaming tests share: a real HTTP server on 127.0.0.1 whose 'upgrade' listener is the
 * code under test, a fake process behind AttachedProcess, and clients that speak as Go's do
 * (spdystream: no pseudo-headers on SYN_STREAM, no WINDOW_UPDATE) and as ws does.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { Duplex, PassThrough } from 'node:stream';
import transport, { type Connection, type Stream } from 'spdy-transport';
import { WebSocket } from 'ws';
import type { AttachedProcess, TerminalSize } from '../../../../../agent/runtime/runtime.js';

type UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer) => void;

const servers: Server[] = [];
const sockets = new Set<Duplex>();

/** Starts a server whose upgrade requests go to `handler`; returns its port. */
export async function upgradeServer(handler: UpgradeHandler): Promise<number> {
  const server = createServer((_req, res) => res.writeHead(404).end());
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    sockets.add(socket);
    handler(req, socket, head);
  });
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

/** Closes every server and socket opened since the last call (afterEach). */
export async function closeAll(): Promise<void> {
  for (const socket of sockets) socket.destroy();
  sockets.clear();
  await Promise.all(servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
}

export function track<T extends Duplex>(socket: T): T {
  sockets.add(socket);
  return socket;
}

/** A process that echoes stdin to stdout, records resizes, and exits when told to. */
export class FakeProcess implements AttachedProcess {
  readonly stdin: PassThrough | undefined;
  readonly stdout: PassThrough | undefined;
  readonly stderr: PassThrough | undefined;
  readonly resizes: TerminalSize[] = [];
  readonly exited: Promise<{ exitCode?: number }>;
  detached = false;
  private exitWith!: (result: { exitCode?: number }) => void;

  constructor(streams: { stdin: boolean; stdout: boolean; stderr: boolean }) {
    this.stdin = streams.stdin ? new PassThrough() : undefined;
    this.stdout = streams.stdout ? new PassThrough() : undefined;
    this.stderr = streams.stderr ? new PassThrough() : undefined;
    if (this.stdin && this.stdout) this.stdin.pipe(this.stdout, { end: false });
    this.exited = new Promise((resolve) => (this.exitWith = resolve));
  }

  async resize(size: TerminalSize): Promise<void> {
    this.resizes.push(size);
  }

  /** Ends the output streams, then settles `exited` with `exitCode`. */
  exit(exitCode: number): void {
    this.stdout?.end();
    this.stderr?.end();
    this.exitWith({ exitCode });
  }

  detach(): void {
    this.detached = true;
  }
}

export interface UpgradeAnswer {
  status: number;
  headers: Record<string, string | string[]>;
  body: string;
  socket: Socket;
}

/** Sends an upgrade request by hand and reads the answer's head (and the body of a refusal). */
export async function rawUpgrade(port: number, path: string, headers: Record<string, string | string[]>): Promise<UpgradeAnswer> {
  const socket = track(connect(port, '127.0.0.1'));
  await once(socket, 'connect');
  const lines = [`POST ${path} HTTP/1.1`, `Host: 127.0.0.1:${port}`];
  for (const [name, value] of Object.entries(headers)) for (const item of [value].flat()) lines.push(`${name}: ${item}`);
  socket.write(lines.join('\r\n') + '\r\n\r\n');
  let received = Buffer.alloc(0);
  for (;;) {
    const [chunk] = (await once(socket, 'data')) as [Buffer];
    received = Buffer.concat([received, chunk]);
    const end = received.indexOf('\r\n\r\n');
    if (end === -1) continue;
    const [statusLine, ...headerLines] = received.subarray(0, end).toString('latin1').split('\r\n');
    const answerHeaders: Record<string, string | string[]> = {};
    for (const line of headerLines) {
      const [name, ...rest] = line.split(':');
      const key = name!.toLowerCase();
      const value = rest.join(':').trim();
      const previous = answerHeaders[key];
      answerHeaders[key] = previous === undefined ? value : [previous, value].flat();
    }
    const status = Number(statusLine!.split(' ')[1]);
    let rest = received.subarray(end + 4);
    if (status !== 101) {
      socket.on('data', (chunk: Buffer) => (rest = Buffer.concat([rest, chunk])));
      await once(socket, 'end');
      return { status, headers: answerHeaders, body: rest.toString(), socket };
    }
    socket.pause();
    if (rest.length > 0) socket.unshift(rest);
    return { status, headers: answerHeaders, body: '', socket };
  }
}

/**
 * The socket as spdy-transport should see it to read as spdystream does: the end of the
 * connection comes after every frame before it. spdy-transport drops its streams when the socket
 * closes, which can overtake frames whose headers are still being inflated; here the close is
 * held back until the parser has taken in everything (the caller destroys it then).
 */
function inOrder(socket: Socket): Duplex {
  const wire = new Duplex({
    // spdy-transport asks for no half-open sockets, which would close this one at its end.
    autoDestroy: false,
    read: () => socket.resume(),
    write: (chunk: Buffer, _encoding, done) => socket.write(chunk, () => done()),
    final: (done) => {
      socket.end();
      done();
    },
  });
  socket.on('data', (chunk: Buffer) => {
    if (!wire.push(chunk)) socket.pause();
  });
  socket.on('end', () => wire.push(null));
  socket.on('error', () => wire.destroy());
  return wire;
}

/** A SPDY client that behaves as Go's spdystream does towards the server. */
export class GoLikeSpdyClient {
  private constructor(readonly connection: Connection, readonly answer: UpgradeAnswer) {}

  static async connect(port: number, path: string, protocols: string[]): Promise<GoLikeSpdyClient> {
    const answer = await rawUpgrade(port, path, { Connection: 'Upgrade', Upgrade: 'SPDY/3.1', 'X-Stream-Protocol-Version': protocols });
    if (answer.status !== 101) throw new Error(`upgrade refused: ${answer.status} ${answer.body}`);
    const wire = inOrder(answer.socket);
    const connection = transport.connection.create(wire, { protocol: 'spdy', isServer: false });
    connection.on('error', () => undefined);
    connection._spdyState.parser.once('finish', () => wire.destroy());
    const framer = connection._spdyState.framer;
    const headersToDict = framer.headersToDict.bind(framer);
    framer.headersToDict = (headers, preprocess, callback) =>
      headersToDict(
        headers,
        (all) => {
          preprocess?.(all);
          for (const name of Object.keys(all)) if (name.startsWith(':')) delete all[name];
        },
        callback,
      );
    // spdystream sends neither SETTINGS (a window size among them) nor WINDOW_UPDATE.
    framer.settingsFrame = () => undefined;
    framer.windowUpdateFrame = () => undefined;
    connection.start(3);
    return new GoLikeSpdyClient(connection, answer);
  }

  /**
   * Opens a stream with these headers; resolves once the server has replied. What the server
   * sends on it is collected from the start, as spdystream hands it over before it reports the
   * connection's end.
   */
  openStream(headers: Record<string, string>): Promise<ClientStream> {
    return new Promise((resolve, reject) => {
      const stream = this.connection.request({ method: 'POST', path: '/', headers }, (err) => {
        if (err) reject(err);
      });
      stream.on('error', () => undefined);
      const received = collect(stream);
      stream.once('response', () => resolve({ stream, received }));
    });
  }
}

export interface ClientStream {
  stream: Stream;
  /** Everything received, once the stream has ended or closed. */
  received: Promise<Buffer>;
}

function collect(stream: Stream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  return new Promise((resolve) => {
    const done = (): void => resolve(Buffer.concat(chunks));
    stream.once('end', done);
    stream.once('close', done);
  });
}

/** A ws client that collects every message it receives, by channel. */
export class ChannelClient {
  readonly messages: Buffer[] = [];
  readonly closed: Promise<{ code: number }>;

  private constructor(readonly ws: WebSocket) {
    // Listening from the start: the server's first message can come with the 101.
    ws.on('message', (data: Buffer) => this.messages.push(this.base64 ? Buffer.concat([Buffer.of(data[0]! - 0x30), Buffer.from(data.subarray(1).toString(), 'base64')]) : data));
    ws.on('error', () => undefined);
    this.closed = new Promise((resolve) => ws.once('close', (code: number) => resolve({ code })));
  }

  static async connect(port: number, path: string, protocols: string[]): Promise<ChannelClient> {
    const client = new ChannelClient(new WebSocket(`ws://127.0.0.1:${port}${path}`, protocols));
    await once(client.ws, 'open');
    return client;
  }

  get base64(): boolean {
    return this.ws.protocol.includes('base64');
  }

  /** The bytes received on `channel`, in order. */
  channel(channel: number): Buffer {
    return Buffer.concat(this.messages.filter((message) => message[0] === channel).map((message) => message.subarray(1)));
  }

  send(channel: number, data: Buffer | string): void {
    const bytes = Buffer.from(data);
    if (this.base64) this.ws.send(String.fromCharCode(0x30 + channel) + bytes.toString('base64'));
    else this.ws.send(Buffer.concat([Buffer.of(channel), bytes]));
  }
}
