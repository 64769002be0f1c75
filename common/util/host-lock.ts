/**
 * Locks for what only one dockerlet process may own on a host: a listening socket in Linux's
 * abstract namespace per locked name. The kernel refuses a second listener on a name and frees
 * it when the holder dies, even by SIGKILL, so a crash never leaves a stale lock. Abstract names
 * belong to a network namespace, which is also the reach of what the proxy owns (its iptables
 * rules and service addresses). The holder tells whoever connects who it is, so that a refusal
 * can name it.
 */
import { createHash } from 'node:crypto';
import { connect, createServer, type Server } from 'node:net';
import { withTimeout } from './clock.js';

/** What a holder says about itself. */
export type LockOwner = Record<string, string | number>;

/** How long a holder has to say who it is before it is described without. */
const HolderAnswerMs = 2_000;

export class HostLock {
  readonly #servers: Server[];

  private constructor(servers: Server[]) {
    this.#servers = servers;
  }

  /**
   * Takes every name in `keys` for `owner`, or takes none and rejects with the error `refusal`
   * makes of the first key that is held and of what its holder says (undefined when it did not).
   */
  static async acquire<K extends string>(keys: readonly K[], owner: LockOwner, refusal: (key: K, holder: LockOwner | undefined) => Error): Promise<HostLock> {
    const held: Server[] = [];
    try {
      for (const key of keys) {
        const server = await listen(lockName(key), owner);
        if (!server) throw refusal(key, await askHolder(lockName(key)));
        held.push(server);
      }
    } catch (err) {
      await Promise.all(held.map(close));
      throw err;
    }
    return new HostLock(held);
  }

  /** Who holds `key`, or undefined when nobody does (or the holder did not say). */
  static async holder(key: string): Promise<LockOwner | undefined> {
    return askHolder(lockName(key));
  }

  async release(): Promise<void> {
    await Promise.all(this.#servers.map(close));
  }
}

/** An abstract socket name (a leading NUL): hashed, so that any key fits in 108 bytes. */
function lockName(key: string): string {
  return `\0dockerlet/${createHash('sha256').update(key).digest('hex')}`;
}

/** A server listening on `name` that answers each connection with `owner`; undefined when the name is taken. */
function listen(name: string, owner: LockOwner): Promise<Server | undefined> {
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

/** What the holder of `name` says about itself; undefined when nobody holds it or it does not answer in time. */
async function askHolder(name: string): Promise<LockOwner | undefined> {
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
    return JSON.parse(answer) as LockOwner;
  } catch {
    return undefined;
  }
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}
