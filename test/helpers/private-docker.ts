/**
 * A Docker engine of the test's own: a second dockerd with its own socket, data root, exec root
 * and default bridge interface, and no iptables rules, so that restarting it disturbs nothing
 * else on the host (restarting the host's engine would stop every container on it). Not
 * `--bridge none`: dockerd then deletes the host's docker0 (removeDefaultBridgeInterface). The
 * local test images are copied in. Everything it made is removed when the test ends, pass or fail.
 *
 * With `netns`, the engine stands for another host's: it runs inside that network namespace
 * (`ip netns exec`, which also gives it a mount namespace of its own whose /sys is the
 * namespace's), with iptables on, since the namespace's tables are its own, and its own managed
 * containerd, so that containerd, the shims and host-network containers are all in the namespace.
 * `ip netns exec` mounts a fresh sysfs over /sys, which has no cgroup file systems: the host's
 * cgroup hierarchies are mounted again there (the same hierarchies, as no cgroup namespace is
 * made), so the engine and a process joined to its namespaces (`pid`) see the cgroups the host sees.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import Dockerode from 'dockerode';
import { onTestFinished } from 'vitest';
import { cgroupRemountScript } from '../../common/util/cgroup-remount.js';
import { BusyboxImage, docker, PauseImage } from './docker.js';
import { waitFor } from './wait-for.js';

const run = promisify(execFile);
/** How long dockerd gets to exit after SIGTERM before SIGKILL. */
const StopGraceMs = 20_000;
/** How long removing the engine's containers and networks may take before it is stopped regardless. */
const CleanupGraceMs = 30_000;
const ip = (...args: string[]): Promise<unknown> => run('ip', args);

export interface PrivateDockerOptions {
  /** The engine's default bridge address, apart from the host engine's, the pods' and other private engines' (default 10.252.0.1/24). */
  bridgeAddress?: string;
  /** Put the data root on a tmpfs of this size, to fill it at will; `dataFs` is its mount. */
  dataFsMiB?: number;
  /**
   * Run the engine inside this network namespace (made by the caller, removed after the engine):
   * iptables on, no default bridge (`--bridge none`), no bridge of its own made on the host.
   */
  netns?: string;
  /**
   * Who removes the engine: 'test' (default) when the current test finishes, or 'caller' with
   * remove(), for an engine started in a beforeAll hook and shared by a file's tests.
   */
  removedBy?: 'test' | 'caller';
  /** More images of the host engine's to copy in, besides busybox and pause (a benchmark's iperf3). */
  images?: readonly string[];
}

export interface PrivateDocker {
  socketPath: string;
  client: Dockerode;
  /** The file system of the engine's data root: a tmpfs of its own when dataFsMiB was given. */
  dataFs: string;
  /** Stops the engine (SIGTERM, as an init system would) and starts it again on the same state. */
  restart(): Promise<void>;
  /** The dockerd process's id (to join its namespaces with nsenter); undefined while it is stopped. */
  readonly pid: number | undefined;
  /** Removes every container and pod network on the engine, stops it, and removes its files. Idempotent. */
  remove(): Promise<void>;
}

export async function startPrivateDocker(options: PrivateDockerOptions = {}): Promise<PrivateDocker> {
  // Short path: unix socket paths are limited to 107 bytes.
  const base = await mkdtemp(join(tmpdir(), 'dkl-engine-'));
  const socketPath = join(base, 'docker.sock');
  const dataFs = join(base, 'fs');
  const dataRoot = join(dataFs, 'data');
  const execRoot = join(base, 'exec');
  await mkdir(dataFs);
  if (options.dataFsMiB !== undefined) await run('mount', ['-t', 'tmpfs', '-o', `size=${options.dataFsMiB}m`, 'dkl-engine-data', dataFs]);
  await mkdir(dataRoot);
  await mkdir(execRoot);
  const client = new Dockerode({ socketPath });
  let daemon: ChildProcess | undefined;
  // Its default bridge: an interface of its own (at most 15 characters), on a subnet of its own.
  // In a network namespace of its own, none: nothing there to keep apart from.
  const bridge = options.netns === undefined ? `dkle${process.pid % 100_000}` : undefined;
  if (bridge !== undefined) {
    await ip('link', 'add', bridge, 'type', 'bridge');
    await ip('addr', 'add', options.bridgeAddress ?? '10.252.0.1/24', 'dev', bridge);
    await ip('link', 'set', bridge, 'up');
  }
  const remount = options.netns === undefined ? undefined : await cgroupRemountScript();

  const start = async (): Promise<void> => {
    const args = ['--host', `unix://${socketPath}`, '--data-root', dataRoot, '--exec-root', execRoot, '--pidfile', join(base, 'docker.pid')];
    if (options.netns === undefined) {
      daemon = spawn('dockerd', [...args, '--bridge', bridge!, '--iptables=false', '--ip-forward=false', '--ip-masq=false'], { stdio: 'ignore' });
    } else {
      // ip netns exec execs sh, which execs dockerd: the child's pid is dockerd's.
      const logFd = openSync(join(base, 'dockerd.log'), 'a');
      daemon = spawn('ip', ['netns', 'exec', options.netns, 'sh', '-c', `${remount} && exec dockerd "$@"`, 'dockerd', ...args, '--bridge', 'none'], { stdio: ['ignore', logFd, logFd] });
      closeSync(logFd);
    }
    const exited = new Promise<void>((resolve) => daemon!.once('exit', () => resolve()));
    await Promise.race([
      waitFor('the private Docker engine to answer', () => client.ping(), { timeoutMs: 30_000 }),
      exited.then(async () => {
        const log = options.netns === undefined ? '' : `: ${(await readFile(join(base, 'dockerd.log'), 'utf8').catch(() => '')).slice(-2000)}`;
        throw new Error(`the private dockerd exited at start${log}`);
      }),
    ]);
  };
  // SIGTERM, as an init system would; SIGKILL if dockerd has not exited after StopGraceMs. Its
  // managed containerd normally goes with it: if that one outlives it (dockerd killed), it is
  // killed too, by its pid, found before the signal.
  const stop = async (): Promise<void> => {
    const running = daemon;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    // Listened for before any await: an exit meanwhile is not missed.
    const exited = new Promise<void>((resolve) => running.once('exit', () => resolve()));
    const containerd = await managedContainerd(running.pid!);
    if (running.exitCode === null && running.signalCode === null) running.kill('SIGTERM');
    const killer = setTimeout(() => running.kill('SIGKILL'), StopGraceMs);
    await exited;
    clearTimeout(killer);
    if (containerd !== undefined) await killIfOutlives(containerd);
  };

  let removed: Promise<void> | undefined;
  const remove = (): Promise<void> => (removed ??= teardown());
  const teardown = async (): Promise<void> => {
    if (daemon && daemon.exitCode === null) {
      const cleanup = async (): Promise<void> => {
        const leftovers = await client.listContainers({ all: true }).catch(() => []);
        await Promise.all(leftovers.map((c) => client.getContainer(c.Id).remove({ force: true }).catch(() => undefined)));
        // A network's bridge interface outlives the engine: remove the networks the agent made.
        const networks = await client.listNetworks({ filters: { label: ['dockerlet.io/network=pods'] } }).catch(() => []);
        await Promise.all(networks.map((n) => client.getNetwork(n.Id).remove().catch(() => undefined)));
      };
      // An engine that no longer answers is stopped all the same.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([cleanup(), new Promise<void>((resolve) => (timer = setTimeout(resolve, CleanupGraceMs)))]);
      clearTimeout(timer);
    }
    await stop();
    if (bridge !== undefined) await ip('link', 'del', bridge);
    if (options.dataFsMiB !== undefined) await run('umount', [dataFs]);
    await rm(base, { recursive: true, force: true });
  };
  if ((options.removedBy ?? 'test') === 'test') onTestFinished(remove);

  // The images are loaded under the same guard as the start: a failed load (an image the host
  // does not have) removes the engine, whoever was to remove it.
  try {
    await start();
    for (const name of [BusyboxImage, PauseImage, ...(options.images ?? [])]) {
      const image = (await docker.getImage(name).get()) as NodeJS.ReadableStream;
      const load = (await client.loadImage(image as never)) as NodeJS.ReadableStream;
      await pipeline(load, async function* (source) {
        for await (const _ of source);
      });
    }
  } catch (err) {
    await remove().catch((cleanupErr: unknown) => console.warn(`could not remove the private Docker engine in ${base}: ${cleanupErr instanceof Error ? cleanupErr.message : String(cleanupErr)}`));
    throw err;
  }
  return {
    socketPath,
    client,
    dataFs,
    async restart() {
      await stop();
      await start();
    },
    get pid() {
      return daemon && daemon.exitCode === null && daemon.signalCode === null ? daemon.pid : undefined;
    },
    remove,
  };
}

/** The pid of dockerd's managed containerd (its child by that name), or undefined. */
async function managedContainerd(dockerd: number): Promise<number | undefined> {
  const { stdout } = await run('pgrep', ['-P', String(dockerd), '-x', 'containerd']).catch(() => ({ stdout: '' }));
  const pid = Number(String(stdout).trim().split('\n')[0]);
  return pid > 0 ? pid : undefined;
}

/**
 * Gives containerd (by its pid) a few seconds to exit after its dockerd did, then SIGKILL. The
 * pid is checked to still be a containerd's, not yet exited (a zombie counts as gone).
 */
async function killIfOutlives(pid: number): Promise<void> {
  const alive = async (): Promise<boolean> => {
    const [comm, stat] = await Promise.all([readFile(`/proc/${pid}/comm`, 'utf8'), readFile(`/proc/${pid}/stat`, 'utf8')]).catch(() => ['', '']);
    return comm.trim() === 'containerd' && stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  };
  const gone = await waitFor(`containerd ${pid} to exit after its dockerd`, async () => !(await alive()), { timeoutMs: 5_000, intervalMs: 100 }).catch(() => false);
  if (gone || !(await alive())) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return; // gone meanwhile
  }
  await waitFor(`containerd ${pid} to exit after SIGKILL`, async () => !(await alive()), { timeoutMs: 5_000, intervalMs: 100 }).catch(() => undefined);
}

/** Commits `<repo>:1` on `client`: busybox and a 16 MiB layer of random bytes, an image no pod uses. Returns its ID. */
export async function makeBlobImage(client: Dockerode, repo: string): Promise<string> {
  const container = await client.createContainer({ Image: BusyboxImage, Cmd: ['dd', 'if=/dev/urandom', 'of=/blob', 'bs=1048576', 'count=16'] });
  await container.start();
  await container.wait();
  await container.commit({ repo, tag: '1' });
  await container.remove();
  return (await client.getImage(`${repo}:1`).inspect()).Id;
}
