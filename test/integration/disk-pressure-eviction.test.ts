/**
 * Disk pressure and local storage limits on real pods. The image fs is an engine of the test's
 * own, whose data root is a small tmpfs the test fills at will: the shared engine's images are
 * every test's, and its disk the host's.
 */
import { rm, statfs, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import type { Pod } from '../../common/api/types.js';
import { ContainerTypeLabel, PodNameLabel } from '../../common/api/well-known.js';
import { parseIpv4Cidr } from '../../common/util/ipv4.js';
import { busyboxPod, containerStatus, isReady, startAgent } from '../helpers/agent-harness.js';
import { makeBlobImage, startPrivateDocker } from '../helpers/private-docker.js';
import { waitFor } from '../helpers/wait-for.js';

const MiB = 1024 * 1024;
const evicted = (pod: Pod): boolean => pod.status?.phase === 'Failed' && pod.status.reason === 'Evicted';

test('the image fs below a threshold: DiskPressure; dead containers and unused images reclaimed first, then the pod most over its request evicted with the kubelet\'s message; the condition cleared after the transition period', async () => {
  const engine = await startPrivateDocker({ bridgeAddress: '10.252.2.1/24', dataFsMiB: 256 });
  await makeBlobImage(engine.client, 'dockerlet.local/pressure-a');
  await makeBlobImage(engine.client, 'dockerlet.local/pressure-b');
  const first = await startAgent({
    manifests: {
      // Over its request (none) by the 2 MiB it wrote; it ignores SIGTERM, so it outlives its eviction for the grace period.
      'victim.yaml': busyboxPod('victim', "trap '' TERM; dd if=/dev/zero of=/fill bs=1048576 count=2; while true; do sleep 1; done").replace('terminationGracePeriodSeconds: 2', 'terminationGracePeriodSeconds: 30'),
      'keeper.yaml': busyboxPod('keeper', 'exec sleep 3600', { container: "      resources:\n        requests: {ephemeral-storage: 50Mi}\n" }),
      'done.yaml': busyboxPod('done', 'echo finished', { spec: '  restartPolicy: Never\n' }),
    },
    options: {
      containerRuntimeEndpoint: `unix://${engine.socketPath}`,
      podNetworkName: `dkl-dp-${process.pid % 10_000}`,
      podBridgeName: `dkl-dp-${process.pid % 10_000}`,
      podCIDR: parseIpv4Cidr('10.251.2.0/24')!,
    },
  });
  for (const name of ['victim', 'keeper']) await first.waitForPod(name, 'Ready', isReady);
  await first.waitForPod('done', 'Succeeded', (pod) => pod.status?.phase === 'Succeeded');
  const victimContainer = engine.client.getContainer(containerStatus(first.pod('victim')!, 'main')!.containerID!.replace('docker://', ''));
  await waitFor('the victim wrote its 2 MiB', async () => ((await victimContainer.inspect({ size: true } as never)) as { SizeRw?: number }).SizeRw! >= 2 * MiB);

  // 64 MiB of filler, then a threshold 40 MiB above what is left: the two unused images (32 MiB) are not enough.
  const filler = join(engine.dataFs, 'filler');
  await writeFile(filler, Buffer.alloc(64 * MiB, 1));
  const fs = await statfs(engine.dataFs);
  const threshold = fs.bavail * fs.bsize + 40 * MiB;
  const doneContainer = containerStatus(first.pod('done')!, 'main')!.containerID!.replace('docker://', '');
  const agent = await first.restart({
    evictionMonitoringPeriodMs: 300,
    imageGC: { highThresholdPercent: 100, lowThresholdPercent: 99, minimumAgeMs: 0, maximumAgeMs: 0, periodMs: 300_000 },
    // Soft, with evictionMaxPodGracePeriod 30 s as long as the victim's own: it runs on that long, and the next pod is not chosen while it does.
    eviction: { thresholds: [{ signal: 'imagefs.available', value: { quantity: threshold }, gracePeriodMs: 0, hard: false }], pressureTransitionPeriodMs: 1_000, maxPodGracePeriodSeconds: 30 },
  });

  const victim = await agent.waitForPod('victim', 'evicted', evicted);
  // Still under pressure: the passes that follow wait for the victim to stop rather than evict the keeper.
  await waitFor('a pass waiting for the victim', () => agent.log.lines.some((l) => l.msg === 'waiting for the pod evicted last to stop'));
  expect(agent.log.events('Evicted')).toHaveLength(1);
  await rm(filler);
  expect(victim.status?.message).toMatch(
    /^The node was low on resource: ephemeral-storage\. Threshold quantity: \d+(Ki|Mi)?, available: \d+(Ki|Mi)?\. Container main was using \d+(Ki|Mi)?, request is 0, has larger consumption of ephemeral-storage\. $/,
  );
  // Node-level resources first: the finished pod's dead container, then both unused images.
  const lines = agent.log.lines;
  const at = (predicate: (line: (typeof lines)[number]) => boolean): number => lines.findIndex(predicate);
  const deadRemoved = at((l) => l.msg === 'removed the dead containers of finished pods');
  const imagesRemoved = agent.log.events('ImageGarbageCollected').map((l) => /^Removed unused image (\S+) /.exec(l.msg)?.[1]).sort();
  expect(imagesRemoved).toEqual(['dockerlet.local/pressure-a:1', 'dockerlet.local/pressure-b:1']);
  const evictedAt = at((l) => l.event === 'Evicted');
  expect(deadRemoved).toBeGreaterThan(-1);
  expect(deadRemoved).toBeLessThan(evictedAt);
  expect(at((l) => l.event === 'ImageGarbageCollected')).toBeLessThan(evictedAt);
  expect(agent.log.events('EvictionThresholdMet')[0]?.msg).toBe('Attempting to reclaim ephemeral-storage');
  expect((await engine.client.listContainers({ all: true })).map((c) => c.Id)).not.toContain(doneContainer);
  // What was last reported of the finished pod stands without its container.
  expect(agent.pod('done')?.status?.phase).toBe('Succeeded');

  // The filler gone, the condition clears once the transition period has passed; the keeper, within its request, stays.
  await waitFor('DiskPressure cleared', () => agent.log.lines.some((l) => l.msg === 'node condition changed' && l['condition'] === 'DiskPressure' && l['status'] === false));
  expect(agent.log.lines.some((l) => l.msg === 'node condition changed' && l['condition'] === 'DiskPressure' && l['status'] === true)).toBe(true);
  expect(agent.log.events('Evicted')).toHaveLength(1);
  expect(isReady(agent.pod('keeper')!)).toBe(true);

  // An agent started again still knows the finished pod finished, its containers gone: it runs nothing of it.
  await agent.removeManifest('victim.yaml');
  const again = await agent.restart({ eviction: { thresholds: [], pressureTransitionPeriodMs: 1_000, maxPodGracePeriodSeconds: 0 } });
  const done = await again.waitForPod('done', 'Succeeded', (pod) => pod.status?.phase === 'Succeeded');
  expect(containerStatus(done, 'main')?.state?.terminated?.reason).toBe('Completed');
  await again.waitForPod('keeper', 'Ready', isReady);
  // Its sandbox stays (stopped), as the kubelet keeps a finished pod's; no container of it came back.
  const doneContainers = await engine.client.listContainers({ all: true, filters: { label: [`${PodNameLabel}=done-${again.nodeName}`, `${ContainerTypeLabel}=container`] } });
  expect(doneContainers).toEqual([]);
});

test('a container over its ephemeral-storage limit: its pod evicted at once with the kubelet\'s message; a pod within its limits runs on', async () => {
  const agent = await startAgent({
    manifests: {
      'writer.yaml': busyboxPod('writer', 'dd if=/dev/zero of=/fill bs=1048576 count=4; exec sleep 3600', {
        container: "      resources:\n        limits: {ephemeral-storage: 1Mi}\n    - name: idle\n      image: dockerlet.local/busybox:1.35\n      command: [sleep, '3600']\n      resources:\n        limits: {ephemeral-storage: 100Mi}\n",
      }),
      'within.yaml': busyboxPod('within', 'dd if=/dev/zero of=/fill bs=1048576 count=1; exec sleep 3600', { container: "      resources:\n        limits: {ephemeral-storage: 10Mi}\n" }),
    },
    options: { evictionMonitoringPeriodMs: 300 },
  });
  await agent.waitForPod('within', 'Ready', isReady);
  const writer = await agent.waitForPod('writer', 'evicted', evicted);
  expect(writer.status?.message).toBe('Container main exceeded its local ephemeral storage limit "1Mi". ');
  expect(agent.log.events('Evicted').map((line) => String(line['object']))).toEqual([`Pod/default/writer-${agent.nodeName}`]);
  await waitFor("the evicted pod's containers stopped", async () => !(await agent.containers('main')).some((c) => c.State === 'running' && c.Labels?.['io.kubernetes.pod.name'] === `writer-${agent.nodeName}`));
  expect(isReady(agent.pod('within')!)).toBe(true);
});
