/**
 * Real servers on 127.0.0.1 for the probe and hook tests: HTTP and HTTPS (the helpers'
 * self-signed certificate), each answering at once. `closeServers()` in an afterEach closes
 * every server started since the last call.
 */
import type { HttpGetAction } from '../../agent/probe/http-get.js';
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { selfSignedCertificate } from '../helpers/pki.js';

export type Handler = (req: IncomingMessage, res: ServerResponse) => void;

export interface Loopback {
  server: HttpServer;
  port: number;
  /** Every request the server got, in order. */
  requests: IncomingMessage[];
}

const open: HttpServer[] = [];

async function listen(server: HttpServer, handler: Handler): Promise<Loopback> {
  const requests: IncomingMessage[] = [];
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    requests.push(req);
    handler(req, res);
  });
  open.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port, requests };
}

/** An HTTP server on 127.0.0.1 (a random port) that answers with `handler`. */
export function httpServer(handler: Handler): Promise<Loopback> {
  return listen(createHttpServer(), handler);
}

/** An HTTPS server on 127.0.0.1 with a self-signed certificate. */
export function httpsServer(handler: Handler): Promise<Loopback> {
  return listen(createHttpsServer(selfSignedCertificate()) as unknown as HttpServer, handler);
}

/** A port on 127.0.0.1 that nothing listens on (it was free a moment ago). */
export async function closedPort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Closes every server started since the last call, with its connections. */
export async function closeServers(): Promise<void> {
  const servers = open.splice(0);
  await Promise.all(
    servers.map(
      (server) =>
        new Promise<void>((resolve) => {
          server.closeAllConnections();
          server.close(() => resolve());
        }),
    ),
  );
}

/** An httpGet action aimed at 127.0.0.1:`port`, path /, no headers, with `extra` on top. */
export const action = (port: number, extra: Partial<HttpGetAction> = {}): HttpGetAction => ({
  scheme: 'HTTP',
  host: '127.0.0.1',
  port,
  path: '/',
  headers: [],
  ...extra,
});
