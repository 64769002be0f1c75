/**
 * remotecommand, the protocol of exec and attach, server side: upstream's
 * pkg/kubelet/cri/streaming/remotecommand (NewOptions, createStreams, ServeExec, ServeAttach).
 *
 * A session, once the caller has authorised the request and found the container:
 *   negotiate (SPDY: X-Stream-Protocol-Version; WebSocket: the subprotocol) -> 101
 *   -> the client's streams (SPDY: the client opens one per stream type and the server waits for
 *      all of them; WebSocket: fixed channels, ready at once)
 *   -> start() with the streams established -> stdin in, stdout/stderr out, resizes (TTY only)
 *   -> the process exits and its output is sent -> the status on the error stream -> close.
 * If the client goes away first, the process is detached from (an exec'd command may go on).
 *
 * Versions: SPDY v1 (channel.k8s.io) resets the error stream as soon as the streams are there, so
 * its client hears of no failure (upstream kept that from 1.0 kubelets); v1 and v2 have no resize
 * stream; v1 to v3 write a failure as bare text and nothing on success; v4 writes a JSON
 * metav1.Status either way (remote-command-status.ts). On WebSocket, "", channel.k8s.io and
 * base64.channel.k8s.io write text statuses, v4.* and v5.channel.k8s.io JSON; v5 lets the client
 * end stdin. The server first sends an empty message on the lowest channel it writes, which tells a
 * WebSocket client that the session is up.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex, Readable, Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { Logger } from 'pino';
import { DockerletError, errorMessage } from '../../../common/api/errors.js';
import type { AttachedProcess, StreamSelection, TerminalSize } from '../../runtime/runtime.js';
import { encodeStatus, exitCodeStatus, internalErrorStatus, successStatus, type Status, type StatusFormat } from './remote-command-status.js';
import { acceptSpdy, acceptStream, streamHeader, type SpdyStream } from './spdy-session.js';
import { readTerminalSizes } from './terminal-size-decoder.js';
import { isWebSocketRequest } from './upgrade-socket.js';
import { acceptWebSocket, ChannelProtocols, WebSocketChannels, type ChannelMode } from './websocket-channels.js';
import { DefaultStreamCreationTimeoutMs, DefaultStreamIdleTimeoutMs } from './timeouts.js';

/** SPDY versions, preferred first (remotecommand's SupportedStreamingProtocols). */
export const RemoteCommandSpdyProtocols = ['v4.channel.k8s.io', 'v3.channel.k8s.io', 'v2.channel.k8s.io', 'channel.k8s.io'] as const;
/** WebSocket subprotocols: upstream's kubelet set, and v5 so that kubectl 1.29+ need not fall back to SPDY. */
export const RemoteCommandWebSocketProtocols = ['', 'channel.k8s.io', 'base64.channel.k8s.io', 'v4.channel.k8s.io', 'v4.base64.channel.k8s.io', 'v5.channel.k8s.io'] as const;

export interface RemoteCommandRequest {
  streams: StreamSelection;
  /** The `command` parameters in order (exec); empty for attach. */
  command: string[];
}

/**
 * remotecommand.NewOptions plus the command. The parameters have the names the API server gives
 * them when it calls a kubelet (core/v1 ExecStdinParam and friends): `input`, `output`, `error`,
 * `tty`, each set only by "1"; not the `stdin`/`stdout`/`stderr` a client sends the API server.
 * With a TTY, stderr is dropped rather than refused (upstream does the same: a TTY has one
 * output). Throws DKL_ERR_BAD_REQUEST (400) when no stream is left; the message is upstream's.
 */
export function remoteCommandOptions(query: URLSearchParams): RemoteCommandRequest {
  const flag = (name: string): boolean => query.get(name) === '1';
  const tty = flag('tty');
  const streams: StreamSelection = { stdin: flag('input'), stdout: flag('output'), stderr: flag('error') && !tty, tty };
  if (!streams.stdin && !streams.stdout && !streams.stderr) {
    throw new DockerletError('DKL_ERR_BAD_REQUEST', 'you must specify at least 1 of stdin, stdout, stderr');
  }
  return { streams, command: query.getAll('command') };
}

export interface RemoteCommandOptions {
  /** Which endpoint this is: words a runtime error as upstream does, and only exec reports exit codes. */
  operation: 'exec' | 'attach';
  /** The streams the request asked for (remoteCommandOptions). */
  streams: StreamSelection;
  /** Starts the process with the streams the client actually set up. */
  start(streams: StreamSelection): Promise<AttachedProcess>;
  logger: Logger;
  streamCreationTimeoutMs?: number;
  idleTimeoutMs?: number;
}

/** The client's side of a session, whatever carries it. */
interface ClientStreams {
  stdin?: Readable;
  stdout?: Writable;
  stderr?: Writable;
  resize?: Readable;
  statusFormat: StatusFormat;
  /** Writes the status bytes (if any) and ends the error stream. */
  writeStatus(status: Buffer | undefined): Promise<void>;
  /** Ends the session once everything written has been sent. */
  close(): void;
  /** Settles when the connection is gone. */
  closed: Promise<void>;
}

const spdyVersions: Record<string, number> = { 'v4.channel.k8s.io': 4, 'v3.channel.k8s.io': 3, 'v2.channel.k8s.io': 2, 'channel.k8s.io': 1 };
type SpdyStreamType = 'error' | 'stdin' | 'stdout' | 'stderr' | 'resize';

/** Ends a SPDY stream's writing side and resolves once everything written before is queued. */
function endStream(stream: Writable, data?: Buffer): Promise<void> {
  stream.end(data);
  return finished(stream, { readable: false }).catch(() => undefined);
}

async function spdyStreams(req: IncomingMessage, socket: Duplex, head: Buffer, options: RemoteCommandOptions): Promise<ClientStreams | undefined> {
  const logger = options.logger;
  const session = acceptSpdy(req, socket, head, { protocols: RemoteCommandSpdyProtocols, logger, idleTimeoutMs: options.idleTimeoutMs ?? DefaultStreamIdleTimeoutMs });
  if (!session) return undefined;
  const version = spdyVersions[session.protocol]!;
  const wanted = options.streams;
  const knownTypes: SpdyStreamType[] = version >= 3 ? ['error', 'stdin', 'stdout', 'stderr', 'resize'] : ['error', 'stdin', 'stdout', 'stderr'];
  const expected = 1 + Number(wanted.stdin) + Number(wanted.stdout) + Number(wanted.stderr) + Number(wanted.tty && version >= 3);

  const streams = new Map<SpdyStreamType, SpdyStream>();
  const complete = await new Promise<boolean>((resolve) => {
    let replied = 0;
    const timer = setTimeout(() => resolve(false), options.streamCreationTimeoutMs ?? DefaultStreamCreationTimeoutMs);
    timer.unref();
    void session.closed.then(() => {
      clearTimeout(timer);
      resolve(false);
    });
    session.onStream((stream) => {
      const type = streamHeader(stream, 'streamType') as SpdyStreamType;
      const known = knownTypes.includes(type);
      if (known) streams.set(type, stream);
      else logger.warn({ streamType: type, protocol: session.protocol }, 'unexpected stream type');
      void acceptStream(stream).then(() => {
        if (known && ++replied === expected) {
          clearTimeout(timer);
          resolve(true);
        }
      });
    });
  });
  if (!complete) {
    logger.warn({ protocol: session.protocol }, 'the client closed the connection or did not create its streams in time');
    session.close();
    return undefined;
  }

  let error = streams.get('error');
  if (version === 1) {
    // As 1.0 kubelets did: the error stream is reset at once and stdin is half-closed.
    error?.abort();
    error = undefined;
    streams.get('stdin')?.end();
  }
  return {
    stdin: streams.get('stdin'),
    stdout: streams.get('stdout'),
    stderr: streams.get('stderr'),
    resize: streams.get('resize'),
    statusFormat: version === 4 ? 'json' : 'text',
    writeStatus: async (status) => {
      if (error) await endStream(error, status);
    },
    close: () => session.close(),
    closed: session.closed,
  };
}

async function webSocketStreams(req: IncomingMessage, socket: Duplex, head: Buffer, options: RemoteCommandOptions): Promise<ClientStreams | undefined> {
  const accepted = await acceptWebSocket(req, socket, head, { protocols: RemoteCommandWebSocketProtocols, logger: options.logger, idleTimeoutMs: options.idleTimeoutMs ?? DefaultStreamIdleTimeoutMs });
  if (!accepted) return undefined;
  const wanted = options.streams;
  const modes: ChannelMode[] = [wanted.stdin ? 'read' : 'ignore', wanted.stdout ? 'write' : 'ignore', wanted.stderr ? 'write' : 'ignore', 'write', 'read'];
  const channels = new WebSocketChannels(accepted.ws, ChannelProtocols[accepted.protocol]!, modes, options.logger);
  await channels.send(wanted.stdout ? 1 : wanted.stderr ? 2 : 3, Buffer.alloc(0));
  return {
    stdin: channels.reader(0),
    stdout: channels.writer(1),
    stderr: channels.writer(2),
    resize: channels.reader(4),
    statusFormat: /^v[45]\./.test(accepted.protocol) ? 'json' : 'text',
    writeStatus: async (status) => {
      if (status) await channels.send(3, status);
    },
    close: () => channels.close(),
    closed: channels.closed,
  };
}

/** Copies a process output to the client; settles when all of it is written (or cannot be). */
function copyOutput(from: Readable | undefined, to: Writable | undefined, logger: Logger): Promise<void> {
  if (!from) {
    return to ? endStream(to) : Promise.resolve();
  }
  from.on('error', (err: Error) => logger.debug({ err }, 'process output failed'));
  if (!to) {
    from.resume();
    return finished(from).catch(() => undefined);
  }
  from.pipe(to);
  return finished(to, { readable: false }).catch(() => undefined);
}

type Outcome = { kind: 'exited'; exitCode?: number } | { kind: 'failed'; err: unknown } | { kind: 'gone' };

async function run(client: ClientStreams, options: RemoteCommandOptions): Promise<void> {
  const { logger } = options;
  const failure = (err: unknown): Status =>
    internalErrorStatus(`${options.operation === 'exec' ? 'error executing command in container' : 'error attaching to container'}: ${errorMessage(err)}`);
  const finish = async (status: Status): Promise<void> => {
    await client.writeStatus(encodeStatus(status, client.statusFormat));
    client.close();
  };
  const tty = options.streams.tty;
  const selection: StreamSelection = { stdin: client.stdin !== undefined, stdout: client.stdout !== undefined, stderr: client.stderr !== undefined && !tty, tty };

  // Sizes are read from the start: the client sends the terminal's size as soon as the streams
  // exist, and a TTY is 0x0 until that size is applied (Docker before API 1.42 cannot set it when
  // it creates an exec), so the first one is applied the moment the process is there.
  let latestSize: TerminalSize | undefined;
  let applySize: ((size: TerminalSize) => void) | undefined;
  if (client.resize && tty) {
    readTerminalSizes(client.resize, (size) => {
      latestSize = size;
      applySize?.(size);
    });
  }

  let attached: AttachedProcess;
  try {
    attached = await options.start(selection);
  } catch (err) {
    logger.debug({ err }, `${options.operation} could not start`);
    return finish(failure(err));
  }

  const gone = client.closed.then((): Outcome => ({ kind: 'gone' }));
  if (client.stdin) {
    if (attached.stdin) {
      attached.stdin.on('error', (err: Error) => logger.debug({ err }, 'process stdin failed'));
      client.stdin.pipe(attached.stdin);
    } else client.stdin.resume();
  }
  applySize = (size) => void attached.resize(size).catch((err: unknown) => logger.debug({ err, size }, 'resize failed'));
  if (latestSize) applySize(latestSize);
  const done = Promise.all([
    attached.exited,
    copyOutput(attached.stdout, client.stdout, logger),
    copyOutput(attached.stderr, selection.stderr ? client.stderr : undefined, logger),
  ]).then(
    ([exit]): Outcome => ({ kind: 'exited', exitCode: exit.exitCode }),
    (err: unknown): Outcome => ({ kind: 'failed', err }),
  );

  const outcome = await Promise.race([done, gone]);
  if (outcome.kind === 'gone') {
    logger.debug(`client closed the ${options.operation} session`);
    attached.detach();
    return;
  }
  if (outcome.kind === 'failed') return finish(failure(outcome.err));
  const reportsExit = options.operation === 'exec' && outcome.exitCode !== undefined && outcome.exitCode !== 0;
  return finish(reportsExit ? exitCodeStatus(outcome.exitCode!) : successStatus());
}

/**
 * Serves an exec or attach session on an upgrade request the caller has authorised, for a
 * container it has found. Refusals before the upgrade (no version the client and server share,
 * missing headers) are answered on the socket. Settles when the session is over; never rejects.
 */
export async function serveRemoteCommand(req: IncomingMessage, socket: Duplex, head: Buffer, options: RemoteCommandOptions): Promise<void> {
  const client = isWebSocketRequest(req) ? await webSocketStreams(req, socket, head, options) : await spdyStreams(req, socket, head, options);
  if (client) await run(client, options);
}
