/**
 * Locks for what only one dockerlet process may own on a host: a listening socket in Linux's
 * abstract namespace per locked name. The kernel refuses a second listener on a name and frees
 * it when the holder dies, even by SIGKILL, so a crash never leaves a stale lock. Abstract names
 * belong to a network namespace, which is also the reach of what the proxy owns (its iptables
 * rules and service addresses). The holder tells whoever connects who it is, so that a refusal
 * can name it.
 *
 * Abstract sockets have no permissions, so the names are hashed with a secret that only root
 * can read (/run/dockerlet/lock-secret, made on first use): another user cannot compute them,
 * and so cannot take a lock first to keep the agent or the proxy from starting. Processes that
 * must exclude each other share that file: a dockerlet in a container with a /run of its own
 * (and the host's network namespace) needs the host's /run/dockerlet mounted.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { chmod, link, mkdir, open, rm, writeFile } from 'node:fs/promises';
import { connect, createServer, type Server } from 'node:net';
import { dirname } from 'node:path';
import { DockerletError } from '../api/errors.js';
import { withTimeout } from './clock.js';

/** What a holder says about itself. */
export type LockOwner = Record<string, string | number>;

/** How long a holder has to say who it is before it is described without. */
const HolderAnswerMs = 2_000;
const SecretPath = '/run/dockerlet/lock-secret';

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
    const secret = await lockSecret();
    try {
      for (const key of keys) {
        const name = lockName(secret, key);
        const server = await listen(name, owner);
        if (!server) throw refusal(key, await askHolder(name));
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
    // No secret yet: no lock was ever taken.
    const secret = await readSecret();
    return secret ? askHolder(lockName(secret, key)) : undefined;
  }

  async release(): Promise<void> {
    await Promise.all(this.#servers.map(close));
  }
}

/** An abstract socket name (a leading NUL): keyed with the secret, and short enough for any key. */
function lockName(secret: Buffer, key: string): string {
  return `\0dockerlet/${createHmac('sha256', secret).update(key).digest('hex')}`;
}

/** The host's lock secret, made (root-only) by the first process that needs it. */
async function lockSecret(): Promise<Buffer> {
  const existing = await readSecret();
  if (existing) return existing;
  await mkdir(dirname(SecretPath), { recursive: true, mode: 0o700 });
  await chmod(dirname(SecretPath), 0o700);
  // Written whole aside, then linked into place: two processes making it at once both read the one that won.
  const draft = `${SecretPath}.${process.pid}.${randomBytes(4).toString('hex')}`;
  try {
    await writeFile(draft, randomBytes(32), { mode: 0o600 });
    await link(draft, SecretPath).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err;
    });
  } finally {
    await rm(draft, { force: true });
  }
  const made = await readSecret();
  if (!made) throw new DockerletError('DKL_ERR_RUNTIME', `${SecretPath} vanished as it was made`);
  return made;
}

/** The secret at `path`, or undefined when none was made yet; refused when anyone but root could read it. */
export async function readSecret(path = SecretPath): Promise<Buffer | undefined> {
  const handle = await open(path, 'r').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (!handle) return undefined;
  try {
    const info = await handle.stat();
    if (info.uid !== 0 || (info.mode & 0o077) !== 0 || info.size !== 32) {
      throw new DockerletError('DKL_ERR_RUNTIME', `${path} must be root's alone (mode 0600) and 32 bytes long: remove it, and it is made again`);
    }
    return await handle.readFile();
  } finally {
    await handle.close();
  }
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
