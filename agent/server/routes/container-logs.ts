/**
 * GET /containerLogs/{namespace}/{pod}/{container}, with the PodLogOptions query the kubelet
 * takes: follow, previous, timestamps, tailLines (or the legacy tail), sinceSeconds, limitBytes.
 */
import { Socket } from 'node:net';
import { pipeline, Transform } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { queryFlag, queryInt } from '../query.js';
import type { KubeletApi } from '../kubelet-api.js';

interface Params {
  namespace: string;
  pod: string;
  container: string;
}

/** Passes at most `limit` bytes, then ends. */
function limitBytes(limit: number): Transform {
  let left = limit;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      if (left <= 0) return done();
      const part = chunk.subarray(0, left);
      left -= part.length;
      this.push(part);
      if (left <= 0) this.push(null);
      done();
    },
  });
}

/** How often the end looks again for bytes still queued (the reader takes them in moments). */
const QueuedBytesRecheckMs = 5;

/**
 * Ends the body only once its last bytes have gone to TLS on their own, so that the last chunk
 * and the chunked encoding's terminator leave in separate TLS records, as the kubelet's flushing
 * writer sends them. When both arrive in one record, Go's chunked reader returns the last bytes
 * together with io.EOF, and the API server's WebSocket log reader (wsstream) drops bytes read
 * with EOF: `pods/log` over WebSocket lost its end. Writes queued on the socket behind a slow
 * reader are encrypted together when they go, so the end waits until neither this stream nor the
 * socket holds any (a socket emits 'drain' only after a refused write, so both are looked at
 * again every few milliseconds while they hold some), then a turn of the event loop.
 */
function endInALaterRecord(connection: unknown): Transform {
  // Only a real connection has a queue to wait for (app.inject's stand-in never empties its own).
  const socket = connection instanceof Socket ? connection : undefined;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      done(null, chunk);
    },
    flush(done) {
      const settle = (): void => {
        if (this.destroyed) return;
        if (this.readableLength > 0 || (socket?.writableLength ?? 0) > 0) setTimeout(settle, QueuedBytesRecheckMs);
        else setImmediate(done);
      };
      settle();
    },
  });
}

export function registerLogRoutes(app: FastifyInstance, api: KubeletApi): void {
  app.get<{ Params: Params; Querystring: Record<string, string> }>('/containerLogs/:namespace/:pod/:container', async (request, reply) => {
    const query = request.query;
    const abort = new AbortController();
    request.raw.on('close', () => abort.abort());
    const tailLines = queryInt(query['tailLines'] ?? query['tail'], 'tailLines');
    const sinceSeconds = queryInt(query['sinceSeconds'], 'sinceSeconds');
    const limit = queryInt(query['limitBytes'], 'limitBytes');
    const stream = await api.containerLogs({
      ...request.params,
      follow: queryFlag(query['follow']),
      previous: queryFlag(query['previous']),
      timestamps: queryFlag(query['timestamps']),
      ...(tailLines !== undefined ? { tailLines } : {}),
      ...(sinceSeconds !== undefined ? { sinceSeconds } : {}),
      signal: abort.signal,
    });
    // pipeline, not pipe: an error of the log stream (the request was aborted) must end the
    // reply, not escape as an unhandled 'error' event.
    const limited = limit !== undefined ? pipeline(stream, limitBytes(limit), () => undefined) : stream;
    return reply.type('text/plain').send(pipeline(limited, endInALaterRecord(reply.raw.socket), () => undefined));
  });
}
