/**
 * The Docker client is made without loading ssh2 or gRPC, and the deferred modules still work
 * when called. In a process of its own: the CommonJS cache is the process's, shared by every
 * test file a worker runs.
 */
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { expect, test } from 'vitest';

const Repository = resolve(import.meta.dirname, '../../../..');

const Script = `
import { createRequire } from 'node:module';
import { Agent } from 'node:http';
const { dockerClient } = await import(${JSON.stringify(resolve(Repository, 'agent/runtime/docker/dockerode.ts'))});
const require = createRequire(${JSON.stringify(resolve(Repository, 'package.json'))});
const loaded = (pattern) => Object.keys(require.cache).some((path) => pattern.test(path));
const client = dockerClient('/nonexistent/docker.sock');
const report = { client: typeof client.listContainers, dockerode: loaded(/node_modules\\/dockerode\\//), ssh2: loaded(/node_modules\\/ssh2\\//), grpc: loaded(/node_modules\\/@grpc\\//), protobuf: loaded(/node_modules\\/protobufjs\\//) };
// What docker-modem calls for an ssh:// host: the real module, loaded now.
const asDockerode = createRequire(require.resolve('dockerode'));
const sshAgent = asDockerode('docker-modem/lib/ssh.js')({ host: '127.0.0.1' });
report.sshAgent = sshAgent instanceof Agent;
report.ssh2After = loaded(/node_modules\\/ssh2\\//);
process.stdout.write(JSON.stringify(report));
`;

test('the Docker client loads neither ssh2 nor gRPC until they are called, and then loads the real modules', async () => {
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', Script], { cwd: Repository });
  expect(JSON.parse(stdout)).toEqual({ client: 'function', dockerode: true, ssh2: false, grpc: false, protobuf: false, sshAgent: true, ssh2After: true });
});
