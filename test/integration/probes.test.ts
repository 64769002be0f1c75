/**
 * Startup, liveness and readiness probes on the real Docker engine: each handler kind, thresholds
 * and periods, timeouts, restarts and readiness, judged by what the agent reports and by the order
 * and count of its events, never by tight wall-clock times.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer as createHttpServer, type IncomingHttpHeaders, type RequestListener, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Server as GrpcServer, ServerCredentials } from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import { describe, expect, onTestFinished, test } from 'vitest';
import type { Pod, PodStatus } from '../../common/api/types.js';
import { busyboxPod, condition, containerStatus, isReady, startAgent, type AgentHarness } from '../helpers/agent-harness.js';
import { freePort } from '../helpers/test-node.js';
import { metricValue } from '../helpers/agent-process.js';
import { docker } from '../helpers/docker.js';
import type { LogLine } from '../helpers/memory-logger.js';
import { waitFor } from '../helpers/wait-for.js';

/** A busybox pod whose container `main` runs `script`, with `probes` (YAML at the container's indentation). */
const probePod = (name: string, script: string, probes: string, spec = ''): string => busyboxPod(name, script, { container: probes, spec });

const unhealthy = (agent: AgentHarness, kind: 'Liveness' | 'Readiness' | 'Startup'): LogLine[] =>
  agent.log.events('Unhealthy').filter((e) => e.msg.startsWith(`${kind} probe`));

/** Loopback HTTP(S) servers for probes aimed at `host: 127.0.0.1`, closed when the test ends. */
async function serve(handler: RequestListener, tls?: { key: string; cert: string }): Promise<{ port: number; server: Server }> {
  const server = tls ? createHttpsServer(tls, handler) : createHttpServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const address = server.address();
  return { port: typeof address === 'object' && address ? address.port : 0, server: server as Server };
}

/** Every status the agent publishes for pod `name`, in order. */
function recordStatuses(agent: AgentHarness, name: string): PodStatus[] {
  const seen: PodStatus[] = [];
  agent.kubelet.statuses.onChange((pod, status) => {
    if (pod.metadata.name === `${name}-${agent.nodeName}`) seen.push(status);
  });
  return seen;
}

describe('liveness', () => {
  test('an exec liveness probe that starts failing restarts the container, with Unhealthy and Killing events', async () => {
    const probes = '      livenessProbe:\n        exec: {command: ["test", "-f", "/tmp/alive"]}\n        periodSeconds: 1\n        failureThreshold: 2\n';
    const agent = await startAgent({ manifests: { 'live.yaml': probePod('live', 'touch /tmp/alive; exec sleep 3600', probes) } });
    const first = await agent.waitForPod('live', 'Ready', isReady);
    expect(unhealthy(agent, 'Liveness')).toEqual([]);
    await agent.exec('main', ['rm', '/tmp/alive']);
    const restarted = await agent.waitForPod('live', 'restarted once and running', (p) => {
      const main = containerStatus(p, 'main');
      return main?.restartCount === 1 && main.state?.running !== undefined && main.containerID !== containerStatus(first, 'main')?.containerID;
    });
    expect(containerStatus(restarted, 'main')?.lastState?.terminated?.exitCode).toBe(137);
    const failures = unhealthy(agent, 'Liveness');
    expect(failures.length).toBeGreaterThanOrEqual(2);
    expect(failures[0]).toMatchObject({ type: 'Warning', fieldPath: 'spec.containers{main}', msg: 'Liveness probe failed: ' });
    const killing = agent.log.events('Killing').find((e) => e.msg.includes('liveness'));
    expect(killing?.msg).toBe('Container main failed liveness probe, will be restarted');
    // The kill came after the second failure in a row (failureThreshold 2), not the first.
    const kills = agent.log.lines.indexOf(killing!);
    expect(agent.log.lines.indexOf(failures[1]!)).toBeLessThan(kills);
  });

  test('an httpGet liveness probe on a named port: a 404 restarts the container', async () => {
    const script = 'mkdir -p /tmp/www && echo ok > /tmp/www/healthz && exec httpd -f -p 8080 -h /tmp/www';
    const probes = `      ports:
        - {name: http, containerPort: 8080}
      livenessProbe:
        httpGet: {path: /healthz, port: http}
        periodSeconds: 1
        failureThreshold: 1
`;
    const agent = await startAgent({ manifests: { 'named.yaml': probePod('named', script, probes) } });
    await agent.waitForPod('named', 'Ready', isReady);
    await agent.exec('main', ['rm', '/tmp/www/healthz']);
    await agent.waitForPod('named', 'restarted', (p) => containerStatus(p, 'main')?.restartCount === 1);
    expect(unhealthy(agent, 'Liveness')[0]?.msg).toBe('Liveness probe failed: HTTP probe failed with statuscode: 404');
  });

  test('failureThreshold failures in a row, one per period, before the kill; then the worker holds', async () => {
    const probes = '      livenessProbe:\n        exec: {command: ["false"]}\n        periodSeconds: 1\n        failureThreshold: 3\n';
    const agent = await startAgent({ manifests: { 'threshold.yaml': probePod('threshold', 'exec sleep 3600', probes) } });
    await waitFor('the first liveness kill', () => agent.log.events('Killing').some((e) => e.msg.includes('failed liveness probe')));
    const killIndex = agent.log.lines.findIndex((e) => e.event === 'Killing');
    const before = unhealthy(agent, 'Liveness').filter((e) => agent.log.lines.indexOf(e) < killIndex);
    expect(before).toHaveLength(3);
    // One probe per period: the three failures are spread over at least two periods.
    expect(before[2]!.time as number).toBeGreaterThanOrEqual((before[0]!.time as number) + 1_500);
  });

  test('a startup probe holds liveness back until it succeeds', async () => {
    const probes = `      startupProbe:
        exec: {command: ["test", "-f", "/tmp/started"]}
        periodSeconds: 1
        failureThreshold: 60
      livenessProbe:
        exec: {command: ["test", "-f", "/tmp/alive"]}
        periodSeconds: 1
        failureThreshold: 1
`;
    const agent = await startAgent({ manifests: { 'slow.yaml': probePod('slow', 'exec sleep 3600', probes) } });
    await waitFor('three failed startup probes', () => unhealthy(agent, 'Startup').length >= 3);
    const pod = agent.pod('slow')!;
    expect(containerStatus(pod, 'main')).toMatchObject({ started: false, ready: false, restartCount: 0 });
    expect(unhealthy(agent, 'Liveness')).toEqual([]);

    await agent.exec('main', ['touch', '/tmp/started']);
    await agent.waitForPod('slow', 'restarted by liveness once started', (p) => containerStatus(p, 'main')?.restartCount === 1);
    const lastStartupFailure = agent.log.lines.indexOf(unhealthy(agent, 'Startup').at(-1)!);
    expect(agent.log.lines.indexOf(unhealthy(agent, 'Liveness')[0]!)).toBeGreaterThan(lastStartupFailure);
  });
});

describe('readiness', () => {
  test('readiness toggles Ready both ways, never restarts the container, and starts Failure for every new container', async () => {
    const probes = '      readinessProbe:\n        exec: {command: ["test", "-f", "/tmp/ready"]}\n        periodSeconds: 1\n';
    const agent = await startAgent();
    const statuses = recordStatuses(agent, 'toggle');
    await agent.writeManifest('toggle.yaml', probePod('toggle', 'exec sleep 3600', probes));
    const running = await agent.waitForPod('toggle', 'running, not ready', (p) => containerStatus(p, 'main')?.started === true);
    expect(containerStatus(running, 'main')?.ready).toBe(false);
    expect(running.status?.conditions?.find((c) => c.type === 'Ready')).toMatchObject({
      status: 'False',
      reason: 'ContainersNotReady',
      message: 'containers with unready status: [main]',
    });

    await agent.exec('main', ['touch', '/tmp/ready']);
    const ready = await agent.waitForPod('toggle', 'Ready', isReady);
    expect(containerStatus(ready, 'main')?.ready).toBe(true);
    const readySince = ready.status!.conditions!.find((c) => c.type === 'Ready')!.lastTransitionTime!;

    await waitFor('a second boundary', () => Date.now() - Date.parse(readySince) >= 1_000);
    await agent.exec('main', ['rm', '/tmp/ready']);
    const unready = await agent.waitForPod('toggle', 'not Ready again', (p) => condition(p, 'Ready') === 'False');
    expect(Date.parse(unready.status!.conditions!.find((c) => c.type === 'Ready')!.lastTransitionTime!)).toBeGreaterThan(Date.parse(readySince));
    expect(containerStatus(unready, 'main')?.restartCount).toBe(0);
    expect(unhealthy(agent, 'Readiness').at(-1)?.msg).toBe('Readiness probe failed: ');

    // A new container starts not ready, whatever the last one was.
    await agent.exec('main', ['touch', '/tmp/ready']);
    const before = await agent.waitForPod('toggle', 'Ready', isReady);
    const oldId = containerStatus(before, 'main')!.containerID!;
    await docker.getContainer(oldId.slice('docker://'.length)).kill();
    const newStatus = await waitFor('the new container reported', () =>
      statuses.find((s) => s.containerStatuses?.[0]?.containerID && s.containerStatuses[0].containerID !== oldId && s.containerStatuses[0].state?.running),
    );
    expect(newStatus.containerStatuses![0]!.ready).toBe(false);
  });

  test('a probe that hangs past timeoutSeconds is a failure', async () => {
    const probes = '      readinessProbe:\n        exec: {command: ["sleep", "30"]}\n        timeoutSeconds: 1\n        periodSeconds: 2\n';
    const agent = await startAgent({ manifests: { 'hang.yaml': probePod('hang', 'exec sleep 3600', probes) } });
    const failure = await waitFor('a timed-out probe', () => unhealthy(agent, 'Readiness')[0]);
    expect(failure.msg).toBe('Readiness probe failed: command "sleep 30" timed out');
    expect(isReady(agent.pod('hang')!)).toBe(false);
  });

  test('a tcpSocket probe succeeds once the port accepts connections', async () => {
    const script = 'sleep 2; mkdir -p /tmp/www && exec httpd -f -p 8080 -h /tmp/www';
    const probes = '      readinessProbe:\n        tcpSocket: {port: 8080}\n        periodSeconds: 1\n';
    const agent = await startAgent({ manifests: { 'tcp.yaml': probePod('tcp', script, probes) } });
    await agent.waitForPod('tcp', 'Ready', isReady);
    expect(unhealthy(agent, 'Readiness')[0]?.msg).toMatch(/^Readiness probe failed: dial tcp 10\.244\.\d+\.\d+:8080: connect: connection refused$/);
  });

  test('a grpc probe asks the standard health service, with its service name', async () => {
    const health = new HealthImplementation({ 'dockerlet.test': 'NOT_SERVING' });
    const server = new GrpcServer();
    health.addToServer(server);
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound))),
    );
    onTestFinished(() => new Promise<void>((resolve) => server.tryShutdown(() => resolve())));
    // A hostNetwork pod on a node whose IP is 127.0.0.1: the probe reaches this test's server.
    const probes = `      readinessProbe:\n        grpc: {port: ${port}, service: dockerlet.test}\n        periodSeconds: 1\n`;
    const agent = await startAgent({
      options: { nodeIPs: ['127.0.0.1'] },
      manifests: { 'grpc.yaml': probePod('grpc', 'exec sleep 3600', probes, '  hostNetwork: true\n') },
    });
    await waitFor('a NOT_SERVING failure', () => unhealthy(agent, 'Readiness').length > 0);
    expect(unhealthy(agent, 'Readiness')[0]!.msg).toBe('Readiness probe failed: service unhealthy (responded with "NOT_SERVING")');
    health.setStatus('dockerlet.test', 'SERVING');
    await agent.waitForPod('grpc', 'Ready', isReady);
  });
});

describe('httpGet details', () => {
  test('HTTPS without certificate checks, with httpHeaders and the kube-probe User-Agent', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dockerlet-tls-'));
    onTestFinished(() => rm(dir, { recursive: true, force: true }));
    await promisify(execFile)('openssl', [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=probe-test',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
    ]);
    const seen: IncomingHttpHeaders[] = [];
    const { port } = await serve(
      (request, response) => {
        seen.push(request.headers);
        response.end('secure');
      },
      { key: await readFile(join(dir, 'key.pem'), 'utf8'), cert: await readFile(join(dir, 'cert.pem'), 'utf8') },
    );
    const probes = `      readinessProbe:
        httpGet: {scheme: HTTPS, host: 127.0.0.1, port: ${port}, path: /ready, httpHeaders: [{name: X-Probe, value: dockerlet}]}
        periodSeconds: 1
`;
    const agent = await startAgent({ manifests: { 'tls.yaml': probePod('tls', 'exec sleep 3600', probes) } });
    await agent.waitForPod('tls', 'Ready', isReady);
    expect(seen[0]).toMatchObject({ 'x-probe': 'dockerlet', 'user-agent': 'kube-probe/1.32', accept: '*/*', connection: 'close' });
  });

  test('a redirect on the same host is followed; one to another host is a ProbeWarning and counts as success', async () => {
    const paths: string[] = [];
    const { port } = await serve((request, response) => {
      paths.push(request.url ?? '');
      if (request.url === '/hop') response.writeHead(302, { location: '/landing' }).end();
      else if (request.url === '/away') response.writeHead(302, { location: `http://localhost:${port}/landing` }).end('moved');
      else response.writeHead(request.url === '/landing' ? 200 : 404).end();
    });
    const probe = (path: string): string => `      readinessProbe:\n        httpGet: {host: 127.0.0.1, port: ${port}, path: ${path}}\n        periodSeconds: 1\n`;
    const agent = await startAgent({
      manifests: { 'hop.yaml': probePod('hop', 'exec sleep 3600', probe('/hop')), 'away.yaml': probePod('away', 'exec sleep 3600', probe('/away')) },
    });
    await agent.waitForPod('hop', 'Ready', isReady);
    await agent.waitForPod('away', 'Ready', isReady);
    expect(paths).toContain('/landing');
    const warning = agent.log.events('ProbeWarning')[0];
    expect(warning).toMatchObject({ type: 'Warning', object: `Pod/default/away-${agent.nodeName}`, msg: 'Readiness probe warning: Probe terminated redirects, Response body: moved' });
    // The other host was not asked: every /landing is a /hop followed (the last /hop may be on its way there still).
    const [landings, hops] = [paths.filter((p) => p === '/landing').length, paths.filter((p) => p === '/hop').length];
    expect(landings).toBeLessThanOrEqual(hops);
    expect(landings).toBeGreaterThanOrEqual(hops - 1);
  });
});

describe('terminating pods and visibility', () => {
  test('while a pod terminates, readiness goes on and the pod goes NotReady; liveness stops', async () => {
    // The container stops being ready on TERM but lives on until the KILL at the end of the grace period.
    const script = 'trap "rm -f /tmp/ready" TERM; touch /tmp/ready; while true; do sleep 0.2; done';
    const probes = `      readinessProbe:
        exec: {command: ["test", "-f", "/tmp/ready"]}
        periodSeconds: 1
      livenessProbe:
        exec: {command: ["test", "-f", "/tmp/ready"]}
        periodSeconds: 1
        failureThreshold: 1
`;
    const manifest = probePod('draining', script, probes).replace('terminationGracePeriodSeconds: 2', 'terminationGracePeriodSeconds: 8');
    const agent = await startAgent({ manifests: { 'draining.yaml': manifest } });
    const statuses = recordStatuses(agent, 'draining');
    await agent.waitForPod('draining', 'Ready', isReady);
    await agent.removeManifest('draining.yaml');
    const notReady = await waitFor('NotReady while still running', () =>
      statuses.find((s) => s.conditions?.find((c) => c.type === 'Ready')?.status === 'False' && s.containerStatuses?.[0]?.state?.running),
    );
    expect(notReady.containerStatuses![0]!.ready).toBe(false);
    await waitFor('the container gone', async () => (await agent.containers('main')).length === 0, { timeoutMs: 20_000 });
    expect(unhealthy(agent, 'Liveness')).toEqual([]);
    expect(agent.log.events('Killing').map((e) => e.msg)).toEqual(['Stopping container main']);
  });

  test('/metrics counts prober_probe_total by probe type and result; /pods shows started and ready', async () => {
    const readOnlyPort = await freePort();
    const probes = '      readinessProbe:\n        exec: {command: ["true"]}\n        periodSeconds: 1\n';
    const agent = await startAgent({ options: { readOnlyPort }, manifests: { 'counted.yaml': probePod('counted', 'exec sleep 3600', probes) } });
    const pod = await agent.waitForPod('counted', 'Ready', isReady);
    const sample = `prober_probe_total{probe_type="Readiness",result="successful",container="main",pod="counted-${agent.nodeName}",namespace="default",pod_uid="${pod.metadata!.uid}"}`;
    for (const path of ['/metrics', '/metrics/probes']) {
      const text = await waitFor(`${path} counting the probe`, async () => {
        const body = await (await fetch(`http://127.0.0.1:${readOnlyPort}${path}`)).text();
        return (metricValue(body, sample) ?? 0) >= 1 ? body : '';
      });
      expect(text).toContain('# TYPE prober_probe_total counter');
    }
    const listed = ((await (await fetch(`http://127.0.0.1:${readOnlyPort}/pods`)).json()) as { items: Pod[] }).items[0]!;
    expect(containerStatus(listed, 'main')).toMatchObject({ started: true, ready: true });
    expect(listed.status?.conditions?.find((c) => c.type === 'Ready')?.lastTransitionTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  });
});
