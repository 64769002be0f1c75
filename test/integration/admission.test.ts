/** Pod admission on the real engine: maxPods and sysctls, as the kubelet admits pods. */
import { describe, expect, test } from 'vitest';
import { busyboxPod, startAgent } from '../helpers/agent-harness.js';

const withSysctls = (name: string, sysctls: string): string => busyboxPod(name, 'exec sleep 3600', { spec: `  securityContext:\n    sysctls: ${sysctls}\n` });

describe('admission', () => {
  test('a pod beyond maxPods is Failed OutOfpods and never starts; the others run', async () => {
    const agent = await startAgent({
      options: { maxPods: 2 },
      manifests: { 'a.yaml': busyboxPod('a', 'exec sleep 3600'), 'b.yaml': busyboxPod('b', 'exec sleep 3600'), 'c.yaml': busyboxPod('c', 'exec sleep 3600') },
    });
    await agent.waitForPod('a', 'Running', (p) => p.status?.phase === 'Running');
    await agent.waitForPod('b', 'Running', (p) => p.status?.phase === 'Running');
    const rejected = await agent.waitForPod('c', 'Failed', (p) => p.status?.phase === 'Failed');
    expect([rejected.status?.reason, rejected.status?.message]).toEqual(['OutOfpods', "Pod was rejected: Node didn't have enough resource: pods, requested: 1, used: 2, capacity: 2"]);
    expect((await agent.containers()).filter((c) => c.Labels['io.kubernetes.pod.name'] === `c-${agent.nodeName}`)).toEqual([]);
  });

  test('after a restart the pod that ran keeps its place, whatever order the files are read in', async () => {
    const agent = await startAgent({ options: { maxPods: 1 }, manifests: { 'z.yaml': busyboxPod('z', 'exec sleep 3600') } });
    await agent.waitForPod('z', 'Running', (p) => p.status?.phase === 'Running');
    await agent.writeManifest('a.yaml', busyboxPod('a', 'exec sleep 3600'));
    await agent.waitForPod('a', 'Failed OutOfpods', (p) => p.status?.reason === 'OutOfpods');
    const before = (await agent.containers()).map((c) => c.Id).sort();
    const restarted = await agent.restart();
    await restarted.waitForPod('a', 'Failed OutOfpods', (p) => p.status?.reason === 'OutOfpods');
    expect(restarted.pod('z')?.status?.phase).toBe('Running');
    expect((await restarted.containers()).map((c) => c.Id).sort()).toEqual(before);
  });

  test('a safe sysctl is set in the pod; an unsafe one is refused unless the node allows it', async () => {
    const agent = await startAgent({
      options: { allowedUnsafeSysctls: ['kernel.msgmax'] },
      manifests: {
        'safe.yaml': withSysctls('safe', '[{name: net.ipv4.ip_local_port_range, value: "2000 3000"}, {name: kernel.msgmax, value: "12345"}]'),
        'unsafe.yaml': withSysctls('unsafe', '[{name: kernel.msgmnb, value: "12345"}]'),
      },
    });
    await agent.waitForPod('safe', 'Running', (p) => p.status?.phase === 'Running');
    const inPod = async (path: string): Promise<string> => (await agent.exec('main', ['cat', path])).output.trim();
    expect(await inPod('/proc/sys/net/ipv4/ip_local_port_range')).toBe('2000\t3000');
    expect(await inPod('/proc/sys/kernel/msgmax')).toBe('12345');
    const refused = await agent.waitForPod('unsafe', 'Failed', (p) => p.status?.phase === 'Failed');
    expect([refused.status?.reason, refused.status?.message]).toEqual(['SysctlForbidden', 'Pod was rejected: forbidden sysctl: "kernel.msgmnb" not allowlisted']);
    expect(agent.log.events('SysctlForbidden')).toHaveLength(1);
  });
});
