/**
 * GET /containerLogs/{namespace}/{pod}/{container}, with the PodLogOptions query the kubelet
 * takes: follow, previous, timestamps, tailLines (or the legacy tail), sinceSeconds, limitBytes.
 */
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

/**
 * Ends the body a turn of the event loop after its last bytes, so that the last chunk and the
 * chunked encoding's terminator leave in separate TLS records, as the kubelet's flushing writer
 * sends them. When both arrive in one record, Go's chunked reader returns the last bytes together
 * with io.EOF, and the API server's WebSocket log reader (wsstream) drops bytes read with EOF:
 * `pods/log` over WebSocket came back empty.
 */
function endInALaterRecord(): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      done(null, chunk);
    },
    flush(done) {
      setImmediate(done);
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
    return reply.type('text/plain').send(pipeline(limited, endInALaterRecord(), () => undefined));
  });
}
