/**
 * The agent as a real process: it survives kill -9 without touching running containers, and stops
 * cleanly on SIGTERM leaving pods running.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, onTestFinished, test } from 'vitest';
import type { Pod } from '../../common/api/types.js';
import { containerStatus, isReady, busyboxPod } from '../helpers/agent-harness.js';
import { metricValue, runCli, startAgentProcess, type AgentProcess } from '../helpers/agent-process.js';
import { docker, dockerExec, nodeContainers, watchEvents } from '../helpers/docker.js';
import { waitFor } from '../helpers/wait-for.js';

const sleeper = (name: string): string => busyboxPod(name, 'exec sleep 3600');

/** A pod that writes a random token into an emptyDir when it starts. */
const stateful = `apiVersion: v1
kind: Pod
metadata: {name: stateful}
spec:
  terminationGracePeriodSeconds: 2
  containers:
    - name: main
      image: dockerlet.local/busybox:1.35
      command: ["sh", "-c", "cat /proc/sys/kernel/random/uuid > /data/token; exec sleep 3600"]
      volumeMounts: [{name: data, mountPath: /data}]
  volumes: [{name: data, emptyDir: {}}]
`;

async function containerIds(agent: AgentProcess): Promise<string[]> {
  return (await nodeContainers(agent.nodeName)).map((c) => c.Id).sort();
}

/** Resolves once the agent has finished at least `count` pod syncs since it started. */
async function syncsDone(agent: AgentProcess, count: number): Promise<void> {
  await waitFor(`${count} pod syncs`, async () => {
    const text = await (await agent.get('/metrics')).text();
    return (metricValue(text, 'kubelet_pod_worker_duration_seconds_count{operation="sync"}') ?? 0) >= count;
  });
}

const mainRestarts = (pod: Pod): number | undefined => containerStatus(pod, 'main')?.restartCount;

describe('restart safety', () => {
  test('after kill -9 a new agent adopts every running container: same ids, nothing created, restart counts and emptyDir data carried on', async () => {
    const first = await startAgentProcess({
      manifests: { 'steady.yaml': sleeper('steady'), 'restarted.yaml': sleeper('restarted'), 'stateful.yaml': stateful },
    });
    await first.waitForPod('steady', 'Ready', isReady);
    const statefulPod = await first.waitForPod('stateful', 'Ready', isReady);
    const statefulId = containerStatus(statefulPod, 'main')!.containerID!.slice('docker://'.length);
    const token = await waitFor('the token written', async () => (await dockerExec(statefulId, ['cat', '/data/token'])).output.trim());
    const restartedPod = await first.waitForPod('restarted', 'Ready', isReady);
    // Give one pod a restart, so there is a count to carry on.
    await docker.getContainer(containerStatus(restartedPod, 'main')!.containerID!.slice('docker://'.length)).kill();
    await first.waitForPod('restarted', 'restarted once and Ready', (p) => mainRestarts(p) === 1 && isReady(p));
    await waitFor('the dead instance is the only one kept', async () => (await nodeContainers(first.nodeName)).length === 7);
    const before = await containerIds(first);

    first.process.child.kill('SIGKILL');
    expect((await first.process.exited).signal).toBe('SIGKILL');
    const creates = await watchEvents({ label: [`dockerlet.io/node=${first.nodeName}`], event: ['create', 'destroy', 'kill'] });
    try {
      const second = await first.restart();
      await syncsDone(second, 3);
      const steady = await second.waitForPod('steady', 'Ready', isReady);
      const restarted = await second.waitForPod('restarted', 'Ready', isReady);
      expect(mainRestarts(steady)).toBe(0);
      expect(mainRestarts(restarted)).toBe(1);
      expect(creates.events).toEqual([]);
      expect(await containerIds(second)).toEqual(before);
      // The emptyDir, on the host under the root dir, kept its data: the container still reads the same token.
      expect((await dockerExec(statefulId, ['cat', '/data/token'])).output.trim()).toBe(token);

      // The count goes on from where the first agent left it.
      await docker.getContainer(containerStatus(restarted, 'main')!.containerID!.slice('docker://'.length)).kill();
      const again = await second.waitForPod('restarted', 'restarted a second time', (p) => mainRestarts(p) === 2 && isReady(p));
      expect(containerStatus(again, 'main')?.lastState?.terminated?.exitCode).toBe(137);
    } finally {
      creates.stop();
    }
  });

  test('SIGTERM stops the agent with exit code 0 and leaves its pods running', async () => {
    const agent = await startAgentProcess({ manifests: { 'kept.yaml': sleeper('kept') } });
    await agent.waitForPod('kept', 'Ready', isReady);
    const before = await nodeContainers(agent.nodeName);
    agent.process.child.kill('SIGTERM');
    const result = await agent.process.exited;
    expect(result.code).toBe(0);
    expect(result.stderr).toContain('stopping; running pods and service rules are left in place');
    const after = await nodeContainers(agent.nodeName);
    expect(after.map((c) => [c.Id, c.State])).toEqual(before.map((c) => [c.Id, 'running']));
  });

  test('SIGTERM during a pod\'s kill exits without waiting out its grace period; the next start finishes the kill', async () => {
    const stubborn = busyboxPod('stubborn', 'exec sleep 3600').replace('terminationGracePeriodSeconds: 2', 'terminationGracePeriodSeconds: 10');
    expect(stubborn).toContain('terminationGracePeriodSeconds: 10');
    const agent = await startAgentProcess({ manifests: { 'stubborn.yaml': stubborn } });
    const pod = await agent.waitForPod('stubborn', 'Ready', isReady);
    const id = containerStatus(pod, 'main')!.containerID!.slice('docker://'.length);
    const kills = await watchEvents({ id: [id], event: ['kill'] });
    try {
      // sleep as PID 1 ignores TERM: the engine waits the whole grace period before KILL.
      await rm(join(agent.manifestDir, 'stubborn.yaml'));
      await waitFor('TERM sent to the container', () => kills.events.some((event) => event.signal === '15'));
    } finally {
      kills.stop();
    }
    agent.process.child.kill('SIGTERM');
    expect((await agent.process.exited).code).toBe(0);
    expect((await docker.getContainer(id).inspect()).State.Running).toBe(true);

    const next = await agent.restart();
    const running = async (): Promise<boolean> => (await docker.getContainer(id).inspect().catch(() => undefined))?.State.Running ?? false;
    await waitFor('the pod killed by the next start', async () => !(await running()), { timeoutMs: 60_000 });
    await waitFor('the pod gone from the next agent', async () => (await next.pod('stubborn')) === undefined);
  });

  test('a second agent on the same root dir or node name exits 1 saying why, and the first one\'s pods are untouched', async () => {
    const agent = await startAgentProcess({ manifests: { 'kept.yaml': sleeper('kept') } });
    await agent.waitForPod('kept', 'Ready', isReady);
    const before = await containerIds(agent);
    const common = ['agent', '--pod-manifest-path', agent.manifestDir, '--port', '0', '--read-only-port', '0'];
    const sameRoot = await runCli([...common, '--root-dir', agent.rootDir, '--hostname-override', `${agent.nodeName}-2`]).exited;
    expect(sameRoot.code).toBe(1);
    expect(sameRoot.stderr).toContain(`another dockerlet agent (pid ${agent.process.child.pid}, node ${agent.nodeName}, root dir ${agent.rootDir}) already runs with root dir ${agent.rootDir}`);
    const otherRoot = await mkdtemp(join(tmpdir(), 'dockerlet-e2e-second-'));
    onTestFinished(() => rm(otherRoot, { recursive: true, force: true }));
    const sameNode = await runCli([...common, '--root-dir', otherRoot, '--hostname-override', agent.nodeName]).exited;
    expect(sameNode.code).toBe(1);
    expect(sameNode.stderr).toContain(`already runs with node name ${agent.nodeName}`);
    expect(await containerIds(agent)).toEqual(before);
    expect((await agent.pod('kept'))?.status?.phase).toBe('Running');
  });
});
