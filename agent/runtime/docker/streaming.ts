/**
 * CRI Exec and Attach on Docker, as dockershim's ExecInContainer and attachContainer do them:
 * the process's streams travel on one hijacked HTTP connection to the engine. Without a TTY,
 * Docker frames stdout and stderr on it (logs.ts) and they are split apart here; with one, the
 * terminal's bytes come as they are and everything is stdout.
 *
 * What Docker does at the ends of the connection, and so what the caller sees:
 * - stdin's end() half-closes the connection. Docker then closes the process's stdin (the
 *   command reads EOF) for an exec without a TTY and for an attach to a container created with
 *   stdinOnce; in every other case Docker ends the attachment instead, and the process goes on
 *   running, detached.
 * - detach() destroys the connection, and `exited` settles at once without an exit code; the
 *   process goes on running.
 * - The connection ends when the process has ended (or the attachment did). Once it has closed
 *   and the selected outputs have been read to their end (so that a caller never hears of the
 *   exit before the last of the output), `exited` asks Docker for the exit code.
 */
import { finished } from 'node:stream/promises';
import { Readable, Writable, type Duplex } from 'node:stream';
import type Dockerode from 'dockerode';
import type { Logger } from 'pino';
import { DockerletError } from '../../../common/api/errors.js';
import type { AttachedProcess, StreamSelection, TerminalSize } from '../runtime.js';
import { dockerMessage, isDockerNotFound } from './docker-errors.js';
import { execState, startExec } from './exec.js';
import { exitCodeAfterOutput, type ProcessState } from './exit-code.js';
import { FrameReader, type Frame } from './logs.js';

/** What the streaming calls use of the runtime. */
export interface StreamingDeps {
  docker: Dockerode;
  /** A deadline for a call that should answer at once (the runtime request timeout). */
  quick(): AbortSignal;
  log: Logger;
}

/** Starts `command` in the running container `id` with the selected streams attached (CRI Exec). */
export async function dockerExec(deps: StreamingDeps, id: string, command: readonly string[], streams: StreamSelection): Promise<AttachedProcess> {
  const { exec, connection } = await startExec(deps.docker, id, command, streams, deps.quick());
  deps.log.debug({ containerID: id.slice(0, 12), command, tty: streams.tty }, 'exec started');
  return attachedProcess(deps.log, {
    what: `exec in container ${id.slice(0, 12)}`,
    connection,
    tty: streams.tty,
    streams,
    resize: (size) => exec.resize({ h: size.height, w: size.width, abortSignal: deps.quick() }),
    state: () => execState(exec, deps.quick()),
  });
}

/**
 * Attaches the selected streams to the running container's own process (CRI Attach). Docker
 * frames the output by the container's own Tty, whatever the caller asked for: with one,
 * everything comes on stdout. Stdin needs a container created with it open (the pod spec's
 * `stdin: true`); Docker would silently drop it otherwise.
 */
export async function dockerAttach(deps: StreamingDeps, id: string, streams: StreamSelection): Promise<AttachedProcess> {
  const what = `attach to container ${id.slice(0, 12)}`;
  const container = deps.docker.getContainer(id);
  const inspect = await inspectRunning(container, what, deps.quick());
  if (streams.stdin && !inspect.Config.OpenStdin) {
    throw new DockerletError('DKL_ERR_BAD_REQUEST', `${what}: the container was not created with stdin open (stdin: true in its spec), so there is no stdin to attach to`);
  }
  let connection: Duplex;
  try {
    connection = (await container.attach({ stream: true, stdin: streams.stdin, stdout: streams.stdout, stderr: streams.stderr, hijack: true })) as Duplex;
  } catch (err) {
    throw new DockerletError(isDockerNotFound(err) ? 'DKL_ERR_NOT_FOUND' : 'DKL_ERR_RUNTIME', `${what}: ${dockerMessage(err)}`, { cause: err });
  }
  deps.log.debug({ containerID: id.slice(0, 12), tty: inspect.Config.Tty }, 'attached');
  return attachedProcess(deps.log, {
    what,
    connection,
    tty: inspect.Config.Tty,
    streams,
    resize: (size) => container.resize({ h: size.height, w: size.width, abortSignal: deps.quick() }),
    state: async () => {
      const { State } = await container.inspect({ abortSignal: deps.quick() });
      return { running: State.Running, exitCode: State.ExitCode };
    },
  });
}

/** The container, inspected; DKL_ERR_NOT_FOUND when it is gone, DKL_ERR_RUNTIME when it is not running. */
export async function inspectRunning(container: Dockerode.Container, what: string, signal: AbortSignal): Promise<Dockerode.ContainerInspectInfo> {
  let inspect: Dockerode.ContainerInspectInfo;
  try {
    inspect = await container.inspect({ abortSignal: signal });
  } catch (err) {
    if (isDockerNotFound(err)) throw new DockerletError('DKL_ERR_NOT_FOUND', `${what}: no such container`, { cause: err });
    throw new DockerletError('DKL_ERR_RUNTIME', `${what}: ${dockerMessage(err)}`, { cause: err });
  }
  if (!inspect.State.Running) throw new DockerletError('DKL_ERR_RUNTIME', `${what}: the container is not running (${inspect.State.Status})`);
  return inspect;
}

/** An exec or an attach: what differs between the two; the rest is the same hijacked connection. */
interface Hijacked {
  /** "exec in container <id>", for messages. */
  what: string;
  connection: Duplex;
  /** Whether the process has a terminal: Docker then sends its bytes unframed. */
  tty: boolean;
  streams: StreamSelection;
  resize(size: TerminalSize): Promise<unknown>;
  state(): Promise<ProcessState>;
}

function attachedProcess(log: Logger, hijacked: Hijacked): AttachedProcess {
  const { what, connection, tty, streams } = hijacked;
  const output = splitOutput(connection, tty ? rawTerminal : new FrameReader());
  const stdout = streams.stdout ? output.stdout : undefined;
  const stderr = streams.stderr && !tty ? output.stderr : undefined;
  // What nobody reads is dropped, so that it cannot hold the connection back.
  if (!stdout) output.stdout.resume();
  if (!stderr) output.stderr.resume();
  // A failed connection (Docker went away, or a write raced the process's exit) ends the output
  // like a closed one: what came before it stays readable, and `exited` asks Docker what became
  // of the process.
  connection.on('error', (err) => log.debug({ err }, `${what}: the connection to Docker failed`));
  let closed = false;
  const ended = Promise.all([
    new Promise((resolve) => connection.once('close', resolve)).then(() => (closed = true)),
    ...[stdout, stderr].map((stream) => (stream ? finished(stream).catch(() => undefined) : undefined)),
  ]);
  let markDetached!: () => void;
  const detached = new Promise<{ exitCode?: number }>((resolve) => (markDetached = () => resolve({})));
  const exited = Promise.race([
    ended.then(async () => {
      try {
        const exitCode = await exitCodeAfterOutput(hijacked.state);
        return exitCode === undefined ? {} : { exitCode };
      } catch (err) {
        log.warn({ err }, `${what}: Docker did not say how the process ended`);
        return {};
      }
    }),
    detached,
  ]);
  return {
    stdin: streams.stdin ? stdinOf(connection) : undefined,
    stdout,
    stderr,
    async resize(size) {
      // Without a terminal there is nothing to resize (dockershim resizes only TTYs).
      if (!tty) return;
      try {
        await hijacked.resize(size);
      } catch (err) {
        // A process that has ended has no terminal left; Docker says so in its own words (500, 409).
        if (closed || !(await hijacked.state().then((state) => state.running, () => false))) return;
        throw new DockerletError('DKL_ERR_RUNTIME', `${what}: resizing the terminal to ${size.width}x${size.height}: ${dockerMessage(err)}`, { cause: err });
      }
    },
    exited,
    detach() {
      markDetached();
      connection.destroy();
    },
  };
}

/**
 * The process's stdin: writes go on the connection, end() half-closes it so that Docker passes
 * the EOF on. Once the connection is gone, what is still written goes nowhere, as into a pipe
 * whose reader has exited: the outcome is told by `exited`, not by a write error nobody awaits.
 */
function stdinOf(connection: Duplex): Writable {
  const gone = (): boolean => connection.destroyed || connection.writableEnded;
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      if (gone()) return done();
      connection.write(chunk, () => done());
    },
    final(done) {
      if (!gone()) connection.end();
      done();
    },
  });
}

/** How the output's bytes come: Docker's frames, or a terminal's bytes, all of them stdout. */
interface OutputReader {
  frames(chunk: Buffer): Iterable<Frame>;
}

const rawTerminal: OutputReader = { frames: (chunk) => [{ stream: 'stdout', payload: chunk }] };

/**
 * The connection's output as two streams, at their readers' pace: one that falls behind holds
 * the connection back rather than the output piling up here. A stream its reader destroyed
 * drops what still comes for it. Both end when the connection ends or closes.
 */
function splitOutput(connection: Duplex, reader: OutputReader): { stdout: Readable; stderr: Readable } {
  const resume = (): void => {
    connection.resume();
  };
  const outputs = { stdout: new Readable({ read: resume }), stderr: new Readable({ read: resume }) };
  connection.on('data', (chunk: Buffer) => {
    for (const { stream, payload } of reader.frames(chunk)) {
      const target = outputs[stream];
      if (!target.destroyed && !target.push(payload)) connection.pause();
    }
  });
  const end = (): void => {
    outputs.stdout.push(null);
    outputs.stderr.push(null);
  };
  connection.on('end', end);
  connection.on('close', end);
  return outputs;
}
