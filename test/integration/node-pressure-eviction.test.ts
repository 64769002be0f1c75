/**
 * Node-pressure eviction on real pods. The machine's memory is never used up: the threshold is
 * set above all the memory there is, so the signal is met at once.
 */
import { totalmem } from 'node:os';
import { expect, test } from 'vitest';
import type { Pod } from '../../common/api/types.js';
import { busyboxPod, isReady, startAgent } from '../helpers/agent-harness.js';
import { waitFor } from '../helpers/wait-for.js';

const evicted = (pod: Pod): boolean => pod.status?.phase === 'Failed' && pod.status.reason === 'Evicted';

test('memory below a hard threshold: MemoryPressure, then one pod evicted at a time, the one over its request first, with the kubelet\'s message; a critical pod stays', async () => {
  const first = await startAgent({
    manifests: {
      'besteffort.yaml': busyboxPod('besteffort', 'exec sleep 3600'),
      'burstable.yaml': busyboxPod('burstable', 'exec sleep 3600', { container: '      resources:\n        requests: {memory: 1Gi}\n' }),
      'critical.yaml': busyboxPod('critical', 'exec sleep 3600', { spec: '  priorityClassName: system-node-critical\n' }),
    },
  });
  for (const name of ['besteffort', 'burstable', 'critical']) await first.waitForPod(name, 'Ready', isReady);
  // The same pods, adopted by an agent with a threshold no machine meets.
  const agent = await first.restart({
    evictionMonitoringPeriodMs: 300,
    eviction: { thresholds: [{ signal: 'memory.available', value: { quantity: 2 * totalmem() }, gracePeriodMs: 0, hard: true }], pressureTransitionPeriodMs: 60_000, maxPodGracePeriodSeconds: 0 },
  });

  const besteffort = await agent.waitForPod('besteffort', 'evicted', evicted);
  expect(besteffort.status?.message).toMatch(
    /^The node was low on resource: memory\. Threshold quantity: \d+(Ki|Mi|Gi)?, available: \d+(Ki|Mi|Gi)?\. Container main was using \d+(Ki|Mi)?, request is 0, has larger consumption of memory\. $/,
  );
  // The Burstable pod, within its request, goes next; never the critical one.
  const burstable = await agent.waitForPod('burstable', 'evicted', evicted);
  expect(burstable.status?.message).toMatch(/^The node was low on resource: memory\. Threshold quantity: \S+, available: \S+\. $/);
  expect(agent.log.events('Evicted').map((line) => String(line['object']))).toEqual([`Pod/default/besteffort-${agent.nodeName}`, `Pod/default/burstable-${agent.nodeName}`]);
  await waitFor('the evicted pods\' containers stopped', async () => (await agent.containers('main')).filter((c) => c.State === 'running').length === 1);
  expect(isReady(agent.pod('critical')!)).toBe(true);
  expect(agent.log.lines.some((l) => l.msg === 'node condition changed' && l['condition'] === 'MemoryPressure' && l['status'] === true)).toBe(true);
  expect(agent.log.events('EvictionThresholdMet')[0]?.msg).toBe('Attempting to reclaim memory');
});
