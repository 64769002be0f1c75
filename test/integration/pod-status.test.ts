/** Pod status as the kubelet computes it, checked against what Docker reports. */
import { describe, expect, test } from 'vitest';
import { busyboxPod, condition, containerStatus, isReady, startAgent } from '../helpers/agent-harness.js';
import { docker } from '../helpers/docker.js';
import { waitFor } from '../helpers/wait-for.js';

describe('pod status', () => {
  test('a running pod reports phase, conditions, IPs, start time and container details matching Docker', async () => {
    const agent = await startAgent({ manifests: { 'full.yaml': busyboxPod('full', 'exec sleep 3600') } });
    const pod = await agent.waitForPod('full', 'Ready', isReady);
    const status = pod.status!;
    expect(status.phase).toBe('Running');
    expect(status.conditions?.map((c) => [c.type, c.status])).toEqual([
      ['PodReadyToStartContainers', 'True'],
      ['Initialized', 'True'],
      ['Ready', 'True'],
      ['ContainersReady', 'True'],
      ['PodScheduled', 'True'],
    ]);
    for (const c of status.conditions ?? []) expect(c.lastTransitionTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(status.qosClass).toBe('BestEffort');
    expect(status.startTime).toMatch(/Z$/);
    const [main] = await agent.containers('main');
    const [sandbox] = await agent.containers('POD');
    const sandboxInspect = await docker.getContainer(sandbox!.Id).inspect();
    expect(status.podIP).toBe(sandboxInspect.NetworkSettings.Networks['dockerlet']?.IPAddress);
    expect(status.podIPs).toEqual([{ ip: status.podIP }]);
    expect(status.hostIP).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    const main0 = containerStatus(pod, 'main')!;
    const mainInspect = await docker.getContainer(main!.Id).inspect();
    expect(main0).toMatchObject({
      name: 'main',
      image: 'dockerlet.local/busybox:1.35',
      imageID: `docker://${mainInspect.Image}`,
      containerID: `docker://${main!.Id}`,
      restartCount: 0,
      started: true,
      ready: true,
    });
    expect(Date.parse(main0.state!.running!.startedAt!)).toBe(Math.floor(Date.parse(mainInspect.State.StartedAt) / 1000) * 1000);
  });

  test('a container killed for exceeding its memory limit is OOMKilled', async () => {
    const manifest = busyboxPod('hungry', 'x=$(head -c 64000000 /dev/zero | tr "\\0" a); echo survived', {
      spec: '  restartPolicy: Never\n',
      container: '      resources:\n        limits: {memory: 16Mi}\n',
    });
    const agent = await startAgent({ manifests: { 'hungry.yaml': manifest } });
    const pod = await agent.waitForPod('hungry', 'Failed', (p) => p.status?.phase === 'Failed');
    expect(containerStatus(pod, 'main')?.state?.terminated).toMatchObject({ reason: 'OOMKilled', exitCode: 137 });
    // A memory limit without a CPU limit: Burstable, not Guaranteed.
    expect(pod.status?.qosClass).toBe('Burstable');
  });

  test('a missing ConfigMap key gives CreateContainerConfigError naming it', async () => {
    const manifest = busyboxPod('configless', 'exec sleep 3600', {
      container: '      env:\n        - name: SETTING\n          valueFrom: {configMapKeyRef: {name: settings, key: mode}}\n',
    });
    const agent = await startAgent({ manifests: { 'configless.yaml': manifest } });
    const pod = await agent.waitForPod('configless', 'CreateContainerConfigError', (p) =>
      containerStatus(p, 'main')?.state?.waiting?.reason === 'CreateContainerConfigError',
    );
    expect(containerStatus(pod, 'main')?.state?.waiting?.message).toBe('configmap "settings" not found');
    expect(pod.status?.phase).toBe('Pending');
    expect(condition(pod, 'ContainersReady')).toBe('False');
    expect(pod.status?.conditions?.find((c) => c.type === 'Ready')?.message).toBe('containers with unready status: [main]');
    expect(agent.log.events('Failed').map((e) => e.msg)).toContain('Error: configmap "settings" not found');
  });

  test('a container that stops being ready turns Ready False with a new lastTransitionTime', async () => {
    const agent = await startAgent({ manifests: { 'flip.yaml': busyboxPod('flip', 'exec sleep 3600', { spec: '  restartPolicy: Never\n' }) } });
    const ready = await agent.waitForPod('flip', 'Ready', isReady);
    const readySince = ready.status!.conditions!.find((c) => c.type === 'Ready')!.lastTransitionTime!;
    const [main] = await agent.containers('main');
    await waitFor('a second boundary', () => Date.now() - Date.parse(readySince) >= 1_000);
    await docker.getContainer(main!.Id).kill();
    const failed = await agent.waitForPod('flip', 'Failed', (p) => p.status?.phase === 'Failed');
    const readyCondition = failed.status!.conditions!.find((c) => c.type === 'Ready')!;
    expect(readyCondition).toMatchObject({ status: 'False', reason: 'PodFailed' });
    expect(Date.parse(readyCondition.lastTransitionTime!)).toBeGreaterThan(Date.parse(readySince));
    expect(failed.status!.conditions!.find((c) => c.type === 'PodScheduled')!.lastTransitionTime).toBe(
      ready.status!.conditions!.find((c) => c.type === 'PodScheduled')!.lastTransitionTime,
    );
  });

  test('a sandbox killed behind the agent\'s back is re-created and the containers restarted in it', async () => {
    const agent = await startAgent({ manifests: { 'reborn.yaml': busyboxPod('reborn', 'exec sleep 3600') } });
    await agent.waitForPod('reborn', 'Ready', isReady);
    const [sandbox] = await agent.containers('POD');
    await docker.getContainer(sandbox!.Id).kill();
    const pod = await agent.waitForPod('reborn', 'Ready again in a new sandbox', (p) => isReady(p) && containerStatus(p, 'main')!.restartCount === 1);
    const sandboxes = (await agent.containers('POD')).filter((c) => c.State === 'running');
    expect(sandboxes).toHaveLength(1);
    expect(sandboxes[0]!.Labels['dockerlet.io/attempt']).toBe('1');
    const [main] = (await agent.containers('main')).filter((c) => c.State === 'running');
    expect(main!.Labels['io.kubernetes.sandbox.id']).toBe(sandboxes[0]!.Id);
    expect(pod.status?.podIP).toMatch(/^10\.244\./);
    expect(agent.log.events('SandboxChanged').map((e) => e.msg)).toContain('Pod sandbox changed, it will be killed and re-created.');
  });
});
