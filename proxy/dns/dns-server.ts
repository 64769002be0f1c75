/**
 * The cluster DNS's sockets: UDP and TCP on one address and port (53 for pods, whose resolv.conf
 * cannot name another). Each message goes to the query handler; a TCP connection may carry many
 * (RFC 7766), answered in any order, and is closed when idle for TcpIdleTimeoutMs.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, isIPv6, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import { frame, readFrames, type DnsEndpoint } from './dns-transport.js';
import type { QueryHandler } from './query-handler.js';

/** How long a TCP connection may stay silent (CoreDNS: 10 s). */
const TcpIdleTimeoutMs = 10_000;

export class DnsServer {
  readonly #endpoint: DnsEndpoint;
  readonly #handler: QueryHandler;
  readonly #log: Logger;
  readonly #connections = new Set<Socket>();
  #udp: UdpSocket | undefined;
  #tcp: Server | undefined;

  constructor(endpoint: DnsEndpoint, handler: QueryHandler, logger: Logger) {
    this.#endpoint = endpoint;
    this.#handler = handler;
    this.#log = logger;
  }

  /** Binds both sockets; rejects (with neither bound) when one cannot be, with the system's error code. */
  async listen(): Promise<void> {
    const udp = createSocket({ type: isIPv6(this.#endpoint.host) ? 'udp6' : 'udp4' });
    const tcp = createServer((socket) => this.#serveConnection(socket));
    try {
      await new Promise<void>((resolve, reject) => {
        udp.once('error', reject);
        udp.bind(this.#endpoint.port, this.#endpoint.host, () => resolve());
      });
      await new Promise<void>((resolve, reject) => {
        tcp.once('error', reject);
        // Both on one port: with port 0 (tests), TCP takes the port UDP was given.
        tcp.listen(udp.address().port, this.#endpoint.host, () => resolve());
      });
    } catch (err) {
      udp.close();
      tcp.close();
      throw err;
    }
    udp.on('error', (err) => this.#log.error({ err: err.message }, 'the DNS UDP socket failed'));
    udp.on('message', (message, peer) => void this.#serveDatagram(udp, message, peer.address, peer.port));
    this.#udp = udp;
    this.#tcp = tcp;
  }

  /** Where it listens (the port UDP and TCP share), once listening. */
  get address(): DnsEndpoint | undefined {
    return this.#udp ? { host: this.#endpoint.host, port: this.#udp.address().port } : undefined;
  }

  async close(): Promise<void> {
    this.#udp?.close();
    for (const connection of this.#connections) connection.destroy();
    await new Promise<void>((resolve) => (this.#tcp ? this.#tcp.close(() => resolve()) : resolve()));
    this.#udp = undefined;
    this.#tcp = undefined;
  }

  async #serveDatagram(udp: UdpSocket, message: Buffer, host: string, port: number): Promise<void> {
    const response = await this.#respond(message, 'udp');
    if (response && this.#udp === udp) udp.send(response, port, host);
  }

  #serveConnection(socket: Socket): void {
    this.#connections.add(socket);
    socket.setTimeout(TcpIdleTimeoutMs, () => socket.destroy());
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.#connections.delete(socket));
    readFrames(socket, (message) => {
      void this.#respond(Buffer.from(message), 'tcp').then((response) => {
        if (response && !socket.destroyed) socket.write(frame(response));
      });
    });
  }

  async #respond(message: Buffer, transport: 'udp' | 'tcp'): Promise<Buffer | undefined> {
    try {
      return await this.#handler.respond(message, transport);
    } catch (err) {
      this.#log.error({ err: err instanceof Error ? err.message : String(err), transport }, 'a DNS query failed');
      return undefined;
    }
  }
}
