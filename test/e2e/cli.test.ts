/** The command line as a user meets it: help, exit codes, and errors that name the flag or field. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { randomBytes } from 'node:crypto';
import { createServer, connect } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, onTestFinished, test } from 'vitest';
import { runCli, startAgentProcess } from '../helpers/agent-process.js';
import { docker, removeNodeContainers } from '../helpers/docker.js';
import { uniqueNodeName } from '../helpers/test-node.js';
import { waitFor } from '../helpers/wait-for.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dockerlet-cli-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('dockerlet --help', () => {
  test('lists the commands and exits 0', async () => {
    const result = await runCli(['--help']).exited;
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^Usage: dockerlet /);
    expect(result.stdout).toMatch(/^\s+agent\b.*node agent/m);
    expect(result.stdout).toMatch(/^\s+up\b/m);
  });

  test('--version prints dockerlet\'s version and the Kubernetes release it follows', async () => {
    const result = await runCli(['--version']).exited;
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^dockerlet \d+\.\d+\.\d+ \(Kubernetes v\d+\.\d+\.\d+\)\n$/);
  });

  test('-v=2, as the kubelet spells it, turns debug lines on', async () => {
    const agent = await startAgentProcess({ extraArgs: ['-v=2'] });
    await waitFor('a debug line', () => agent.process.stderr.split('\n').some((line) => line.includes('"level":20')));
  });

  test('agent --help lists the kubelet flags', async () => {
    const result = await runCli(['agent', '--help']).exited;
    expect(result.code).toBe(0);
    for (const flag of ['--pod-manifest-path', '--manifest-url', '--config', '--hostname-override', '--root-dir', '--address', '--port', '--read-only-port']) {
      expect(result.stdout).toContain(flag);
    }
  });
});

describe('bad flags and config exit 2 with a message naming the flag or field', () => {
  test('a port that is not a number', async () => {
    const result = await runCli(['agent', '--pod-manifest-path', dir, '--port', 'abc']).exited;
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--port: invalid value "abc": must be a port number from 0 to 65535');
  });

  test('a cluster DNS served while --cluster-dns names another server, and a --serve-cluster-dns that is no boolean', async () => {
    const elsewhere = await runCli(['up', '--pod-manifest-path', dir, '--serve-cluster-dns', '--cluster-dns', '192.0.2.10']).exited;
    expect(elsewhere.code).toBe(2);
    expect(elsewhere.stderr).toContain(`--cluster-dns: invalid value "192.0.2.10": dockerlet's cluster DNS answers on the pod bridge's gateway 10.244.0.1, or at one ClusterIP of 10.96.0.0/16`);
    const notBoolean = await runCli(['proxy', '--pod-manifest-path', dir, '--serve-cluster-dns=sometimes']).exited;
    expect(notBoolean.code).toBe(2);
    expect(notBoolean.stderr).toContain('--serve-cluster-dns: invalid value "sometimes": must be true or false');
  });

  test('an unknown flag', async () => {
    const result = await runCli(['agent', '--no-such-flag']).exited;
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("unknown option '--no-such-flag'");
  });

  test('a missing --config file', async () => {
    const missing = join(dir, 'absent.yaml');
    const result = await runCli(['agent', '--config', missing]).exited;
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`--config ${missing}: ENOENT`);
  });

  test('a KubeletConfiguration field with a bad value', async () => {
    const config = join(dir, 'kubelet.yaml');
    await writeFile(config, 'apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nfileCheckFrequency: soon\n');
    const result = await runCli(['agent', '--config', config]).exited;
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`--config ${config}: fileCheckFrequency: Invalid value: "soon": must be a duration such as 20s, 1m or 1m30s`);
  });

  test('proxy --kubeconfig with a manifest source: Services come from one place only', async () => {
    const result = await runCli(['proxy', '--kubeconfig', join(dir, 'kubeconfig'), '--pod-manifest-path', dir]).exited;
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--kubeconfig: Services and endpoints come from the API server; drop --pod-manifest-path, --manifest-url and --kubelet-url');
  });

  test('proxy --kubeconfig naming a file that is not there', async () => {
    const missing = join(dir, 'absent.kubeconfig');
    const result = await runCli(['proxy', '--kubeconfig', missing, '--healthz-bind-address', '127.0.0.1:0']).exited;
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`--kubeconfig ${missing}: `);
  });

  test('up --proxy-kubeconfig without --kubeconfig', async () => {
    const result = await runCli(['up', '--pod-manifest-path', dir, '--proxy-kubeconfig', join(dir, 'kubeconfig')]).exited;
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--proxy-kubeconfig: only `dockerlet up` with --kubeconfig runs a proxy that reads the API server');
  });

  test('a config file of the wrong kind', async () => {
    const config = join(dir, 'kubelet.yaml');
    await writeFile(config, 'apiVersion: v1\nkind: Pod\n');
    const result = await runCli(['agent', '--config', config]).exited;
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--config .*: kind: Unsupported value: "Pod"/);
  });
});

describe('no Docker engine at the endpoint', () => {
  /** An agent on a fresh node and directories; on the engine at `socket` when given. */
  const agentArgs = (socket: string | undefined, nodeName = uniqueNodeName('nodocker')): string[] => [
    'agent',
    '--pod-manifest-path',
    dir,
    '--root-dir',
    join(dir, 'root'),
    '--hostname-override',
    nodeName,
    '--port',
    '0',
    '--read-only-port',
    '0',
    ...(socket ? ['--container-runtime-endpoint', `unix://${socket}`] : []),
  ];
  const retryLines = (stderr: string): string[] => stderr.split('\n').filter((line) => line.includes('the container runtime is not ready; will retry'));

  test('the agent keeps trying, saying so and how to start one, and comes up once the engine answers', async () => {
    const socket = join(dir, 'docker.sock');
    const nodeName = uniqueNodeName('nodocker');
    onTestFinished(() => removeNodeContainers(nodeName));
    const agent = runCli(agentArgs(socket, nodeName));
    await waitFor('a retry line', () => retryLines(agent.stderr).length > 0);
    expect(retryLines(agent.stderr)[0]).toContain(`the Docker engine at ${socket} does not answer`);
    expect(retryLines(agent.stderr)[0]).toContain('run scripts/setup-host.sh');
    // The engine appears at the endpoint: a socket that hands each connection to the real one.
    const engine = createServer((client) => {
      const upstream = connect('/var/run/docker.sock');
      client.pipe(upstream).pipe(client);
      client.on('error', () => upstream.destroy());
      upstream.on('error', () => client.destroy());
    });
    await new Promise<void>((resolve) => engine.listen(socket, resolve));
    onTestFinished(() => new Promise<void>((resolve) => engine.close(() => resolve())));
    await waitFor('the agent to find the engine', () => agent.stderr.includes('container runtime is up'), { timeoutMs: 60_000 });
    agent.child.kill('SIGTERM');
    expect((await agent.exited).code).toBe(0);
  });

  test('an engine that answers but holds the pod network with another subnet: exit 2 at once, naming the flag', async () => {
    // A network of this test's own, so that no other test's pod network is touched.
    const name = `dkl-subnet-${randomBytes(4).toString('hex')}`;
    const network = await docker.createNetwork({ Name: name, Driver: 'bridge', IPAM: { Config: [{ Subnet: '10.252.0.0/24' }] } });
    onTestFinished(() => network.remove());
    const result = await runCli([...agentArgs(undefined), '--pod-network', name, '--pod-cidr', '10.253.0.0/24']).exited;
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`the Docker network ${name} exists with subnet 10.252.0.0/24, not the pod CIDR 10.253.0.0/24: give this node that subnet (--pod-cidr), remove the network once no pod uses it (docker network rm ${name}), or pick another --pod-network name`);
    expect(result.stderr).not.toContain('will retry');
  });

  test('SIGTERM while it waits ends it at once with code 0', async () => {
    const agent = runCli(agentArgs(join(dir, 'no-docker.sock')));
    await waitFor('a second retry line', () => retryLines(agent.stderr).length > 1);
    expect(agent.child.exitCode).toBeNull();
    agent.child.kill('SIGTERM');
    const result = await agent.exited;
    expect(result.code).toBe(0);
    expect(result.stderr).not.toContain('container runtime is up');
  });
});
