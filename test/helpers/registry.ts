/**
 * A real image registry on loopback (Debian's docker-registry), for testing image pulls: the
 * Docker engine trusts 127.0.0.0/8 registries over plain HTTP. Started per test file, stopped
 * (by the PID it started) afterwards, its storage in a temporary directory. With `login`, it
 * wants that user (basic auth from an htpasswd file); the helper pushes with a Docker client
 * config of its own, so the host's ~/.docker is never touched.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { docker } from './docker.js';
import { freePort } from './test-node.js';
import { waitFor } from './wait-for.js';

const run = promisify(execFile);

export interface LocalRegistry {
  /** host:port */
  address: string;
  /** Tags `source` as <address>/<repository>, pushes it, and removes the local tag. Returns the reference. */
  push(source: string, repository: string): Promise<string>;
  stop(): Promise<void>;
}

export async function startRegistry(options: { login?: { username: string; password: string } } = {}): Promise<LocalRegistry> {
  const dir = await mkdtemp(join(tmpdir(), 'dockerlet-registry-'));
  const port = await freePort();
  const address = `127.0.0.1:${port}`;
  const config = join(dir, 'config.yml');
  const { login } = options;
  const basicAuth = login ? Buffer.from(`${login.username}:${login.password}`).toString('base64') : undefined;
  if (login) await writeFile(join(dir, 'htpasswd'), (await run('htpasswd', ['-nbB', login.username, login.password])).stdout);
  await writeFile(
    config,
    `version: 0.1
log: {level: error}
storage:
  filesystem: {rootdirectory: ${join(dir, 'data')}}
  delete: {enabled: true}
http: {addr: "${address}"}
${login ? `auth:\n  htpasswd: {realm: dockerlet-test, path: ${join(dir, 'htpasswd')}}\n` : ''}`,
  );
  const child: ChildProcess = spawn('docker-registry', ['serve', config], { stdio: 'ignore' });
  const headers: Record<string, string> = basicAuth ? { Authorization: `Basic ${basicAuth}` } : {};
  try {
    await waitFor('the registry to answer', async () => (await fetch(`http://${address}/v2/`, { headers })).status === 200, { timeoutMs: 10_000 });
  } catch (err) {
    child.kill('SIGTERM');
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  // The docker CLI's own config, with the login in it, for pushing.
  const clientConfig = join(dir, 'docker-client');
  await mkdir(clientConfig);
  await writeFile(join(clientConfig, 'config.json'), JSON.stringify({ auths: basicAuth ? { [address]: { auth: basicAuth } } : {} }));
  const pushed: string[] = [];
  return {
    address,
    async push(source, repository) {
      const reference = `${address}/${repository}`;
      const [repo, tag] = reference.split(/:(?=[^:/]+$)/) as [string, string];
      await docker.getImage(source).tag({ repo, tag });
      await run('docker', ['--config', clientConfig, 'push', reference]);
      await docker.getImage(reference).remove();
      pushed.push(reference);
      return reference;
    },
    async stop() {
      for (const reference of pushed) await docker.getImage(reference).remove().catch(() => undefined);
      child.kill('SIGTERM');
      await rm(dir, { recursive: true, force: true });
    },
  };
}
