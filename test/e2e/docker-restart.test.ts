/**
 * A Docker daemon restart is survived: the agent keeps serving, reconnects to the engine's event
 * stream and resyncs, so its pods run again. The engine restarted is a private one started by the
 * test, never the host's.
 */
import { expect, test } from 'vitest';
import { containerStatus, isReady, busyboxPod } from '../helpers/agent-harness.js';
import { startAgentProcess } from '../helpers/agent-process.js';
import { startPrivateDocker } from '../helpers/private-docker.js';

test('after the Docker daemon restarts, the agent resyncs and its pod runs again', async () => {
  const engine = await startPrivateDocker();
  const agent = await startAgentProcess({
    manifests: { 'survivor.yaml': busyboxPod('survivor', 'exec sleep 3600') },
    extraArgs: [
      '--container-runtime-endpoint',
      `unix://${engine.socketPath}`,
      // A network and subnet of its own, apart from the host engine's pod network.
      '--pod-network',
      `dkl-restart-${process.pid % 10_000}`,
      '--pod-cidr',
      '10.251.0.0/24',
    ],
  });
  const before = await agent.waitForPod('survivor', 'Ready', isReady);
  expect(before.status?.podIP).toMatch(/^10\.251\.0\./);

  await engine.restart();

  // The daemon stopped every container (no live-restore): the pod comes back in a new sandbox.
  const after = await agent.waitForPod(
    'survivor',
    'Ready again after the restart',
    (p) => isReady(p) && containerStatus(p, 'main')?.containerID !== containerStatus(before, 'main')?.containerID,
    { timeoutMs: 40_000 },
  );
  expect(containerStatus(after, 'main')?.restartCount).toBe(1);
  const running = await engine.client.listContainers({ filters: { label: [`dockerlet.io/node=${agent.nodeName}`], status: ['running'] } });
  expect(running.map((c) => c.Labels['io.kubernetes.container.name']).sort()).toEqual(['POD', 'main']);
  expect((await agent.get('/healthz')).status).toBe(200);
});
