/**
 * The kubelet's HTTP API on fastify: build() makes the app, the caller listens. Two kinds, as the
 * kubelet's: the secure server (TLS, every request authenticated and authorized, the debugging
 * handlers: logs, exec, attach, port-forward, run, runningpods, configz) and the read-only server
 * (no authentication; the debugging handlers answer 405 there, except /configz, which is simply
 * not served, as upstream).
 */
import type { ServerOptions as HttpsServerOptions } from 'node:https';
import type { FastifyError, FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { DockerletError, isDockerletError } from '../../common/api/errors.js';
import { createFastify } from '../../common/server/fastify.js';
import type { KubeletAuth } from './auth/kubelet-auth.js';
import type { KubeletApi } from './kubelet-api.js';
import { registerConfigzRoute } from './routes/configz.js';
import { registerHealthRoutes } from './routes/health.js';
import { registerLogRoutes } from './routes/container-logs.js';
import { registerPodRoutes, registerRunningPodsRoute } from './routes/pods.js';
import { registerRunRoutes } from './routes/run.js';
import { registerStatsRoutes } from './routes/stats.js';
import { registerStreamingRoutes } from './routes/streaming.js';

/** The debugging handlers' roots: served on the secure server, refused with 405 on the read-only one. */
const DebugPaths = ['/run', '/exec', '/attach', '/portForward', '/containerLogs', '/runningpods'] as const;

export type ServerOptions =
  | { kind: 'secure'; api: KubeletApi; logger: Logger; https: HttpsServerOptions; auth: KubeletAuth; configz: () => object; streamingIdleTimeoutMs?: number }
  | { kind: 'read-only'; api: KubeletApi; logger: Logger };

export function buildServer(options: ServerOptions): FastifyInstance {
  const app = options.kind === 'secure' ? createFastify(options.logger, 'server', options.https) : createFastify(options.logger, 'read-only-server');
  app.setErrorHandler((err: FastifyError | DockerletError, request, reply) => {
    const status = isDockerletError(err) ? (err.status >= 400 ? err.status : 500) : (err.statusCode ?? 500);
    if (status >= 500) request.log.error({ err, url: request.url }, 'request failed');
    void reply
      .code(status)
      .type('application/json')
      .send({ kind: 'Status', apiVersion: 'v1', status: 'Failure', message: err.message, reason: reasonFor(status), code: status });
  });
  registerHealthRoutes(app, options.api);
  registerPodRoutes(app, options.api);
  registerStatsRoutes(app, options.api);
  if (options.kind === 'read-only') {
    for (const path of DebugPaths) app.all(`${path}/*`, async (_request, reply) => reply.code(405).type('text/plain; charset=utf-8').send('Debug endpoints are disabled.\n'));
    return app;
  }
  const { auth } = options;
  app.addHook('onRequest', async (request, reply) => {
    const admission = await auth.admit(request.raw);
    if (!admission.admitted) return reply.code(admission.status).type('text/plain; charset=utf-8').send(admission.message);
    return undefined;
  });
  registerRunningPodsRoute(app, options.api);
  registerLogRoutes(app, options.api);
  registerRunRoutes(app, options.api);
  registerConfigzRoute(app, options.configz);
  registerStreamingRoutes(app, { api: options.api, auth, logger: options.logger, ...(options.streamingIdleTimeoutMs !== undefined ? { idleTimeoutMs: options.streamingIdleTimeoutMs } : {}) });
  return app;
}

function reasonFor(status: number): string {
  if (status === 404) return 'NotFound';
  if (status === 400) return 'BadRequest';
  if (status === 403) return 'Forbidden';
  return 'InternalError';
}
