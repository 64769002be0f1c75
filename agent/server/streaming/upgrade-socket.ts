/**
 * The raw socket of an upgrade request. An `'upgrade'` listener owns it and has no
 * ServerResponse, so the 101 and every refusal before it are written here; after the upgrade it
 * gets the streaming idle timeout.
 */
import { STATUS_CODES, type IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';

/** How long a refused client may keep its side of the connection open after the answer. */
const RefusedConnectionGraceMs = 5_000;

/** Go's %v of a []string, which upstream's refusals print: "[a b]". */
export const goList = (items: readonly string[]): string => `[${items.join(' ')}]`;

/** wsstream.IsWebSocketRequest: "Upgrade: websocket" and a Connection header that lists upgrade. */
export function isWebSocketRequest(req: IncomingMessage): boolean {
  return (req.headers.upgrade ?? '').toLowerCase() === 'websocket' && /(^|,)\s*upgrade\s*($|,)/.test((req.headers.connection ?? '').toLowerCase());
}

export type HeaderList = ReadonlyArray<readonly [name: string, value: string]>;

function head(status: number, headers: HeaderList): string {
  const lines = [`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}`, ...headers.map(([name, value]) => `${name}: ${value}`)];
  return lines.join('\r\n') + '\r\n\r\n';
}

/**
 * Refuses the upgrade with `status` and a plain-text body (as Go's http.Error writes it: the
 * text and a newline), then closes the connection once the client has it.
 */
export function rejectUpgrade(socket: Duplex, status: number, message: string, headers: HeaderList = []): void {
  const body = Buffer.from(`${message}\n`);
  const all: HeaderList = [
    ...headers,
    ['Content-Type', 'text/plain; charset=utf-8'],
    ['X-Content-Type-Options', 'nosniff'],
    ['Content-Length', String(body.length)],
    ['Connection', 'close'],
  ];
  // Whatever the client still sends is read and dropped, so that closing does not reset the
  // connection before the client has read the answer; a client that never closes its side is
  // cut off after a grace period, so that it cannot hold the connection open.
  socket.resume();
  const cutOff = setTimeout(() => socket.destroy(), RefusedConnectionGraceMs);
  cutOff.unref();
  socket.once('close', () => clearTimeout(cutOff));
  socket.once('end', () => socket.destroy());
  socket.on('error', () => socket.destroy());
  socket.end(Buffer.concat([Buffer.from(head(status, all)), body]));
}

/** The 101 that completes an upgrade; the socket then speaks the new protocol. */
export function switchingProtocols(socket: Duplex, headers: HeaderList): void {
  socket.write(head(101, headers));
}

/**
 * Destroys the socket after `ms` without traffic either way (the kubelet's
 * --streaming-connection-idle-timeout). Sockets that are not TCP or TLS have no timer.
 */
export function destroyWhenIdle(socket: Duplex, ms: number, onIdle: () => void): void {
  if (!(socket instanceof Socket)) return;
  socket.setTimeout(ms, () => {
    onIdle();
    socket.destroy();
  });
}
