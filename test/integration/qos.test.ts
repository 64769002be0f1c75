/** QoS on the node: each class's OOM score, read from the kernel for the containers' processes. */
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
 * The lowest score a process here may take: -1000, or, on a host that is itself a container
 * without CAP_SYS_RESOURCE, the score this process has (which its children cannot go below).
 */
async function lowestScore(): Promise<number> {
  const allowed = await promisify(execFile)('sh', ['-c', 'echo -1000 > /proc/self/oom_score_adj']).then(() => true, () => false);
  return allowed ? -1000 : Number((await readFile('/proc/self/oom_score_adj', 'utf8')).trim());
}

/** The oom_score_adj of the main process of the pod's container `name` (POD for its sandbox). */
async function oomScoreAdj(agent: AgentHarness, pod: Pod, name: string): Promise<number> {
  const container = (await agent.containers(name)).find((c) => c.Labels['io.kubernetes.pod.uid'] === pod.metadata?.uid && c.State === 'running');
  const pid = (await docker.getContainer(container!.Id).inspect()).State.Pid;
  return Number((await readFile(`/proc/${pid}/oom_score_adj`, 'utf8')).trim());
}

test('each QoS class gets its OOM score (no lower than the host allows); a node-critical pod scores as Guaranteed; the sandbox scores lowest', async () => {
  const manifests = Object.fromEntries(Object.entries(pods).map(([name, manifest]) => [`${name}.yaml`, manifest]));
  const agent = await startAgent({ manifests });
  const floor = await lowestScore();

  const expected = {
    guaranteed: { qosClass: 'Guaranteed', oomScoreAdj: -997 },
    burstable: { qosClass: 'Burstable', oomScoreAdj: 1000 - Math.trunc((1000 * 64 * Mi) / totalmem()) },
    besteffort: { qosClass: 'BestEffort', oomScoreAdj: 1000 },
    critical: { qosClass: 'BestEffort', oomScoreAdj: -997 },
  };
  for (const [name, want] of Object.entries(expected)) {
    const pod = await agent.waitForPod(name, 'Ready', isReady);
    expect(pod.status?.qosClass, name).toBe(want.qosClass);
    expect(await oomScoreAdj(agent, pod, 'main'), name).toBe(Math.max(want.oomScoreAdj, floor));
    expect(await oomScoreAdj(agent, pod, 'POD'), name).toBe(Math.max(-998, floor));
  }
});
