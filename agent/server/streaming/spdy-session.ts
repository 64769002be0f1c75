/**
 * The SPDY/3.1 side of the kubelet's streaming endpoints: protocol negotiation as
 * httpstream.Handshake does it, the 101 of spdy.responseUpgrader, then a spdy-transport server
 * connection on the socket.
 *
 * The peers are Go's spdystream (client-go, kubectl, the API server's proxy), which speaks SPDY/3
 * framing with none of its flow control and none of HTTP's pseudo-headers. spdy-transport expects
 * both, so three adjustments are made here, and only here:
 * - streams a Go client opens carry no `:method`/`:path`, which spdy-transport's parser rejects as a
 *   connection error: blank ones are filled in before that check;
 * - spdystream never sends WINDOW_UPDATE, so spdy-transport would stop sending on a stream after
 *   its first 64 KiB: each stream's send window is topped up whenever it runs low, as a peer that
 *   reads everything would do;
 * - the connection runs as version 3, which leaves out SPDY/3.1's session window for the same reason
 *   (the frames on the wire are the same: 3.1 only adds that window).
 * close() flushes every queued frame before ending the socket: spdystream stops reading at a GOAWAY,
 * and spdy-transport queues GOAWAY and RST_STREAM ahead of data frames, so the tail of the output
 * would be lost if the connection were closed the way spdy-transport's end() does it.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import transport, { type Connection, type Stream } from 'spdy-transport';
import { destroyWhenIdle, goList, rejectUpgrade, switchingProtocols } from './upgrade-socket.js';

export type { Stream as SpdyStream } from 'spdy-transport';

/** How long a closed session waits for the client to close its side before dropping the socket. */
const closeLingerMs = 10_000;

export interface SpdySession {
  /** The protocol version negotiated through X-Stream-Protocol-Version. */
  readonly protocol: string;
  /** Settles when the connection is gone, whichever side ended it. */
  readonly closed: Promise<void>;
  /** Each stream the client opens; the handler answers it with accept() or refuses it with abort(). */
  onStream(handler: (stream: Stream) => void): void;
  /** Sends what is already written on every stream, then closes the connection. */
  close(): void;
}

export interface SpdyUpgradeOptions {
  /** The versions this endpoint speaks, preferred first. */
  protocols: readonly string[];
  logger: Logger;
  idleTimeoutMs: number;
}

/** Every value of every X-Stream-Protocol-Version header, comma-separated values split. */
function offeredProtocols(req: IncomingMessage): string[] {
  const values = req.headersDistinct['x-stream-protocol-version'] ?? [];
  return values.flatMap((value) => value.split(',').map((item) => item.trim())).filter((item) => item !== '');
}

function isSpdyUpgrade(req: IncomingMessage): boolean {
  const connection = (req.headers.connection ?? '').toLowerCase();
  const upgrade = (req.headers.upgrade ?? '').toLowerCase();
  return connection.includes('upgrade') && upgrade.includes('spdy/3.1');
}

/** The first value of a stream header, as Go's Header.Get gives it. */
export function streamHeader(stream: Stream, name: string): string {
  const value = stream.headers[name.toLowerCase()];
  return (Array.isArray(value) ? value[0] : value) ?? '';
}

/** Answers a stream the client opened (SYN_REPLY); resolves once the reply is queued before any data. */
export function acceptStream(stream: Stream): Promise<void> {
  return new Promise((resolve) => stream.respond(200, {}, () => resolve()));
}

function adaptToGoPeers(connection: Connection): void {
  const parser = connection._spdyState.parser;
  const parseKVs = parser.parseKVs.bind(parser);
  parser.parseKVs = (buffer, callback) =>
    parseKVs(buffer, (err, headers) => callback(err, headers && { ':method': 'POST', ':path': '/', ...headers }));
  connection.prependListener('stream', (stream: Stream) => {
    const send = stream._spdyState.window.send;
    send.on('drain', () => send.update(send.getDelta()));
  });
}

/**
 * Negotiates and completes the upgrade, or refuses it as upstream does (400 without a version
 * header or upgrade headers, 403 with X-Accepted-Stream-Protocol-Versions when no version matches)
 * and returns undefined.
 */
export function acceptSpdy(req: IncomingMessage, socket: Duplex, head: Buffer, options: SpdyUpgradeOptions): SpdySession | undefined {
  const offered = offeredProtocols(req);
  if (offered.length === 0) {
    rejectUpgrade(socket, 400, 'unable to upgrade: X-Stream-Protocol-Version is required');
    return undefined;
  }
  const protocol = offered.find((version) => options.protocols.includes(version));
  if (protocol === undefined) {
    const accepted = options.protocols.map((version) => ['X-Accepted-Stream-Protocol-Versions', version] as const);
    rejectUpgrade(socket, 403, `unable to upgrade: unable to negotiate protocol: client supports ${goList(offered)}, server accepts ${goList(options.protocols)}`, accepted);
    return undefined;
  }
  if (!isSpdyUpgrade(req)) {
    rejectUpgrade(socket, 400, `unable to upgrade: missing upgrade headers in request: Connection=${JSON.stringify(req.headers.connection ?? '')} Upgrade=${JSON.stringify(req.headers.upgrade ?? '')}`);
    return undefined;
  }

  switchingProtocols(socket, [
    ['Connection', 'Upgrade'],
    ['Upgrade', 'SPDY/3.1'],
    ['X-Stream-Protocol-Version', protocol],
  ]);
  if (head.length > 0) socket.unshift(head);
  destroyWhenIdle(socket, options.idleTimeoutMs, () => options.logger.debug({ protocol }, 'streaming connection idle, closing'));

  let closing = false;
  const connection = transport.connection.create(socket, { protocol: 'spdy', isServer: true });
  connection.on('error', (err: Error & { code?: string }) => {
    // After close() the framer has ended; the resets spdy-transport still queues when the socket
    // goes are expected to find it so.
    if (closing && err.code === 'ERR_STREAM_PUSH_AFTER_EOF') return;
    options.logger.debug({ err, protocol }, 'SPDY connection error');
  });
  adaptToGoPeers(connection);
  connection.start(3);

  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  return {
    protocol,
    closed,
    onStream: (handler) => connection.on('stream', (stream: Stream) => {
      stream.on('error', (err: Error) => options.logger.debug({ err, stream: stream.id }, 'SPDY stream error'));
      handler(stream);
    }),
    close() {
      if (closing) return;
      closing = true;
      const { parser, framer } = connection._spdyState;
      // Frames arriving from now on are not answered; what is queued goes out in order, and the
      // framer's end makes its pipe end the socket after the last byte.
      parser.kill();
      framer.dump();
      framer.push(null);
      const linger = setTimeout(() => socket.destroy(), closeLingerMs).unref();
      void closed.then(() => clearTimeout(linger));
    },
  };
}
