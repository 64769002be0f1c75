/**
 * The service proxy as real processes: `dockerlet up` on the repository's manifests/ serves the
 * example Services and prints where to reach them; `dockerlet proxy` beside a separate `dockerlet
 * agent` takes its pods from the agent's API; and `dockerlet proxy --cleanup` leaves nothing of
 * either behind. Runs in the network group, alone.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { expect, onTestFinished, test } from 'vitest';
import { busyboxPod, isReady } from '../helpers/agent-harness.js';
import { freePort } from '../helpers/test-node.js';
import { cleanupProxyRules, runCli, startAgentProcess } from '../helpers/agent-process.js';
import { waitFor } from '../helpers/wait-for.js';

const run = promisify(execFile);

/** A GET on a connection of its own; rejects on any failure. */
async function get(url: string): Promise<string> {
  const response = await fetch(url, { headers: { connection: 'close' }, signal: AbortSignal.timeout(3_000) });
  return (await response.text()).trim();
}

const dockerletRules = async (): Promise<string[]> =>
  (await run('iptables-save')).stdout.split('\n').filter((line) => /DOCKERLET-/.test(line) && !/DOCKERLET-SERVICE-GUARD/.test(line));

test("dockerlet up runs the repository's manifests/ as they are: the web pod, its Services, and lines saying where to reach them", async () => {
  const healthz = await freePort();
  const agent = await startAgentProcess({
    command: 'up',
    proxy: true,
    manifestDir: resolve(import.meta.dirname, '../../manifests'),
    extraArgs: ['--healthz-bind-address', `127.0.0.1:${healthz}`],
  });
  const web = await agent.waitForPod('web', 'Ready', isReady, { timeoutMs: 30_000 });
  await waitFor('the pod and NodePort lines', () =>
    agent.process.stdout.includes(`pod default/web-${agent.nodeName}: Running, Ready ip=${web.status!.podIP}`) &&
    /^service default\/web-nodeport \(http\): 10\.96\.\d+\.\d+:80\/TCP, NodePort 30080: try http:\/\/127\.0\.0\.1:30080\/$/m.test(agent.process.stdout),
  );
  expect(agent.process.stdout).toMatch(/^service default\/web \(http\): 10\.96\.\d+\.\d+:80\/TCP$/m);
  expect(agent.process.stdout).toContain(`dockerlet is running on node ${agent.nodeName}`);
  const greeting = `hello from web-${agent.nodeName} on ${agent.nodeName}`;
  expect(await waitFor('the NodePort answering', async () => ((await get('http://127.0.0.1:30080/')) === greeting ? greeting : undefined))).toBe(greeting);
  expect(await get(`http://${web.status!.podIP}:8080/`)).toBe(greeting);
  expect(await get(`http://127.0.0.1:${healthz}/proxy/namespaces/default/services/web:http/`)).toBe(greeting);
  agent.process.child.kill('SIGINT');
  expect((await agent.process.exited).code).toBe(0);
  // Stopping leaves the rules for a restarted process; cleanup removes them.
  expect((await dockerletRules()).length).toBeGreaterThan(0);
  await cleanupProxyRules(agent.rootDir);
  expect(await dockerletRules()).toEqual([]);
});

test("dockerlet proxy alone serves a Service from the agent's pods, and --cleanup removes its rules", async () => {
  const service = 'apiVersion: v1\nkind: Service\nmetadata: {name: solo}\nspec:\n  selector: {app: solo}\n  ports: [{port: 80, targetPort: 8080}]\n';
  const pod = busyboxPod('solo', 'mkdir -p /www && echo solo > /www/index.html && exec httpd -f -p 8080 -h /www').replace('metadata:\n  name: solo', 'metadata:\n  name: solo\n  labels: {app: solo}');
  const agent = await startAgentProcess({ proxy: true, manifests: { 'solo.yaml': pod, 'svc.yaml': service } });
  await agent.waitForPod('solo', 'Ready', isReady);
  const healthz = await freePort();
  const proxy = runCli([
    'proxy',
    '--pod-manifest-path',
    agent.manifestDir,
    '--kubelet-url',
    `http://127.0.0.1:${agent.readOnlyPort}`,
    '--root-dir',
    agent.rootDir,
    '--healthz-bind-address',
    `127.0.0.1:${healthz}`,
  ]);
  await waitFor('the proxy healthy', async () => (await fetch(`http://127.0.0.1:${healthz}/healthz`)).status === 200, { timeoutMs: 20_000 });
  expect(await waitFor('the Service answering through the proxy', async () => ((await get(`http://127.0.0.1:${healthz}/proxy/namespaces/default/services/solo/`)) === 'solo' ? 'solo' : undefined))).toBe('solo');

  // While it runs, neither a second proxy nor a cleanup may touch its rules.
  const rules = await dockerletRules();
  const owner = `another dockerlet proxy (pid ${proxy.child.pid}: dockerlet proxy --pod-manifest-path ${agent.manifestDir} `;
  const second = await runCli(['proxy', '--pod-manifest-path', agent.manifestDir, '--root-dir', agent.rootDir, '--healthz-bind-address', '127.0.0.1:0']).exited;
  expect(second.code).toBe(1);
  expect(second.stderr).toContain(owner);
  expect(second.stderr).toContain("owns this host's service rules: this one cannot run beside it, they would undo each other's work; stop that one first");
  const refused = await runCli(['proxy', '--cleanup', '--root-dir', agent.rootDir]).exited;
  expect(refused.code).toBe(1);
  expect(refused.stderr).toContain(owner);
  expect(refused.stderr).toContain('this one cannot clean up beside it');
  expect(await dockerletRules()).toEqual(rules);
  expect(await get(`http://127.0.0.1:${healthz}/proxy/namespaces/default/services/solo/`)).toBe('solo');

  proxy.child.kill('SIGTERM');
  expect((await proxy.exited).code).toBe(0);
  const cleanup = await runCli(['proxy', '--cleanup', '--root-dir', agent.rootDir]).exited;
  expect(cleanup.code).toBe(0);
  expect(await dockerletRules()).toEqual([]);
  expect(cleanup.stderr).toContain('removed the proxy rules, addresses and state of this host');
  expect((await proxy.exited).stderr).not.toContain('can leave this host');
});

test('a proxy given a service CIDR the host guard does not cover says so and how to fix it', async () => {
  const rootDir = await mkdtemp(join(tmpdir(), 'dkl-unguarded-'));
  onTestFinished(() => rm(rootDir, { recursive: true, force: true }));
  const healthz = await freePort();
  // No Service source: the proxy writes its fixed chains only, and --cleanup removes them.
  const proxy = runCli(['proxy', '--root-dir', rootDir, '--service-cluster-ip-range', '10.98.0.0/24', '--healthz-bind-address', `127.0.0.1:${healthz}`]);
  onTestFinished(() => cleanupProxyRules(rootDir));
  await waitFor('the proxy healthy', async () => (await fetch(`http://127.0.0.1:${healthz}/healthz`).catch(() => undefined))?.status === 200, { timeoutMs: 20_000 });
  proxy.child.kill('SIGTERM');
  const { stderr } = await proxy.exited;
  expect(stderr).toContain(
    'the DOCKERLET-SERVICE-GUARD chain does not reject 10.98.0.0/24: traffic to a ClusterIP that no rule rewrites can leave this host; run DOCKERLET_SERVICE_CIDR=10.98.0.0/24 scripts/setup-host.sh',
  );
});
