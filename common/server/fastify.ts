/** How dockerlet's HTTP servers (the kubelet API, the proxy's API) make their fastify instance. */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';

/**
 * A fastify app logging through a child of `logger` (`component`), without a line per request.
 * Closing destroys every connection: a follow of container logs, or a connection a client opened
 * and never used (Node does not count that one as idle), must not hold up a stop.
 */
export function createFastify(logger: Logger, component: string): FastifyInstance {
  const child: FastifyBaseLogger = logger.child({ component });
  return Fastify({ loggerInstance: child, logController: new LogController({ disableRequestLogging: true }), forceCloseConnections: true });
}
