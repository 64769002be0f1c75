/**
 * One UDP socket of the userspace datapath (a ClusterIP:port or a NodePort), as kube-proxy's
 * userspace `udpProxySocket`: each client (ip:port) gets its own upstream socket, connected to
 * the endpoint the load balancer picked for it, so the endpoint's replies come back on that
 * socket and are sent to the client from the service socket.
 *
 * A client is forgotten (its upstream socket closed), and its next datagram picks an endpoint
 * again, when:
 * - nothing went either way for `idleTimeoutMs` (kube-proxy's --udp-timeout, 250 ms);
 * - its endpoint is no longer an endpoint after a sync (`forgetClientsNotIn`);
 * - the upstream socket fails, e.g. ICMP port unreachable from a dead endpoint (ECONNREFUSED on
 *   the connected socket); upstream kept such a client until its timeout.
 *
 * Datagrams for a service port with no endpoint are dropped: a process cannot send the ICMP
 * port-unreachable that the kernel datapath's REJECT sends.
 *
 * Events: 'client' (a new client and the endpoint it was given), 'forget' (a client and why),
 * 'drop' (a datagram from a client dropped for want of an endpoint).
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { DockerletError, errorMessage } from '../../../common/api/errors.js';
import type { EndpointInfo } from '../proxier.js';
import { endpointKey, type EndpointPicker } from './load-balancer.js';

/** kube-proxy's --udp-timeout default. */
export const DefaultUdpIdleTimeoutMs = 250;

/** Datagrams kept per client while its upstream socket connects; more are dropped. */
const MaxPendingDatagrams = 64;

export type ForgetReason = 'idle' | 'endpoint-gone' | 'upstream-error' | 'closed';

export interface UdpProxyEvents {
  client: [client: string, endpoint: string];
  forget: [client: string, reason: ForgetReason];
  drop: [client: string];
}

export interface UdpProxyOptions {
  host: string;
  /** 0 picks a free port (tests); `address` tells which. */
  port: number;
  picker: EndpointPicker;
  logger: Logger;
  idleTimeoutMs?: number;
}

interface UdpClient {
  key: string;
  address: string;
  port: number;
  endpoint: EndpointInfo;
  upstream: Socket;
  /** Datagrams waiting for the upstream socket to connect; undefined once it has. */
  pending: Buffer[] | undefined;
  idle: NodeJS.Timeout;
}

const family = (ip: string): 'udp4' | 'udp6' => (ip.includes(':') ? 'udp6' : 'udp4');

export class UdpProxy extends EventEmitter<UdpProxyEvents> {
  /** Where new clients go; the proxier swaps it when the socket changes hands. */
  picker: EndpointPicker;
  readonly host: string;
  readonly port: number;
  readonly #idleTimeoutMs: number;
  readonly #log: Logger;
  readonly #socket: Socket;
  readonly #clients = new Map<string, UdpClient>();
  #state: 'new' | 'bound' | 'closed' = 'new';

  constructor(options: UdpProxyOptions) {
    super();
    this.host = options.host;
    this.port = options.port;
    this.picker = options.picker;
    this.#idleTimeoutMs = options.idleTimeoutMs ?? DefaultUdpIdleTimeoutMs;
    this.#log = options.logger;
    this.#socket = createSocket(family(options.host));
    this.#socket.on('message', (message, from) => this.#receive(message, from));
  }

  /** Binds the service socket; rejects with DKL_ERR_RUNTIME when the address cannot be bound. */
  async listen(): Promise<AddressInfo> {
    if (this.#state !== 'new') throw new DockerletError('DKL_ERR_RUNTIME', `UDP socket on ${this.host}:${this.port} was already bound or closed; make a new one`);
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => {
        this.#state = 'closed';
        try {
          this.#socket.close();
        } catch {
          // never bound
        }
        reject(new DockerletError('DKL_ERR_RUNTIME', `listening on UDP ${this.host}:${this.port}: ${errorMessage(err)}`, { cause: err }));
      };
      this.#socket.once('error', onError);
      this.#socket.bind({ address: this.host, port: this.port }, () => {
        this.#socket.removeListener('error', onError);
        this.#socket.on('error', (err) => this.#log.warn({ err }, `UDP socket on ${this.host}:${this.port} failed`));
        this.#state = 'bound';
        resolve();
      });
    });
    return this.address!;
  }

  get address(): AddressInfo | undefined {
    return this.#state === 'bound' ? this.#socket.address() : undefined;
  }

  /** Each known client ("ip:port") and the endpoint ("ip:port") it talks to. */
  get clients(): ReadonlyMap<string, string> {
    return new Map([...this.#clients].map(([key, client]) => [key, endpointKey(client.endpoint)]));
  }

  /** Forgets the clients whose endpoint `isEndpoint` no longer accepts for them; returns how many. */
  forgetClientsNotIn(isEndpoint: (endpoint: EndpointInfo, clientIP: string) => boolean): number {
    let forgotten = 0;
    for (const client of [...this.#clients.values()]) {
      if (isEndpoint(client.endpoint, client.address)) continue;
      this.#forget(client, 'endpoint-gone');
      forgotten++;
    }
    return forgotten;
  }

  /** Forgets every client: the next datagram of each picks an endpoint again. */
  forgetAllClients(): void {
    for (const client of [...this.#clients.values()]) this.#forget(client, 'endpoint-gone');
  }

  /** Closes the service socket and every client's upstream socket. Idempotent. */
  async close(): Promise<void> {
    for (const client of [...this.#clients.values()]) this.#forget(client, 'closed');
    if (this.#state === 'closed') return;
    const wasBound = this.#state === 'bound';
    this.#state = 'closed';
    if (wasBound) await new Promise<void>((resolve) => this.#socket.close(() => resolve()));
    else this.#socket.close();
  }

  #receive(message: Buffer, from: RemoteInfo): void {
    const key = from.family === 'IPv6' ? `[${from.address}]:${from.port}` : `${from.address}:${from.port}`;
    let client = this.#clients.get(key);
    if (!client) {
      const endpoint = this.picker.next(from.address);
      if (!endpoint) {
        this.#log.debug({ client: key }, `no endpoint for a datagram to ${this.host}:${this.port}; dropped`);
        this.emit('drop', key);
        return;
      }
      client = this.#open(key, from, endpoint);
    }
    client.idle.refresh();
    if (client.pending) {
      if (client.pending.length < MaxPendingDatagrams) client.pending.push(message);
      return;
    }
    this.#sendUpstream(client, message);
  }

  #open(key: string, from: RemoteInfo, endpoint: EndpointInfo): UdpClient {
    const upstream = createSocket(family(endpoint.ip));
    const client: UdpClient = {
      key,
      address: from.address,
      port: from.port,
      endpoint,
      upstream,
      pending: [],
      idle: setTimeout(() => this.#forget(client, 'idle'), this.#idleTimeoutMs),
    };
    client.idle.unref();
    this.#clients.set(key, client);
    upstream.on('message', (reply) => {
      client.idle.refresh();
      this.#socket.send(reply, client.port, client.address, (err) => {
        if (err) this.#log.debug({ err, client: key }, 'sending a reply to a UDP client failed');
      });
    });
    upstream.on('error', (err) => {
      this.#log.debug({ err, client: key, endpoint: endpointKey(endpoint) }, 'UDP upstream socket failed; forgetting the client');
      this.#forget(client, 'upstream-error');
    });
    upstream.connect(endpoint.port, endpoint.ip, () => {
      if (this.#clients.get(key) !== client) return;
      const pending = client.pending ?? [];
      client.pending = undefined;
      for (const message of pending) this.#sendUpstream(client, message);
    });
    this.emit('client', key, endpointKey(endpoint));
    return client;
  }

  #sendUpstream(client: UdpClient, message: Buffer): void {
    client.upstream.send(message, (err) => {
      if (err) this.#log.debug({ err, client: client.key }, 'sending a datagram to an endpoint failed');
    });
  }

  #forget(client: UdpClient, reason: ForgetReason): void {
    if (this.#clients.get(client.key) !== client) return;
    this.#clients.delete(client.key);
    clearTimeout(client.idle);
    client.pending = undefined;
    try {
      client.upstream.close();
    } catch {
      // already closed
    }
    this.emit('forget', client.key, reason);
  }
}
