/**
 * The cluster DNS's sockets: UDP and TCP on one address and port (53 for pods, whose resolv.conf
 * cannot name another). Each message goes to the query handler; a TCP connection may carry many
 * (RFC 7766), answered in any order, and is closed when idle for TcpIdleTimeoutMs; at most
 * MaxTcpConnections are open, and one whose reader lets more than MaxTcpPendingBytes of answers
 * pile up is closed. Only clients of the allowed networks (the pods'), the host's own addresses
 * and loopback are answered (dnsClients).
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, isIPv6, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import type { Ipv4Cidr } from '../../common/util/ipv4.js';
import { nodeClients, type NodeClient, type NodeClientsOptions } from '../node-clients.js';
import { frame, readFrames, type DnsEndpoint } from './dns-transport.js';
import type { QueryHandler } from './query-handler.js';

/** How long a TCP connection may stay silent (CoreDNS: 10 s). */
const TcpIdleTimeoutMs = 10_000;

/** TCP connections at once: a client holding many cannot take every descriptor. */
const MaxTcpConnections = 256;

/** Answers a TCP client may leave unread before its connection is closed. */
const MaxTcpPendingBytes = 256 * 1024;

/**
 * Whose queries are answered: with `clients` given, the node's own (loopback, this host's
 * addresses: a host process asking through the DNS ClusterIP) and those networks', anyone else's
 * being dropped so that the server is no open resolver; without, everyone's. `host` is for tests.
 */
export function dnsClients(clients: readonly Ipv4Cidr[] | undefined, host: Omit<NodeClientsOptions, 'networks'> = {}): NodeClient {
  return clients ? nodeClients({ ...host, networks: clients }) : () => true;
}

export class DnsServer {
  readonly #endpoint: DnsEndpoint;
  readonly #handler: QueryHandler;
  readonly #log: Logger;
  readonly #connections = new Set<Socket>();
  readonly #allowed: NodeClient;
  #udp: UdpSocket | undefined;
  #tcp: Server | undefined;

  /** `clients`: the networks whose queries are answered (with loopback); none given: all. */
  constructor(endpoint: DnsEndpoint, handler: QueryHandler, logger: Logger, clients?: readonly Ipv4Cidr[]) {
    this.#endpoint = endpoint;
    this.#handler = handler;
    this.#log = logger;
    this.#allowed = dnsClients(clients);
  }

  /**
   * Binds both sockets; rejects (with neither bound) when one cannot be, with the system's error
   * code. With port 0 (tests), TCP takes the port UDP was given, which TCP may already use: then
   * another pair is tried.
   */
  async listen(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#bind();
      } catch (err) {
        if (this.#endpoint.port !== 0 || (err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= 5) throw err;
      }
    }
  }

  async #bind(): Promise<void> {
    const udp = createSocket({ type: isIPv6(this.#endpoint.host) ? 'udp6' : 'udp4' });
    const tcp = createServer((socket) => this.#serveConnection(socket));
    tcp.maxConnections = MaxTcpConnections;
    try {
      await new Promise<void>((resolve, reject) => {
        udp.once('error', reject);
        udp.bind(this.#endpoint.port, this.#endpoint.host, () => resolve());
      });
      await new Promise<void>((resolve, reject) => {
        tcp.once('error', reject);
        tcp.listen(udp.address().port, this.#endpoint.host, () => resolve());
      });
    } catch (err) {
      udp.close();
      tcp.close();
      throw err;
    }
    tcp.on('error', (err) => this.#log.error({ err: err.message }, 'the DNS TCP server failed to accept a connection'));
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
    const udp = this.#udp;
    const tcp = this.#tcp;
    // Cleared first: a query answered meanwhile finds no socket to send on.
    this.#udp = undefined;
    this.#tcp = undefined;
    udp?.close();
    for (const connection of this.#connections) connection.destroy();
    await new Promise<void>((resolve) => (tcp ? tcp.close(() => resolve()) : resolve()));
  }

  async #serveDatagram(udp: UdpSocket, message: Buffer, host: string, port: number): Promise<void> {
    if (!this.#allowed(host)) return;
    const response = await this.#respond(message, 'udp');
    if (response && this.#udp === udp) udp.send(response, port, host);
  }

  #serveConnection(socket: Socket): void {
    if (!this.#allowed(socket.remoteAddress ?? '')) return void socket.destroy();
    this.#connections.add(socket);
    socket.setTimeout(TcpIdleTimeoutMs, () => socket.destroy());
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.#connections.delete(socket));
    readFrames(socket, (message) => {
      void this.#respond(Buffer.from(message), 'tcp').then((response) => {
        if (!response || socket.destroyed) return;
        socket.write(frame(response));
        if (socket.writableLength > MaxTcpPendingBytes) socket.destroy();
      }, (err: unknown) => this.#log.error({ err: err instanceof Error ? err.message : String(err) }, 'a DNS answer over TCP failed'));
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
