/**
 * ExecSync on Docker (cri-dockerd's ExecSync): create an exec, attach to its output, wait for
 * it to end, read its exit code. Docker cannot kill an exec, so on timeout the command may go
 * on running inside the container; the caller only stops waiting, as the kubelet does.
 */
import type Dockerode from 'dockerode';
import { DockerletError } from '../../../common/api/errors.js';
import { delay } from '../../../common/util/clock.js';
import { ExecTimeoutError, type ExecOptions, type ExecResult } from '../runtime.js';
import { dockerMessage } from './docker-errors.js';
import { demuxLogStream } from './logs.js';

/** Docker may report the exit code a moment after the output ends. */
const ExitCodePolls = 50;
const ExitCodePollMs = 10;

export async function dockerExecSync(docker: Dockerode, id: string, command: readonly string[], options: ExecOptions): Promise<ExecResult> {
  let exec: Dockerode.Exec;
  let raw: NodeJS.ReadableStream;
  try {
    exec = await docker.getContainer(id).exec({ Cmd: [...command], AttachStdout: true, AttachStderr: true, Tty: false });
    raw = (await exec.start({ hijack: true, stdin: false })) as NodeJS.ReadableStream;
  } catch (err) {
    throw new DockerletError('DKL_ERR_RUNTIME', `exec in container ${id.slice(0, 12)}: ${dockerMessage(err)}`, { cause: err });
  }
  const output = await readOutput(demuxLogStream(raw as never), command, options);
  for (let poll = 0; poll < ExitCodePolls; poll++) {
    const inspect = await exec.inspect();
    if (!inspect.Running && inspect.ExitCode !== null) return { exitCode: inspect.ExitCode, output };
    await delay(ExitCodePollMs);
  }
  throw new DockerletError('DKL_ERR_RUNTIME', `exec in container ${id.slice(0, 12)}: Docker reported no exit code`);
}

/** The first `maxOutputBytes` of the stream, once it ends; rejects with ExecTimeoutError at the timeout. */
function readOutput(stream: NodeJS.ReadableStream & { destroy(): void }, command: readonly string[], options: ExecOptions): Promise<string> {
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
