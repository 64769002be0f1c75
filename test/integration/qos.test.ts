/** QoS on the node: each class's OOM score and cgroup, read from the kernel for the containers' processes. */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { totalmem } from 'node:os';
import { expect, test } from 'vitest';
import type { Pod } from '../../common/api/types.js';
import { busyboxPod, isReady, startAgent, type AgentHarness } from '../helpers/agent-harness.js';
import { docker } from '../helpers/docker.js';

const Mi = 2 ** 20;

const pods = {
  guaranteed: busyboxPod('guaranteed', 'exec sleep 3600', { container: '      resources:\n        limits: {cpu: 100m, memory: 64Mi}\n' }),
  burstable: busyboxPod('burstable', 'exec sleep 3600', { container: '      resources:\n        requests: {memory: 64Mi}\n' }),
  besteffort: busyboxPod('besteffort', 'exec sleep 3600'),
  critical: busyboxPod('critical', 'exec sleep 3600', { spec: '  priorityClassName: system-node-critical\n' }),
};

/**
 * Whether a process here may lower its OOM score: a host that is itself a container may lack
 * CAP_SYS_RESOURCE, and there every negative score is raised to 0.
 */
async function negativeScoresAllowed(): Promise<boolean> {
  return promisify(execFile)('sh', ['-c', 'echo -1 > /proc/self/oom_score_adj']).then(() => true, () => false);
}

/** The main process of the pod's container `name` (POD for its sandbox): its oom_score_adj and its cgroup. */
async function kernelView(agent: AgentHarness, pod: Pod, name: string): Promise<{ oomScoreAdj: number; cgroup: string }> {
  const container = (await agent.containers(name)).find((c) => c.Labels['io.kubernetes.pod.uid'] === pod.metadata?.uid && c.State === 'running');
  const pid = (await docker.getContainer(container!.Id).inspect()).State.Pid;
  const oomScoreAdj = Number((await readFile(`/proc/${pid}/oom_score_adj`, 'utf8')).trim());
  // cgroup v1 names the memory controller's cgroup, v2 has the one unified line.
  const lines = (await readFile(`/proc/${pid}/cgroup`, 'utf8')).trim().split('\n');
  const line = lines.find((l) => l.split(':')[1] === 'memory') ?? lines.find((l) => l.startsWith('0::'));
  return { oomScoreAdj, cgroup: line!.split(':')[2]! };
}

test('each QoS class gets its OOM score (no lower than the host allows) and its cgroup; the sandbox scores lowest', async () => {
  const manifests = Object.fromEntries(Object.entries(pods).map(([name, manifest]) => [`${name}.yaml`, manifest]));
  const agent = await startAgent({ manifests });
  const driver = (await docker.info()).CgroupDriver as string;
  const floor = (await negativeScoresAllowed()) ? -1000 : 0;
  const inCgroup = (qos: string[]): RegExp =>
    driver === 'systemd' ? new RegExp(`/${qos.map((_, i) => `${qos.slice(0, i + 1).join('-')}\\.slice`).join('/')}/docker-[0-9a-f]{64}\\.scope$`) : new RegExp(`^/${qos.join('/')}/[0-9a-f]{64}$`);

  const expected = {
    guaranteed: { qosClass: 'Guaranteed', oomScoreAdj: -997, cgroup: ['dockerlet'] },
    burstable: { qosClass: 'Burstable', oomScoreAdj: 1000 - Math.trunc((1000 * 64 * Mi) / totalmem()), cgroup: ['dockerlet', 'burstable'] },
    besteffort: { qosClass: 'BestEffort', oomScoreAdj: 1000, cgroup: ['dockerlet', 'besteffort'] },
    critical: { qosClass: 'BestEffort', oomScoreAdj: -997, cgroup: ['dockerlet', 'besteffort'] },
  };
  for (const [name, want] of Object.entries(expected)) {
    const pod = await agent.waitForPod(name, 'Ready', isReady);
    expect(pod.status?.qosClass, name).toBe(want.qosClass);
    const main = await kernelView(agent, pod, 'main');
    expect(main.oomScoreAdj, name).toBe(Math.max(want.oomScoreAdj, floor));
    expect(main.cgroup, name).toMatch(inCgroup(want.cgroup));
    const sandbox = await kernelView(agent, pod, 'POD');
    expect([sandbox.oomScoreAdj, inCgroup(want.cgroup).test(sandbox.cgroup)], name).toEqual([Math.max(-998, floor), true]);
  }
});
