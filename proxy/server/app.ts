/**
 * The proxy's HTTP server (fastify; kube-proxy's healthz port 10256 by default):
 * - GET /healthz: 200 while the datapath synced within twice the sync period, else 503, with
 *   kube-proxy's body { lastUpdated, currentTime };
 * - GET /metrics: Prometheus text;
 * - /proxy/namespaces/{ns}/services/{[scheme:]name[:port]}/{path}: the API server's service
 *   proxy, for a user on the host: the API server's proxy verbs, to the Service's ClusterIP and
 *   port (so through the datapath, whose endpoints are never loopback or link-local), the port
 *   picked by name or number, the first one when none is given. Whatever address the server is
 *   bound to, it answers clients on loopback only unless remote clients are allowed; only to a
 *   Host header that is localhost or an IP address, so that a web page cannot reach it through a
 *   DNS name rebound to 127.0.0.1; and never to a request another site's page made (an Origin
 *   other than its own, a cross-site Sec-Fetch-Site), which a page on any site could send to
 *   127.0.0.1 blindly. Pages it serves itself may use it, as a service's web UI does.
 * build() makes the app; the caller listens.
 */
import { isIP } from 'node:net';
import type { FastifyInstance, FastifyRequest, RouteHandler } from 'fastify';
import type httpProxy from 'http-proxy';
import type { Logger } from 'pino';
import type { Service } from '../../common/api/types.js';
import { createFastify } from '../../common/server/fastify.js';
import { isLoopbackAddress } from '../../common/util/special-addresses.js';
import type { Registry } from 'prom-client';

export interface ProxyServerOptions {
  /** When the datapath last synced (ms), or undefined before the first sync. */
  lastSyncedAt(): number | undefined;
  syncPeriodMs: number;
  metrics: Registry;
  services(): readonly Service[];
  /** Serve the service proxy to clients on other hosts too, not only to loopback ones. */
  remoteServiceProxy: boolean;
  logger: Logger;
  now(): number;
}

/** The verbs the API server's service proxy serves. */
const ProxyMethods = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

interface ServiceProxyParams {
  namespace: string;
  service: string;
  '*'?: string;
}

function status(code: number, reason: string, message: string): object {
  return { kind: 'Status', apiVersion: 'v1', status: 'Failure', message, reason, code };
}

/** The host part of a Host header value: "[::1]:10256" -> "::1", "localhost:10256" -> "localhost". */
function hostOf(header: string): string {
  const bracketed = /^\[([^\]]*)\](?::\d*)?$/.exec(header);
  if (bracketed) return bracketed[1]!;
  const colon = header.lastIndexOf(':');
  return colon === -1 ? header : header.slice(0, colon);
}

/** Why `request` may not use the service proxy, or undefined when it may. */
function serviceProxyRefusal(request: FastifyRequest, remoteAllowed: boolean): string | undefined {
  const client = request.raw.socket.remoteAddress ?? '';
  if (!remoteAllowed && !isLoopbackAddress(client)) {
    return `the service proxy answers clients on this host only (${client} is not on loopback); start the proxy with --remote-service-proxy to serve it to other hosts`;
  }
  const host = request.headers.host;
  if (host !== undefined && hostOf(host) !== 'localhost' && isIP(hostOf(host)) === 0) {
    return `Host ${JSON.stringify(host)} refused: the service proxy answers requests for localhost or an IP address only`;
  }
  // A browser says where a request comes from: one that another site's page made (a form, an image) is refused;
  // a page the service proxy itself served may use it, as may a URL typed in.
  const site = request.headers['sec-fetch-site'];
  const origin = request.headers.origin;
  if (site === 'cross-site' || site === 'same-site' || (origin !== undefined && origin !== `http://${host}`)) {
    return "requests made by other sites' web pages are refused: the service proxy is for clients on this host";
  }
  return undefined;
}

/** "[scheme:]name[:port]", as the API server splits a service proxy id. */
export function splitSchemeNamePort(id: string): { scheme: 'http' | 'https'; name: string; port: string } | undefined {
  const parts = id.split(':');
  if (parts.length === 1) return { scheme: 'http', name: parts[0]!, port: '' };
  if (parts.length === 2) return { scheme: 'http', name: parts[0]!, port: parts[1]! };
  if (parts.length === 3 && (parts[0] === 'http' || parts[0] === 'https')) return { scheme: parts[0], name: parts[1]!, port: parts[2]! };
  return undefined;
}

export function buildProxyServer(options: ProxyServerOptions): FastifyInstance {
  const app = createFastify(options.logger, 'proxy-server');
  // http-proxy is loaded with the first service proxy request: most nodes never get one.
  let upstream: Promise<httpProxy> | undefined;
  const proxyServer = (): Promise<httpProxy> =>
    (upstream ??= import('http-proxy').then(
      ({ default: http }) => http.createProxyServer({ xfwd: true, secure: false }),
      (err: unknown) => {
        // Not kept: the next request tries again.
        upstream = undefined;
        throw err;
      },
    ));
  app.addHook('onClose', async () => (await upstream?.catch(() => undefined))?.close());

  app.get('/healthz', async (_request, reply) => {
    const now = options.now();
    const last = options.lastSyncedAt();
    const healthy = last !== undefined && now - last < 2 * options.syncPeriodMs;
    return reply.code(healthy ? 200 : 503).send({ lastUpdated: last !== undefined ? new Date(last).toISOString() : '', currentTime: new Date(now).toISOString() });
  });

  app.get('/metrics', async (_request, reply) => reply.type(options.metrics.contentType).send(await options.metrics.metrics()));

  // The service proxy streams request bodies as they are: nothing may parse them first.
  void app.register(async (proxyRoutes) => {
    proxyRoutes.removeAllContentTypeParsers();
    proxyRoutes.addContentTypeParser('*', (_request, _payload, done) => done(null));
    const handler: RouteHandler<{ Params: ServiceProxyParams }> = async (request, reply) => {
      const refusal = serviceProxyRefusal(request, options.remoteServiceProxy);
      if (refusal) return reply.code(403).send(status(403, 'Forbidden', refusal));
      const { namespace, service: id } = request.params;
      const parsed = splitSchemeNamePort(id);
      if (!parsed) return reply.code(400).send(status(400, 'BadRequest', `invalid service request ${JSON.stringify(id)}`));
      const service = options.services().find((s) => s.metadata?.namespace === namespace && s.metadata?.name === parsed.name);
      const ip = service?.spec?.clusterIP;
      if (!service || !ip || ip === 'None') return reply.code(404).send(status(404, 'NotFound', `services "${parsed.name}" not found`));
      const port = (service.spec?.ports ?? []).find((p) => parsed.port === '' || p.name === parsed.port || String(p.port) === parsed.port);
      if (!port) return reply.code(503).send(status(503, 'ServiceUnavailable', `no endpoints available for service "${parsed.name}:${parsed.port}"`));
      const query = request.url.includes('?') ? request.url.slice(request.url.indexOf('?')) : '';
      const target = `${parsed.scheme}://${ip}:${port.port}/${request.params['*'] ?? ''}${query}`;
      const proxy = await proxyServer();
      reply.hijack();
      proxy.web(request.raw, reply.raw, { target, ignorePath: true }, (err) => {
        if (reply.raw.headersSent) return reply.raw.destroy();
        reply.raw.writeHead(503, { 'content-type': 'application/json' });
        reply.raw.end(JSON.stringify(status(503, 'ServiceUnavailable', `error trying to reach service: ${err.message}`)));
      });
      return undefined;
    };
    const otherMethods = proxyRoutes.supportedMethods.filter((method) => !(ProxyMethods as readonly string[]).includes(method));
    const notAllowed: RouteHandler = async (request, reply) =>
      reply.code(405).header('allow', ProxyMethods.join(', ')).send(status(405, 'MethodNotAllowed', `${request.method} is not one of the service proxy's methods (${ProxyMethods.join(', ')})`));
    for (const url of ['/proxy/namespaces/:namespace/services/:service', '/proxy/namespaces/:namespace/services/:service/*']) {
      proxyRoutes.route({ method: [...ProxyMethods], url, handler });
      proxyRoutes.route({ method: otherMethods, url, handler: notAllowed });
    }
  });
  return app;
}
