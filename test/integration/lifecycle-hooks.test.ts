/**
 * postStart and preStop hooks on the real Docker engine. Order is read from Docker's own events
 * (exec_start/exec_die of a hook, kill with its signal), durations only as lower bounds.
 */
import { createServer } from 'node:http';
import { describe, expect, onTestFinished, test } from 'vitest';
import type { PodStatus } from '../../common/api/types.js';
import { busyboxPod, containerStatus, isReady, startAgent, type AgentHarness } from '../helpers/agent-harness.js';
import { watchEvents, type ObservedEvent } from '../helpers/docker.js';
import { waitFor } from '../helpers/wait-for.js';

const hookPod = (name: string, script: string, lifecycle: string, grace = 2): string =>
  busyboxPod(name, script, { container: `      lifecycle:\n${lifecycle}` }).replace('terminationGracePeriodSeconds: 2', `terminationGracePeriodSeconds: ${grace}`);

/** Follows Docker's events for every container of the agent's node whose k8s name is `container`. */
async function followContainer(agent: AgentHarness, container: string): Promise<ObservedEvent[]> {
  const watch = await watchEvents({ label: [`dockerlet.io/node=${agent.nodeName}`, `io.kubernetes.container.name=${container}`] });
  onTestFinished(() => watch.stop());
  return watch.events;
}

const firstIndex = (events: readonly ObservedEvent[], predicate: (e: ObservedEvent) => boolean): number => events.findIndex(predicate);
const isKill = (signal: string) => (e: ObservedEvent) => e.action === 'kill' && e.signal === signal;

/** A loopback HTTP server that records the paths it is asked for, calling `onRequest` as each comes; closed when the test ends. */
async function recorder(onRequest: () => void = () => undefined): Promise<{ port: number; paths: string[] }> {
  const paths: string[] = [];
  const server = createServer((request, response) => {
    paths.push(request.url ?? '');
    onRequest();
    response.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const address = server.address();
  return { port: typeof address === 'object' && address ? address.port : 0, paths };
}

describe('postStart', () => {
  test('runs right after the start, and the container is reported running only once it has returned', async () => {
    const agent = await startAgent();
    const events = await followContainer(agent, 'main');
    const statuses: Array<{ status: PodStatus; at: number }> = [];
    agent.kubelet.statuses.onChange((_pod, status) => statuses.push({ status, at: Date.now() }));
    await agent.writeManifest('post.yaml', hookPod('post', 'exec sleep 3600', '        postStart:\n          exec: {command: ["sh", "-c", "sleep 1; echo done > /tmp/post-start"]}\n'));
    await agent.waitForPod('post', 'Ready', isReady);
    expect((await agent.exec('main', ['cat', '/tmp/post-start'])).output).toBe('done\n');
    const start = firstIndex(events, (e) => e.action === 'start');
    const hookStart = firstIndex(events, (e) => e.action.startsWith('exec_start: sh -c sleep 1'));
    const hookEnd = events.find((e, i) => i > hookStart && e.action === 'exec_die');
    expect(start).toBeGreaterThanOrEqual(0);
    expect(hookStart).toBeGreaterThan(start);
    const firstRunning = statuses.find(({ status }) => status.containerStatuses?.[0]?.state?.running);
    expect(firstRunning!.at).toBeGreaterThanOrEqual(hookEnd!.time);
  });

  test('an httpGet postStart is sent to its host and port', async () => {
    const { port, paths } = await recorder();
    const agent = await startAgent({
      manifests: { 'ping.yaml': hookPod('ping', 'exec sleep 3600', `        postStart:\n          httpGet: {host: 127.0.0.1, port: ${port}, path: /started}\n`) },
    });
    await agent.waitForPod('ping', 'Ready', isReady);
    expect(paths).toEqual(['/started']);
  });

  test('a failing postStart kills the container (FailedPostStartHook) and it is restarted per policy', async () => {
    const agent = await startAgent();
    const reasons = new Set<string>();
    agent.kubelet.statuses.onChange((_pod, status) => {
      const reason = status.containerStatuses?.[0]?.state?.waiting?.reason;
      if (reason) reasons.add(reason);
    });
    await agent.writeManifest('broken.yaml', hookPod('broken', 'exec sleep 3600', '        postStart:\n          exec: {command: ["sh", "-c", "echo no; exit 3"]}\n'));
    await agent.waitForPod('broken', 'restarted after the failed hook', (p) => (containerStatus(p, 'main')?.restartCount ?? 0) >= 1);
    const failed = agent.log.events('FailedPostStartHook')[0]!;
    expect(failed).toMatchObject({ type: 'Warning', fieldPath: 'spec.containers{main}' });
    expect(failed.msg).toContain(`Exec lifecycle hook ([sh -c echo no; exit 3]) for Container "main" in Pod "broken-${agent.nodeName}_default(`);
    expect(failed.msg).toContain("exited with 3: no\n");
    expect(agent.log.events('Killing').map((e) => e.msg)).toContain('FailedPostStartHook');
    expect(reasons).toContain('PostStartHookError');
  });
});

describe('preStop', () => {
  test('runs before the container gets SIGTERM', async () => {
    const agent = await startAgent({
      manifests: { 'pre.yaml': hookPod('pre', 'exec sleep 3600', '        preStop:\n          exec: {command: ["sh", "-c", "echo stopping"]}\n') },
    });
    await agent.waitForPod('pre', 'Ready', isReady);
    const events = await followContainer(agent, 'main');
    await agent.removeManifest('pre.yaml');
    await waitFor('the container destroyed', () => events.some((e) => e.action === 'destroy'));
    const hook = firstIndex(events, (e) => e.action === 'exec_start: sh -c echo stopping');
    expect(hook).toBeGreaterThanOrEqual(0);
    expect(firstIndex(events, isKill('15'))).toBeGreaterThan(hook);
  });

  test('its time counts against the grace period: SIGKILL comes what is left of it after SIGTERM', async () => {
    // sleep as PID 1 ignores SIGTERM, so only the final SIGKILL stops it.
    const agent = await startAgent({
      manifests: { 'budget.yaml': hookPod('budget', 'exec sleep 3600', '        preStop:\n          sleep: {seconds: 3}\n', 6) },
    });
    await agent.waitForPod('budget', 'Ready', isReady);
    const events = await followContainer(agent, 'main');
    const removed = Date.now();
    await agent.removeManifest('budget.yaml');
    await waitFor('the container destroyed', () => events.some((e) => e.action === 'destroy'), { timeoutMs: 20_000 });
    const term = events.find(isKill('15'))!;
    const kill = events.find(isKill('9'))!;
    expect(term.time - removed).toBeGreaterThanOrEqual(3_000);
    expect(kill.time - term.time).toBeGreaterThanOrEqual(2_900);
  });

  test('a hook still running when the grace period ends leaves the container 2 more seconds after SIGTERM', async () => {
    const agent = await startAgent({
      manifests: { 'overrun.yaml': hookPod('overrun', 'exec sleep 3600', '        preStop:\n          exec: {command: ["sleep", "30"]}\n', 3) },
    });
    await agent.waitForPod('overrun', 'Ready', isReady);
    const events = await followContainer(agent, 'main');
    const removed = Date.now();
    await agent.removeManifest('overrun.yaml');
    await waitFor('the container destroyed', () => events.some((e) => e.action === 'destroy'), { timeoutMs: 20_000 });
    const term = events.find(isKill('15'))!;
    const kill = events.find(isKill('9'))!;
    expect(term.time - removed).toBeGreaterThanOrEqual(3_000);
    expect(kill.time - term.time).toBeGreaterThanOrEqual(1_900);
  });

  test('an httpGet preStop is sent before SIGTERM', async () => {
    let events: ObservedEvent[] = [];
    let termSeenWhenAsked: boolean | undefined;
    const { port, paths } = await recorder(() => (termSeenWhenAsked = events.some(isKill('15'))));
    const agent = await startAgent({
      manifests: { 'bye.yaml': hookPod('bye', 'exec sleep 3600', `        preStop:\n          httpGet: {host: 127.0.0.1, port: ${port}, path: /stopping}\n`) },
    });
    await agent.waitForPod('bye', 'Ready', isReady);
    events = await followContainer(agent, 'main');
    await agent.removeManifest('bye.yaml');
    await waitFor('the container destroyed', () => events.some((e) => e.action === 'destroy'));
    expect(paths).toEqual(['/stopping']);
    expect(termSeenWhenAsked).toBe(false);
    expect(events.some(isKill('15'))).toBe(true);
  });

  test('survives an agent restart: a pod whose manifest went while the agent was down still runs its preStop', async () => {
    const agent = await startAgent({
      manifests: { 'kept.yaml': hookPod('kept', 'exec sleep 3600', '        preStop:\n          exec: {command: ["sh", "-c", "echo from-labels"]}\n') },
    });
    await agent.waitForPod('kept', 'Ready', isReady);
    await agent.stop();
    await agent.removeManifest('kept.yaml');
    const events = await followContainer(agent, 'main');
    await agent.restart();
    await waitFor('the orphan destroyed', () => events.some((e) => e.action === 'destroy'), { timeoutMs: 20_000 });
    const hook = firstIndex(events, (e) => e.action === 'exec_start: sh -c echo from-labels');
    expect(hook).toBeGreaterThanOrEqual(0);
    expect(firstIndex(events, isKill('15'))).toBeGreaterThan(hook);
  });
});
