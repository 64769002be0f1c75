/** Restart policies, CrashLoopBackOff, vanished containers and termination. */
import { describe, expect, test } from 'vitest';
import { busyboxPod, containerStatus, startAgent, type AgentHarness } from '../helpers/agent-harness.js';
import { docker, watchEvents } from '../helpers/docker.js';
import { waitFor } from '../helpers/wait-for.js';

const policyPod = (name: string, policy: string, script: string): string =>
  busyboxPod(name, script, { spec: `  restartPolicy: ${policy}\n` });

async function restartCount(agent: AgentHarness, name: string): Promise<number> {
  return containerStatus(agent.pod(name)!, 'main')?.restartCount ?? 0;
}

describe('activeDeadlineSeconds', () => {
  test('a pod that outlives its deadline is Failed with DeadlineExceeded and its containers are killed', async () => {
    // The deadline counts from when the agent first saw the pod; under load the pod can be Running
    // for less than a poll, so the test asserts what Docker recorded rather than watching for Running.
    const agent = await startAgent({ manifests: { 'deadline.yaml': busyboxPod('deadline', 'exec sleep 3600', { spec: '  activeDeadlineSeconds: 4\n' }) } });
    const failed = await agent.waitForPod('deadline', 'Failed', (p) => p.status?.phase === 'Failed', { timeoutMs: 30_000 });
    expect([failed.status?.reason, failed.status?.message]).toEqual(['DeadlineExceeded', 'Pod was active on the node longer than the specified deadline']);
    expect(agent.log.events('DeadlineExceeded')).toHaveLength(1);
    const [main] = await waitFor('the container killed', async () => {
      const containers = await agent.containers('main');
      return containers.length === 1 && containers[0]!.State === 'exited' ? containers : undefined;
    });
    const state = (await docker.getContainer(main!.Id).inspect()).State;
    expect(Date.parse(state.StartedAt)).toBeGreaterThan(0);
    expect(Date.parse(state.FinishedAt)).toBeGreaterThan(Date.parse(state.StartedAt));
    const ended = await agent.waitForPod('deadline', 'its container terminated', (p) => containerStatus(p, 'main')?.state?.terminated !== undefined);
    expect(ended.status?.phase).toBe('Failed');
  });
});

describe('failed creates and starts', () => {
  test('a container Docker refuses to create waits out the crash backoff before the next attempt', async () => {
    const security = '      securityContext:\n        capabilities: {add: [NOT_A_CAPABILITY]}\n';
    const agent = await startAgent({ manifests: { 'badcap.yaml': busyboxPod('badcap', 'exec sleep 3600', { container: security }) } });
    const pod = await agent.waitForPod('badcap', 'CreateContainerError', (p) => containerStatus(p, 'main')?.state?.waiting?.reason === 'CreateContainerError');
    expect(containerStatus(pod, 'main')?.state?.waiting?.message).toMatch(/NOT_A_CAPABILITY/);
    const failures = await waitFor('a second create attempt', () => (agent.log.events('Failed').length >= 2 ? agent.log.events('Failed') : undefined), { timeoutMs: 30_000 });
    expect(Number(failures[1]!['time']) - Number(failures[0]!['time'])).toBeGreaterThanOrEqual(9_500);
  });
});

describe('restart policy', () => {
  test('Always restarts a container that exited successfully, at once the first time', async () => {
    const agent = await startAgent({ manifests: { 'always.yaml': policyPod('always', 'Always', 'sleep 0.3; exit 0') } });
    await waitFor('a restart', async () => (await restartCount(agent, 'always')) >= 1);
    const pod = agent.pod('always')!;
    expect(pod.status?.phase).toBe('Running');
    expect(containerStatus(pod, 'main')?.lastState?.terminated).toMatchObject({ exitCode: 0, reason: 'Completed' });
  });

  test('OnFailure does not restart a container that succeeded: the pod Succeeds', async () => {
    const agent = await startAgent({ manifests: { 'ok.yaml': policyPod('ok', 'OnFailure', 'exit 0') } });
    const pod = await agent.waitForPod('ok', 'Succeeded', (p) => p.status?.phase === 'Succeeded');
    expect(containerStatus(pod, 'main')?.restartCount).toBe(0);
    expect(containerStatus(pod, 'main')?.state?.terminated?.reason).toBe('Completed');
    expect(pod.status?.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False', reason: 'PodCompleted' });
    // Nothing is left to run, so the kubelet stops the sandbox too.
    await waitFor('the sandbox stopped', async () => (await agent.containers('POD'))[0]?.State === 'exited');
  });

  test('OnFailure restarts a container that failed', async () => {
    const agent = await startAgent({ manifests: { 'retry.yaml': policyPod('retry', 'OnFailure', 'exit 2') } });
    await waitFor('a restart', async () => (await restartCount(agent, 'retry')) >= 1);
    expect(containerStatus(agent.pod('retry')!, 'main')?.lastState?.terminated).toMatchObject({ exitCode: 2, reason: 'Error' });
  });

  test('Never leaves a failed container alone: the pod Fails', async () => {
    const agent = await startAgent({ manifests: { 'once.yaml': policyPod('once', 'Never', 'exit 5') } });
    const pod = await agent.waitForPod('once', 'Failed', (p) => p.status?.phase === 'Failed');
    expect(containerStatus(pod, 'main')?.state?.terminated).toMatchObject({ exitCode: 5, reason: 'Error' });
    expect(containerStatus(pod, 'main')?.restartCount).toBe(0);
    expect((await agent.containers('main')).length).toBe(1);
  });

  test('a failed init container under Never fails the pod; app containers never start', async () => {
    const manifest = `apiVersion: v1
kind: Pod
metadata: {name: initfail}
spec:
  restartPolicy: Never
  initContainers: [{name: setup, image: dockerlet.local/busybox:1.35, command: ["sh", "-c", "exit 7"]}]
  containers: [{name: main, image: dockerlet.local/busybox:1.35, command: ["sleep", "3600"]}]
`;
    const agent = await startAgent({ manifests: { 'initfail.yaml': manifest } });
    const pod = await agent.waitForPod('initfail', 'Failed', (p) => p.status?.phase === 'Failed');
    expect(containerStatus(pod, 'setup')?.state?.terminated?.exitCode).toBe(7);
    expect(containerStatus(pod, 'main')?.state?.waiting?.reason).toBe('PodInitializing');
    expect(await agent.containers('main')).toEqual([]);
  });
});

describe('CrashLoopBackOff', () => {
  test('a crashing container backs off by the configured cap, with the kubelet reason, message and events', async () => {
    const agent = await startAgent({ options: { crashLoopBackOffMaxMs: 2_000 } });
    const watch = await watchEvents({ label: [`dockerlet.io/node=${agent.nodeName}`, 'io.kubernetes.container.name=main'], event: ['start', 'die'] });
    await agent.writeManifest('crash.yaml', policyPod('crash', 'Always', 'echo crashing; exit 1'));
    const uid = (await agent.waitForPod('crash', 'known', () => true)).metadata!.uid!;
    const waiting = await agent.waitForPod('crash', 'CrashLoopBackOff', (p) => containerStatus(p, 'main')?.state?.waiting?.reason === 'CrashLoopBackOff');
    expect(containerStatus(waiting, 'main')?.state?.waiting?.message).toBe(
      `back-off 2s restarting failed container=main pod=crash-${agent.nodeName}_default(${uid})`,
    );
    expect(containerStatus(waiting, 'main')?.lastState?.terminated).toMatchObject({ exitCode: 1, reason: 'Error' });
    await waitFor('three restarts', async () => (await restartCount(agent, 'crash')) >= 3);
    expect(agent.log.events('BackOff').length).toBeGreaterThan(0);
    expect(agent.log.events('BackOff')[0]!.msg).toBe(`Back-off restarting failed container main in pod crash-${agent.nodeName}_default(${uid})`);

    watch.stop();
    // Start, die, start at once (the first restart), die, then each start waits out the back-off.
    const sequence = watch.events.map((e) => e.action);
    expect(sequence.slice(0, 6)).toEqual(['start', 'die', 'start', 'die', 'start', 'die']);
    const gaps = watch.events.flatMap((event, i) => (event.action === 'start' && i > 0 ? [event.time - watch.events[i - 1]!.time] : []));
    expect(gaps[0]).toBeLessThan(2_000);
    for (const gap of gaps.slice(1)) expect(gap).toBeGreaterThanOrEqual(2_000);
  });
});

describe('containers lost behind the agent\'s back', () => {
  test('a running container removed behind the agent\'s back is restarted; its end stays in lastState', async () => {
    const agent = await startAgent({ manifests: { 'lost.yaml': policyPod('lost', 'Always', 'exec sleep 3600') } });
    await agent.waitForPod('lost', 'Running', (p) => containerStatus(p, 'main')?.state?.running !== undefined);
    const [original] = await agent.containers('main');
    await docker.getContainer(original!.Id).remove({ force: true });
    const pod = await agent.waitForPod('lost', 'restarted', (p) => {
      const status = containerStatus(p, 'main');
      return status?.state?.running !== undefined && status.containerID !== `docker://${original!.Id}`;
    });
    await waitFor('the removed instance destroyed', async () => (await agent.containers('main')).length === 1);
    const status = containerStatus(agent.pod('lost')!, 'main')!;
    expect(status.restartCount).toBe(1);
    expect((await agent.containers('main')).map((c) => c.Labels['dockerlet.io/restart-count'])).toEqual(['1']);
    // Whether the agent saw it die (Error) or found it gone (ContainerStatusUnknown), it was killed: 137.
    expect(status.lastState?.terminated?.exitCode).toBe(137);
    expect(['Error', 'ContainerStatusUnknown']).toContain(status.lastState?.terminated?.reason);
    expect(pod.status?.phase).toBe('Running');
  });

  test('a killed container is restarted within a second, driven by Docker events', async () => {
    const agent = await startAgent({ manifests: { 'killed.yaml': policyPod('killed', 'Always', 'exec sleep 3600') } });
    await agent.waitForPod('killed', 'Running', (p) => containerStatus(p, 'main')?.state?.running !== undefined);
    const [original] = await agent.containers('main');
    await docker.getContainer(original!.Id).kill();
    await waitFor('a new instance running', async () => (await agent.containers('main')).some((c) => c.Id !== original!.Id && c.State === 'running'), {
      timeoutMs: 1_000,
    });
  });
});

describe('termination', () => {
  test('a removed pod gets SIGTERM, then SIGKILL once terminationGracePeriodSeconds has passed', async () => {
    // sleep as PID 1 ignores SIGTERM, so only the SIGKILL after the grace period stops it.
    const manifest = busyboxPod('stubborn', 'exec sleep 3600').replace('terminationGracePeriodSeconds: 2', 'terminationGracePeriodSeconds: 3');
    const agent = await startAgent({ manifests: { 'stubborn.yaml': manifest } });
    await agent.waitForPod('stubborn', 'Running', (p) => p.status?.phase === 'Running');
    const [main] = await agent.containers('main');
    const watch = await watchEvents({ container: [main!.Id] });
    try {
      await agent.removeManifest('stubborn.yaml');
      await waitFor('the container destroyed', () => watch.events.some((e) => e.action === 'destroy'));
    } finally {
      watch.stop();
    }
    const kills = watch.events.filter((e) => e.action === 'kill');
    expect(kills.map((e) => e.signal)).toEqual(['15', '9']);
    expect(kills[1]!.time - kills[0]!.time).toBeGreaterThanOrEqual(2_900);
    expect(agent.log.events('Killing').map((e) => e.msg)).toContain('Stopping container main');
  });

  test('a container that handles SIGTERM stops at once, without waiting for the grace period', async () => {
    const manifest = busyboxPod('polite', 'trap "exit 0" TERM; while true; do sleep 0.1; done').replace(
      'terminationGracePeriodSeconds: 2',
      'terminationGracePeriodSeconds: 30',
    );
    const agent = await startAgent({ manifests: { 'polite.yaml': manifest } });
    await agent.waitForPod('polite', 'Running', (p) => p.status?.phase === 'Running');
    const [main] = await agent.containers('main');
    const watch = await watchEvents({ container: [main!.Id] });
    try {
      await agent.removeManifest('polite.yaml');
      await waitFor('the container destroyed', () => watch.events.some((e) => e.action === 'destroy'), { timeoutMs: 10_000 });
    } finally {
      watch.stop();
    }
    expect(watch.events.filter((e) => e.action === 'kill').map((e) => e.signal)).toEqual(['15']);
  });
});
