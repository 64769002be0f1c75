/**
 * Docker execs: starting one with the chosen streams on its hijacked connection, and ExecSync on
 * top of it (cri-dockerd's ExecSync): attach to the output, wait for it to end, read the exit
 * code. Docker cannot kill an exec, so on timeout the command may go on running inside the
 * container; the caller only stops waiting, as the kubelet does.
 */
import type { Duplex, Readable } from 'node:stream';
import type Dockerode from 'dockerode';
import { DockerletError } from '../../../common/api/errors.js';
import { ExecTimeoutError, type ExecOptions, type ExecResult, type StreamSelection } from '../runtime.js';
import { dockerMessage, isDockerNotFound } from './docker-errors.js';
import { exitCodeAfterOutput, type ProcessState } from './exit-code.js';
import { demuxLogStream } from './logs.js';

export interface StartedExec {
  exec: Dockerode.Exec;
  /** The hijacked connection: the command's stdin one way, its output the other. */
  connection: Duplex;
}

/**
 * Creates an exec of `command` in the running container `id` with `streams` attached, and starts
 * it. A container that is not running makes Docker refuse (409) with its own clear message; one
 * that is gone is DKL_ERR_NOT_FOUND. `signal` bounds the creation only: the start's connection
 * lives as long as the command.
 */
export async function startExec(docker: Dockerode, id: string, command: readonly string[], streams: StreamSelection, signal?: AbortSignal): Promise<StartedExec> {
  try {
    const exec = await docker.getContainer(id).exec({
      Cmd: [...command],
      AttachStdin: streams.stdin,
      AttachStdout: streams.stdout,
      AttachStderr: streams.stderr,
      Tty: streams.tty,
      ...(signal ? { abortSignal: signal } : {}),
    });
    const connection = await exec.start({ hijack: true, stdin: streams.stdin, Detach: false, Tty: streams.tty });
    return { exec, connection };
  } catch (err) {
    throw new DockerletError(isDockerNotFound(err) ? 'DKL_ERR_NOT_FOUND' : 'DKL_ERR_RUNTIME', `exec in container ${id.slice(0, 12)}: ${dockerMessage(err)}`, { cause: err });
  }
}

export async function execState(exec: Dockerode.Exec, signal?: AbortSignal): Promise<ProcessState> {
  const inspect = await exec.inspect(signal ? { abortSignal: signal } : {});
  return { running: inspect.Running, exitCode: inspect.ExitCode };
}

export async function dockerExecSync(docker: Dockerode, id: string, command: readonly string[], options: ExecOptions): Promise<ExecResult> {
  const { exec, connection } = await startExec(docker, id, command, { stdin: false, stdout: true, stderr: true, tty: false });
  const output = await readOutput(demuxLogStream(connection), command, options);
  const exitCode = await exitCodeAfterOutput(() => execState(exec));
  if (exitCode === undefined) throw new DockerletError('DKL_ERR_RUNTIME', `exec in container ${id.slice(0, 12)}: Docker reported no exit code`);
  return { exitCode, output };
}

/** The first `maxOutputBytes` of the stream, once it ends; rejects with ExecTimeoutError at the timeout. */
function readOutput(stream: Readable, command: readonly string[], options: ExecOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let kept = 0;
    const timer =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            stream.destroy();
            reject(new ExecTimeoutError(command, options.timeoutMs!));
          }, options.timeoutMs);
    timer?.unref();
    stream.on('data', (chunk: Buffer) => {
      if (kept >= options.maxOutputBytes) return;
      const part = chunk.subarray(0, options.maxOutputBytes - kept);
      chunks.push(part);
      kept += part.length;
    });
    stream.on('end', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString('utf8'));
    });
    stream.on('error', (err: Error) => {
      clearTimeout(timer);
      reject(new DockerletError('DKL_ERR_RUNTIME', `exec output: ${err.message}`, { cause: err }));
    });
  });
}
