/**
 * The kubelet's HTTP API on fastify: build() makes the app, the caller listens. Read-only
 * handlers are always served; debug handlers (container logs) only where `debugHandlers` says,
 * which the agent allows on loopback addresses only until authentication exists.
 */
import type { FastifyError, FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { DockerletError, isDockerletError } from '../../common/api/errors.js';
import { createFastify } from '../../common/server/fastify.js';
import type { KubeletApi } from './kubelet-api.js';
import { registerHealthRoutes } from './routes/health.js';
import { registerLogRoutes } from './routes/container-logs.js';
import { registerPodRoutes } from './routes/pods.js';
import { registerStatsRoutes } from './routes/stats.js';

export interface ServerOptions {
  api: KubeletApi;
  logger: Logger;
  /** Serve /containerLogs. */
  debugHandlers: boolean;
}

export function buildServer(options: ServerOptions): FastifyInstance {
  const app = createFastify(options.logger, 'server');
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
  if (options.debugHandlers) registerLogRoutes(app, options.api);
  return app;
}

function reasonFor(status: number): string {
  if (status === 404) return 'NotFound';
  if (status === 400) return 'BadRequest';
  if (status === 403) return 'Forbidden';
  return 'InternalError';
}
