/**
 * One agent per root dir and per node name on a host: two would each take the other's
 * containers for strays and kill them (they share the containers' node label and the pod
 * directories). The kubelet's answer is a file lock (--lock-file); this one is a listening
 * socket in Linux's abstract namespace for each of the root dir's real path and the node
 * name. The kernel refuses a second listener on a name and frees it when the holder dies, even
 * by SIGKILL, so a crash never leaves a stale lock behind. The holder tells whoever connects
 * who it is, so that the refusal can name it.
 */
import { createHash } from 'node:crypto';
import { realpath } from 'node:fs/promises';
import { connect, createServer, type Server } from 'node:net';
import { DockerletError } from '../../common/api/errors.js';
import { withTimeout } from '../../common/util/clock.js';

export interface AgentLockOwner {
  pid: number;
  nodeName: string;
  rootDir: string;
}

/** How long a holder has to say who it is before it is described without. */
const HolderAnswerMs = 2_000;

export class AgentLock {
  readonly #servers: Server[];

  private constructor(servers: Server[]) {
    this.#servers = servers;
  }

  /** Takes both names for this agent, or rejects naming the agent that holds one (and takes neither). */
  static async acquire(options: { rootDir: string; nodeName: string }): Promise<AgentLock> {
    const owner: AgentLockOwner = { pid: process.pid, nodeName: options.nodeName, rootDir: await realpath(options.rootDir) };
    const held: Server[] = [];
    const claims = [
      { name: lockName('root-dir', owner.rootDir), what: `root dir ${owner.rootDir}`, fix: 'give this one its own --root-dir' },
      { name: lockName('node', owner.nodeName), what: `node name ${owner.nodeName}`, fix: 'give this one its own --hostname-override' },
    ];
    try {
      for (const claim of claims) {
        const server = await listen(claim.name, owner);
        if (server) {
          held.push(server);
          continue;
        }
        const holder = await describeHolder(claim.name);
        throw new DockerletError(
          'DKL_ERR_RUNTIME',
          `another dockerlet agent${holder} already runs with ${claim.what}: two agents would kill each other's pods; stop that one first, or ${claim.fix}`,
        );
      }
    } catch (err) {
      await Promise.all(held.map(close));
      throw err;
    }
    return new AgentLock(held);
  }

  async release(): Promise<void> {
    await Promise.all(this.#servers.map(close));
  }
}

/** An abstract socket name (a leading NUL): hashed, so that any path or node name fits in 108 bytes. */
function lockName(kind: string, key: string): string {
  return `\0dockerlet/agent/${kind}/${createHash('sha256').update(key).digest('hex')}`;
}

/** A server listening on `name` that answers each connection with `owner`; undefined when the name is taken. */
function listen(name: string, owner: AgentLockOwner): Promise<Server | undefined> {
  return new Promise((resolve, reject) => {
    const server = createServer((socket) => {
      socket.on('error', () => undefined);
      socket.end(JSON.stringify(owner));
    });
    server.once('error', (err: NodeJS.ErrnoException) => (err.code === 'EADDRINUSE' ? resolve(undefined) : reject(err)));
    server.listen(name, () => {
      // The lock never keeps the process alive by itself.
      server.unref();
      resolve(server);
    });
  });
}

/** " (pid 1234, node n1, root dir /x)" as the holder tells it, or "" when it does not answer in time. */
async function describeHolder(name: string): Promise<string> {
  try {
    const answer = await withTimeout(
      new Promise<string>((resolve, reject) => {
        let text = '';
        const socket = connect(name);
        socket.setEncoding('utf8');
        socket.on('data', (chunk: string) => (text += chunk));
        socket.on('end', () => resolve(text));
        socket.on('error', reject);
      }),
      HolderAnswerMs,
    );
    const holder = JSON.parse(answer) as Partial<AgentLockOwner>;
    return ` (pid ${holder.pid}, node ${holder.nodeName}, root dir ${holder.rootDir})`;
  } catch {
    return '';
  }
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}
