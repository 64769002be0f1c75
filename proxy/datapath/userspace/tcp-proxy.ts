/**
 * One TCP listener of the userspace datapath (a ClusterIP:port or a NodePort): every accepted
 * connection is forwarded to an endpoint the load balancer picks, as kube-proxy's userspace
 * `tcpProxySocket` did.
 *
 * - Dialling follows `TryConnectEndpoints`: up to four endpoints are tried with connect timeouts
 *   of 250 ms, 500 ms, 1 s and 2 s; after a refusal or a timeout the client's affinity is reset
 *   so that the next endpoint in turn is tried.
 * - With no endpoint at all (or none that answers) the client's connection is reset (RST), so
 *   the client is refused at once instead of waiting: kube-proxy closed it (FIN) instead.
 * - Bytes are piped both ways with backpressure. Half-close is kept: each side's FIN is passed
 *   on and the other direction goes on until it ends too (upstream closed both connections as
 *   soon as either direction ended). An error (RST) on one side resets the other.
 * - Nagle's algorithm is left on: on this kind of machine `setNoDelay(true)` halved bulk
 *   throughput through a Node proxy and did not change 64-byte request/response latency
 *   (shared/PROXY-REFERENCE.md §3).
 * - The client socket is accepted paused, so nothing is read from it before its upstream is
 *   connected; `pipe` resumes it.
 */
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import { DockerletError, errorMessage } from '../../../common/api/errors.js';
import type { EndpointInfo } from '../proxier.js';
import { endpointKey, type EndpointPicker } from './load-balancer.js';

/** kube-proxy userspace's EndpointDialTimeouts: one attempt per entry. */
export const DefaultDialTimeoutsMs: readonly number[] = [250, 500, 1000, 2000];

export interface TcpProxyOptions {
  host: string;
  /** 0 picks a free port (tests); `address` tells which. */
  port: number;
  picker: EndpointPicker;
  logger: Logger;
  dialTimeoutsMs?: readonly number[];
}

export class TcpProxy {
  /** Where new connections go; the proxier swaps it when the listener changes hands. */
  picker: EndpointPicker;
  readonly host: string;
  readonly port: number;
  readonly #dialTimeoutsMs: readonly number[];
  readonly #log: Logger;
  readonly #server: Server;
  /** Every open socket: accepted clients, upstreams being dialled and connected ones. */
  readonly #sockets = new Set<Socket>();
  /** The accepted ones among them. */
  readonly #clients = new Set<Socket>();
  /** Resolved when the last accepted connection closed (drain). */
  #drained: (() => void) | undefined;
  #listening = false;
  #closed = false;
  /** Settles once the server stopped listening and every accepted connection closed. */
  #serverClosed: Promise<void> | undefined;

  constructor(options: TcpProxyOptions) {
    this.host = options.host;
    this.port = options.port;
    this.picker = options.picker;
    this.#dialTimeoutsMs = options.dialTimeoutsMs ?? DefaultDialTimeoutsMs;
    this.#log = options.logger;
    this.#server = createServer({ allowHalfOpen: true, pauseOnConnect: true }, (client) => this.#accept(client));
    this.#server.on('error', (err) => this.#log.error({ err }, `TCP listener on ${this.host}:${this.port} failed`));
  }

  /** Starts listening; rejects with DKL_ERR_RUNTIME when the address cannot be bound. */
  async listen(): Promise<AddressInfo> {
    if (this.#closed) throw new DockerletError('DKL_ERR_RUNTIME', `TCP listener on ${this.host}:${this.port} was closed; make a new one`);
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => {
        reject(new DockerletError('DKL_ERR_RUNTIME', `listening on TCP ${this.host}:${this.port}: ${errorMessage(err)}`, { cause: err }));
      };
      this.#server.once('error', onError);
      this.#server.listen({ host: this.host, port: this.port }, () => {
        this.#server.removeListener('error', onError);
        resolve();
      });
    });
    this.#listening = true;
    return this.address!;
  }

  /** Where it listens, once listening. */
  get address(): AddressInfo | undefined {
    const address = this.#server.address();
    return address !== null && typeof address === 'object' ? address : undefined;
  }

  /** Open client connections (accepted, not yet closed). */
  get connectionCount(): number {
    return this.#clients.size;
  }

  /**
   * Stops accepting; connections already forwarded go on (as they would through kube-proxy's
   * userspace mode, or through conntrack in iptables mode). Resolves once the last one closed.
   */
  async drain(): Promise<void> {
    this.#closed = true;
    const drained = this.#clients.size === 0 ? Promise.resolve() : new Promise<void>((resolve) => (this.#drained = resolve));
    await Promise.all([this.#closeServer(), drained]);
  }

  /** Stops accepting and destroys every open connection. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    const closing = this.#closeServer();
    for (const socket of this.#sockets) socket.destroy();
    await closing;
  }

  #closeServer(): Promise<void> {
    if (this.#listening) {
      this.#listening = false;
      this.#serverClosed = new Promise((resolve) => this.#server.close(() => resolve()));
    }
    return this.#serverClosed ?? Promise.resolve();
  }

  #track(socket: Socket): void {
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
  }

  #accept(client: Socket): void {
    this.#track(client);
    this.#clients.add(client);
    client.once('close', () => {
      this.#clients.delete(client);
      if (this.#clients.size === 0) this.#drained?.();
    });
    const clientIP = client.remoteAddress ?? '';
    const from = `${clientIP}:${client.remotePort ?? 0}`;
    // Until it is piped, an error on the client only means it went away.
    const onEarlyError = (err: Error): void => this.#log.debug({ err, client: from }, 'client connection failed before it was forwarded');
    client.on('error', onEarlyError);
    void this.#dial(client, clientIP).then((upstream) => {
      client.removeListener('error', onEarlyError);
      if (client.destroyed) {
        upstream?.destroy();
        return;
      }
      if (!upstream) {
        client.resetAndDestroy();
        return;
      }
      splice(client, upstream, this.#log);
    });
  }

  /** Kube-proxy's TryConnectEndpoints: the connected upstream, or undefined when no endpoint answered. */
  async #dial(client: Socket, clientIP: string): Promise<Socket | undefined> {
    let resetAffinity = false;
    for (const timeoutMs of this.#dialTimeoutsMs) {
      if (client.destroyed) return undefined;
      const endpoint = this.picker.next(clientIP, resetAffinity);
      if (!endpoint) {
        this.#log.debug({ client: clientIP }, `no endpoint for a connection to ${this.host}:${this.port}; resetting it`);
        return undefined;
      }
      const result = await this.#connect(endpoint, timeoutMs);
      if (!(result instanceof Error)) return result;
      this.#log.warn({ endpoint: endpointKey(endpoint), err: result }, `connecting to endpoint ${endpointKey(endpoint)} failed; trying the next one`);
      resetAffinity = true;
    }
    this.#log.warn({ client: clientIP }, `no endpoint of ${this.host}:${this.port} answered; resetting the client's connection`);
    return undefined;
  }

  #connect(endpoint: EndpointInfo, timeoutMs: number): Promise<Socket | Error> {
    return new Promise((resolve) => {
      const upstream = connect({ host: endpoint.ip, port: endpoint.port, allowHalfOpen: true });
      this.#track(upstream);
      const timer = setTimeout(() => {
        finish(new Error(`no connection within ${timeoutMs} ms`));
        upstream.destroy();
      }, timeoutMs);
      timer.unref();
      const onConnect = (): void => finish(upstream);
      const onError = (err: Error): void => finish(err);
      const onClose = (): void => finish(new Error('closed while connecting'));
      upstream.once('connect', onConnect);
      upstream.once('error', onError);
      upstream.once('close', onClose);
      function finish(result: Socket | Error): void {
        clearTimeout(timer);
        upstream.removeListener('connect', onConnect);
        upstream.removeListener('error', onError);
        upstream.removeListener('close', onClose);
        // A failed attempt is destroyed; nothing it emits later matters.
        if (result instanceof Error) upstream.on('error', () => {});
        resolve(result);
      }
    });
  }
}

/** Pipes `client` and `upstream` into each other: backpressure both ways, FIN passed on, an error on one side resets the other. */
function splice(client: Socket, upstream: Socket, log: Logger): void {
  const onError = (side: string, other: Socket) => (err: Error) => {
    log.debug({ err }, `${side} connection failed; resetting the other side`);
    if (!other.destroyed) other.resetAndDestroy();
  };
  client.on('error', onError('client', upstream));
  upstream.on('error', onError('upstream', client));
  client.pipe(upstream);
  upstream.pipe(client);
}
