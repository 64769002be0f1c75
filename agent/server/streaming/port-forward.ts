/**
 * Port forwarding, server side: upstream's pkg/kubelet/cri/streaming/portforward
 * (NewV4Options, httpstream.go, websocket.go).
 *
 * SPDY (portforward.k8s.io): one connection carries any number of forwarded connections. For each,
 * the client opens a pair of streams with the same requestID header, one of streamType "error"
 * and one of "data", both with a port header. Once both are there the server connects to the port
 * and copies data both ways; a failure is written on the error stream as text. A pair not complete
 * within the stream creation timeout is reported on its error stream; a stream without a valid port
 * or stream type is reset. Old clients without requestID get one made from the stream ID, as
 * upstream does.
 *
 * WebSocket ("", v4.channel.k8s.io, v4.base64.channel.k8s.io): the ports come from the `port` query
 * parameter and each gets a connection at once; port i uses channel 2i for data (both ways) and
 * 2i+1 for errors (server to client). The server first writes the port number, a little-endian
 * uint16, on both channels of each port. The WebSocket closes when every port's connection is over.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { Logger } from 'pino';
import { DockerletError, errorMessage } from '../../../common/api/errors.js';
import { DefaultStreamCreationTimeoutMs, DefaultStreamIdleTimeoutMs } from './timeouts.js';
import { acceptSpdy, acceptStream, streamHeader, type SpdyStream } from './spdy-session.js';
import { isWebSocketRequest } from './upgrade-socket.js';
import { acceptWebSocket, ChannelProtocols, WebSocketChannels, type ChannelMode } from './websocket-channels.js';

export const PortForwardSpdyProtocols = ['portforward.k8s.io'] as const;
export const PortForwardWebSocketProtocols = ['', 'v4.channel.k8s.io', 'v4.base64.channel.k8s.io'] as const;

/**
 * portforward.NewV4Options: the ports of a WebSocket request, from every `port` parameter
 * (each may list several, comma-separated). A SPDY request names its ports per stream, so it has
 * none here. Throws DKL_ERR_BAD_REQUEST (400) with upstream's messages.
 */
export function portForwardOptions(req: IncomingMessage): { ports: number[] } {
  if (!isWebSocketRequest(req)) return { ports: [] };
  const values = new URL(req.url ?? '/', 'http://localhost').searchParams.getAll('port');
  const bad = (message: string): DockerletError => new DockerletError('DKL_ERR_BAD_REQUEST', message);
  if (values.length === 0) throw bad('query parameter "port" is required');
  const ports: number[] = [];
  for (const value of values) {
    if (value === '') throw bad('query parameter "port" cannot be empty');
    for (const item of value.split(',')) {
      const port = parsePort(item);
      if (typeof port === 'string') throw bad(`unable to parse ${JSON.stringify(value)} as a port: ${port}`);
      if (port < 1) throw bad(`port ${JSON.stringify(value)} must be > 0`);
      ports.push(port);
    }
  }
  return { ports };
}

/** strconv.ParseUint(text, 10, 16): the number, or Go's error text. */
function parsePort(text: string): number | string {
  if (!/^\d+$/.test(text)) return `strconv.ParseUint: parsing ${JSON.stringify(text)}: invalid syntax`;
  const port = Number(text);
  return port > 0xffff ? `strconv.ParseUint: parsing ${JSON.stringify(text)}: value out of range` : port;
}

export interface PortForwardOptions {
  /** The WebSocket ports (portForwardOptions); ignored on SPDY. */
  ports: readonly number[];
  /** A connection to `port` inside the pod (ContainerRuntime.portForward). */
  connect(port: number): Promise<Duplex>;
  /** Named in error messages: upstream's CRI path names the sandbox ID here and leaves the UID empty. */
  podName: string;
  podUid: string;
  logger: Logger;
  streamCreationTimeoutMs?: number;
  idleTimeoutMs?: number;
}

/**
 * Copies from the client to a connection to `port` and back until that connection is over;
 * resolves with upstream's error text on failure.
 */
async function forward(port: number, from: NodeJS.ReadableStream, to: NodeJS.WritableStream, options: PortForwardOptions): Promise<string | undefined> {
  const failure = (err: unknown): string => `error forwarding port ${port} to pod ${options.podName}, uid ${options.podUid}: ${errorMessage(err)}`;
  let target: Duplex;
  try {
    target = await options.connect(port);
  } catch (err) {
    return failure(err);
  }
  from.pipe(target);
  target.pipe(to);
  // The client's side gone (reset, or the connection closed) ends the forwarded connection too.
  from.once('close', () => target.destroy());
  try {
    await finished(target);
    return undefined;
  } catch (err) {
    return failure(err);
  } finally {
    target.destroy();
  }
}

interface StreamPair {
  data?: SpdyStream;
  error?: SpdyStream;
  timer: NodeJS.Timeout;
}

async function serveSpdy(req: IncomingMessage, socket: Duplex, head: Buffer, options: PortForwardOptions): Promise<void> {
  const { logger } = options;
  const session = acceptSpdy(req, socket, head, { protocols: PortForwardSpdyProtocols, logger, idleTimeoutMs: options.idleTimeoutMs ?? DefaultStreamIdleTimeoutMs });
  if (!session) return;
  const pairs = new Map<string, StreamPair>();
  const live = new Set<SpdyStream>();
  const report = (stream: SpdyStream | undefined, message: string): void => {
    logger.debug({ message }, 'port forward failed');
    stream?.end(message);
  };

  const run = async (requestID: string, pair: Required<Omit<StreamPair, 'timer'>>): Promise<void> => {
    const port = Number(streamHeader(pair.data, 'port'));
    const failure = await forward(port, pair.data, pair.data, options);
    if (failure) report(pair.error, failure);
    else pair.error.end();
    pair.data.end();
    logger.debug({ requestID, port }, 'port forward done');
  };

  session.onStream((stream) => {
    const refusal = streamRefusal(stream);
    if (refusal) {
      logger.debug({ stream: stream.id, reason: refusal }, 'port forward stream rejected');
      stream.abort();
      return;
    }
    live.add(stream);
    stream.once('close', () => live.delete(stream));
    void acceptStream(stream);
    const type = streamHeader(stream, 'streamType') as 'data' | 'error';
    const requestID = streamHeader(stream, 'requestID') || String(type === 'error' ? stream.id : stream.id - 2);
    let pair = pairs.get(requestID);
    if (!pair) {
      const created: StreamPair = {
        timer: setTimeout(() => {
          pairs.delete(requestID);
          report(created.error, `(conn=${req.socket.remoteAddress ?? ''}, request=${requestID}) timed out waiting for streams`);
          created.data?.abort();
        }, options.streamCreationTimeoutMs ?? DefaultStreamCreationTimeoutMs),
      };
      pair = created;
      pairs.set(requestID, pair);
    }
    if (pair[type]) {
      const message = `error processing stream for request ${requestID}: ${type} stream already assigned`;
      logger.debug({ requestID }, message);
      pair.error?.write(message);
      return;
    }
    pair[type] = stream;
    if (pair.data && pair.error) {
      clearTimeout(pair.timer);
      pairs.delete(requestID);
      void run(requestID, { data: pair.data, error: pair.error });
    }
  });

  await session.closed;
  for (const pair of pairs.values()) clearTimeout(pair.timer);
  for (const stream of live) stream.destroy();
}

/** Why a port-forward stream is refused (httpStreamReceived), or undefined when it is valid. */
function streamRefusal(stream: SpdyStream): string | undefined {
  const port = streamHeader(stream, 'port');
  if (port === '') return '"port" header is required';
  const parsed = parsePort(port);
  if (typeof parsed === 'string') return `unable to parse ${JSON.stringify(port)} as a port: ${parsed}`;
  if (parsed < 1) return `port ${JSON.stringify(port)} must be > 0`;
  const type = streamHeader(stream, 'streamType');
  if (type === '') return '"streamType" header is required';
  if (type !== 'error' && type !== 'data') return `invalid stream type ${JSON.stringify(type)}`;
  return undefined;
}

async function serveWebSocket(req: IncomingMessage, socket: Duplex, head: Buffer, options: PortForwardOptions): Promise<void> {
  const accepted = await acceptWebSocket(req, socket, head, { protocols: PortForwardWebSocketProtocols, logger: options.logger, idleTimeoutMs: options.idleTimeoutMs ?? DefaultStreamIdleTimeoutMs });
  if (!accepted) return;
  const modes = options.ports.flatMap((): ChannelMode[] => ['read-write', 'write']);
  const channels = new WebSocketChannels(accepted.ws, ChannelProtocols[accepted.protocol]!, modes, options.logger);
  await Promise.all(
    options.ports.map(async (port, index) => {
      const portBytes = Buffer.alloc(2);
      portBytes.writeUInt16LE(port);
      await channels.send(2 * index, portBytes);
      await channels.send(2 * index + 1, portBytes);
      const failure = await forward(port, channels.reader(2 * index)!, channels.writer(2 * index)!, options);
      if (failure) {
        options.logger.debug({ message: failure }, 'port forward failed');
        await channels.send(2 * index + 1, Buffer.from(failure));
      }
    }),
  );
  channels.close();
}

/**
 * Serves port forwarding on an upgrade request the caller has authorised, for a pod it has
 * found. Settles when the connection is over; never rejects.
 */
export function servePortForward(req: IncomingMessage, socket: Duplex, head: Buffer, options: PortForwardOptions): Promise<void> {
  return isWebSocketRequest(req) ? serveWebSocket(req, socket, head, options) : serveSpdy(req, socket, head, options);
}
