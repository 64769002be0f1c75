/** `dockerlet cluster logs COMPONENT [--follow] [--tail N]`: a component's log file, as kubectl logs shows a container's. */
import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { DockerletError } from '../../common/api/errors.js';
import { delay } from '../../common/util/clock.js';
import { flagError } from '../settings.js';
import { ClusterComponents, isComponentName } from './cluster-layout.js';
import type { ClusterTarget } from './cluster-options.js';

const FollowPollMs = 250;
/** The components whose logs there are, as help and errors name them. */
export const ComponentsHelp = `${ClusterComponents.join(', ')}, dockerd-<k>, dockerlet-<k> and local-provisioner-<k> (the k-th node's engine, agent and local provisioner, with --nodes), or cluster (a detached up's own output)`;
/** The most of a log read at once while following: a large backlog goes out in pieces. */
const ReadChunk = 1024 * 1024;

export interface LogsFlags {
  follow?: boolean;
  tail?: string;
}

export async function clusterLogs(target: ClusterTarget, component: string, flags: LogsFlags): Promise<number> {
  if (component !== 'cluster' && !isComponentName(component)) {
    throw new DockerletError('DKL_ERR_FLAG_INVALID', `COMPONENT: invalid value ${JSON.stringify(component)}: one of ${ComponentsHelp}`);
  }
  const tail = flags.tail === undefined ? -1 : Number(flags.tail);
  if (!Number.isInteger(tail) || tail < -1) throw flagError('--tail', flags.tail, 'must be a number of lines, or -1 for all');
  const path = target.layout.log(component);
  const size = await stat(path).then((info) => info.size, () => {
    throw new DockerletError('DKL_ERR_NOT_FOUND', `no ${component} log in ${target.layout.logsDir}: has cluster ${target.name} been started there?`);
  });
  const start = tail === -1 ? 0 : await tailOffset(path, size, tail);
  if (!flags.follow) {
    // Streamed: a component's log is never rotated, and may be large.
    await pipeline(createReadStream(path, { start }), process.stdout, { end: false });
    return 0;
  }
  let end = start;
  let stopped = false;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => (stopped = true));
  while (!stopped) {
    // Followed, a line still being written waits for its end.
    const read = await readAppended(path, end, true);
    process.stdout.write(read.data);
    end = read.end;
    if (read.data.length < ReadChunk / 2) await delay(FollowPollMs, undefined, true);
  }
  return 0;
}

/**
 * What was appended to a log file after `offset`, at most ReadChunk bytes (up to its last
 * complete line with `wholeLines`), and where that ends; from the start again when the file was
 * truncated, nothing when it is gone.
 */
export async function readAppended(path: string, offset: number, wholeLines: boolean): Promise<{ data: Buffer; end: number }> {
  const file = await open(path, 'r').catch(() => undefined);
  if (!file) return { data: Buffer.alloc(0), end: offset };
  try {
    const { size } = await file.stat();
    const from = size < offset ? 0 : offset;
    const buffer = Buffer.alloc(Math.min(size - from, ReadChunk));
    const { bytesRead } = await file.read(buffer, 0, buffer.length, from);
    const read = buffer.subarray(0, bytesRead);
    const complete = wholeLines ? read.lastIndexOf(0x0a) + 1 : read.length;
    return { data: read.subarray(0, complete), end: from + complete };
  } finally {
    await file.close();
  }
}

/** Where the last `lines` lines of the file begin. */
async function tailOffset(path: string, size: number, lines: number): Promise<number> {
  if (lines === 0) return size;
  const file = await open(path, 'r');
  try {
    const chunk = Buffer.alloc(64 * 1024);
    let position = size;
    let newlines = 0;
    // A final newline ends the last line; it does not start another.
    let skipFinal = true;
    while (position > 0) {
      const length = Math.min(chunk.length, position);
      position -= length;
      await file.read(chunk, 0, length, position);
      for (let index = length - 1; index >= 0; index -= 1) {
        if (chunk[index] !== 0x0a) {
          skipFinal = false;
          continue;
        }
        if (skipFinal) {
          skipFinal = false;
          continue;
        }
        newlines += 1;
        if (newlines === lines) return position + index + 1;
      }
    }
    return 0;
  } finally {
    await file.close();
  }
}
