/**
 * The proxy's HTTP server (fastify; kube-proxy's healthz port 10256 by default):
 * - GET /healthz: 200 while the datapath synced within twice the sync period, else 503, with
 *   kube-proxy's body { lastUpdated, currentTime };
 * - GET /metrics: Prometheus text;
 * - /proxy/namespaces/{ns}/services/{[scheme:]name[:port]}/{path}: the API server's service
 *   proxy, for a user on the host: any method, to the Service's ClusterIP and port (so through
 *   the datapath), the port picked by name or number, the first one when none is given.
 * build() makes the app; the caller listens.
 */
import type { FastifyInstance, RouteHandler } from 'fastify';
import httpProxy from 'http-proxy';
import type { Logger } from 'pino';
import type { Service } from '../../common/api/types.js';
import { createFastify } from '../../common/server/fastify.js';
import type { Registry } from 'prom-client';

export interface ProxyServerOptions {
  /** When the datapath last synced (ms), or undefined before the first sync. */
  lastSyncedAt(): number | undefined;
  syncPeriodMs: number;
  metrics: Registry;
  services(): readonly Service[];
  logger: Logger;
  now(): number;
}

interface ServiceProxyParams {
  namespace: string;
  service: string;
  '*'?: string;
}

function status(code: number, reason: string, message: string): object {
  return { kind: 'Status', apiVersion: 'v1', status: 'Failure', message, reason, code };
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
  const upstream = httpProxy.createProxyServer({ xfwd: true, secure: false });
  app.addHook('onClose', async () => upstream.close());

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
      reply.hijack();
      upstream.web(request.raw, reply.raw, { target, ignorePath: true }, (err) => {
        if (reply.raw.headersSent) return reply.raw.destroy();
        reply.raw.writeHead(503, { 'content-type': 'application/json' });
        reply.raw.end(JSON.stringify(status(503, 'ServiceUnavailable', `error trying to reach service: ${err.message}`)));
      });
      return undefined;
    };
    proxyRoutes.all('/proxy/namespaces/:namespace/services/:service', handler);
    proxyRoutes.all('/proxy/namespaces/:namespace/services/:service/*', handler);
  });
  return app;
}
