/** How dockerlet's HTTP servers (the kubelet API, the proxy's API) make their fastify instance. */
import type { ServerOptions as HttpsServerOptions } from 'node:https';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';

/**
 * A fastify app logging through a child of `logger` (`component`), without a line per request;
 * served over TLS when `https` is given. Closing destroys every connection: a follow of container
 * logs, or a connection a client opened and never used (Node does not count that one as idle),
 * must not hold up a stop.
 */
export function createFastify(logger: Logger, component: string, https?: HttpsServerOptions): FastifyInstance {
  const child: FastifyBaseLogger = logger.child({ component });
  const options = { loggerInstance: child, logController: new LogController({ disableRequestLogging: true }), forceCloseConnections: true } as const;
  // Two calls rather than a conditional `https`: fastify's types pick the server type from it.
  return (https ? Fastify({ ...options, https }) : Fastify(options)) as unknown as FastifyInstance;
}
