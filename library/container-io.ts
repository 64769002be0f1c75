/** A container's log and a command run in it, whole, through the kubelet's own API (the one its HTTP server serves). */
import type { Readable } from 'node:stream';
import { DockerletError } from '../common/api/errors.js';
import type { ContainerTarget, KubeletApi } from '../agent/server/kubelet-api.js';
import type { ExecResult, LogOptions } from './api.js';

async function collect(stream: Readable | undefined): Promise<string> {
  if (!stream) return '';
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

export async function readLogs(api: KubeletApi, target: ContainerTarget, options: LogOptions = {}): Promise<string> {
  const stream = await api.containerLogs({
    ...target,
    follow: false,
    previous: options.previous === true,
    timestamps: options.timestamps === true,
    ...(options.tailLines !== undefined ? { tailLines: options.tailLines } : {}),
    signal: AbortSignal.timeout(60_000),
  });
  return collect(stream);
}

/** Runs `command` in the running container, without a terminal; `stdin`, when given, is its whole input. */
export async function execIn(api: KubeletApi, target: ContainerTarget, command: readonly string[], stdin?: string): Promise<ExecResult> {
  const streams = await api.containerStreams(target);
  const exec = await streams.exec(command, { stdin: stdin !== undefined, stdout: true, stderr: true, tty: false });
  if (stdin !== undefined) exec.stdin?.end(stdin);
  const [stdout, stderr, exited] = await Promise.all([collect(exec.stdout), collect(exec.stderr), exec.exited]);
  if (exited.exitCode === undefined) {
    throw new DockerletError('DKL_ERR_RUNTIME', `exec in ${target.namespace}/${target.pod} container ${target.container}: the connection to the container runtime ended before the command did`);
  }
  return { stdout, stderr, exitCode: exited.exitCode };
}
