/**
 * A Docker engine of the test's own: a second dockerd with its own socket, data root, exec root
 * and default bridge interface, and no iptables rules, so that restarting it disturbs nothing
 * else on the host (restarting the host's engine would stop every container on it). Not
 * `--bridge none`: dockerd then deletes the host's docker0 (removeDefaultBridgeInterface). The
 * local test images are copied in. Everything it made is removed when the test ends, pass or fail.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import Dockerode from 'dockerode';
import { onTestFinished } from 'vitest';
import { BusyboxImage, docker, PauseImage } from './docker.js';
import { waitFor } from './wait-for.js';

const run = promisify(execFile);
const ip = (...args: string[]): Promise<unknown> => run('ip', args);

export interface PrivateDockerOptions {
  /** The engine's default bridge address, apart from the host engine's, the pods' and other private engines' (default 10.252.0.1/24). */
  bridgeAddress?: string;
  /** Put the data root on a tmpfs of this size, to fill it at will; `dataFs` is its mount. */
  dataFsMiB?: number;
}

export interface PrivateDocker {
  socketPath: string;
  client: Dockerode;
  /** The file system of the engine's data root: a tmpfs of its own when dataFsMiB was given. */
  dataFs: string;
  /** Stops the engine (SIGTERM, as an init system would) and starts it again on the same state. */
  restart(): Promise<void>;
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
  const bridge = `dkle${process.pid % 100_000}`;
  await ip('link', 'add', bridge, 'type', 'bridge');
  await ip('addr', 'add', options.bridgeAddress ?? '10.252.0.1/24', 'dev', bridge);
  await ip('link', 'set', bridge, 'up');

  const start = async (): Promise<void> => {
    daemon = spawn(
      'dockerd',
      [
        '--host',
        `unix://${socketPath}`,
        '--data-root',
        dataRoot,
        '--exec-root',
        execRoot,
        '--pidfile',
        join(base, 'docker.pid'),
        '--bridge',
        bridge,
        '--iptables=false',
        '--ip-forward=false',
        '--ip-masq=false',
      ],
      { stdio: 'ignore' },
    );
    const exited = new Promise<void>((resolve) => daemon!.once('exit', () => resolve()));
    await Promise.race([
      waitFor('the private Docker engine to answer', () => client.ping(), { timeoutMs: 30_000 }),
      exited.then(() => {
        throw new Error('the private dockerd exited at start');
      }),
    ]);
  };
  const stop = async (): Promise<void> => {
    const running = daemon;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => running.once('exit', () => resolve()));
    running.kill('SIGTERM');
    await exited;
  };

  onTestFinished(async () => {
    if (daemon && daemon.exitCode === null) {
      const leftovers = await client.listContainers({ all: true }).catch(() => []);
      await Promise.all(leftovers.map((c) => client.getContainer(c.Id).remove({ force: true }).catch(() => undefined)));
      // A network's bridge interface outlives the engine: remove the networks the agent made.
      const networks = await client.listNetworks({ filters: { label: ['dockerlet.io/network=pods'] } }).catch(() => []);
      await Promise.all(networks.map((n) => client.getNetwork(n.Id).remove().catch(() => undefined)));
    }
    await stop();
    await ip('link', 'del', bridge);
    if (options.dataFsMiB !== undefined) await run('umount', [dataFs]);
    await rm(base, { recursive: true, force: true });
  });

  await start();
  const exported = (await docker.getImage(BusyboxImage).get()) as NodeJS.ReadableStream;
  const pause = (await docker.getImage(PauseImage).get()) as NodeJS.ReadableStream;
  for (const image of [exported, pause]) {
    const load = (await client.loadImage(image as never)) as NodeJS.ReadableStream;
    await pipeline(load, async function* (source) {
      for await (const _ of source);
    });
  }
  return {
    socketPath,
    client,
    dataFs,
    async restart() {
      await stop();
      await start();
    },
  };
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
