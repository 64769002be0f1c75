/** What the cluster-mode test files share: one control plane per file, and a node's cluster options. */
import { afterAll, beforeAll } from 'vitest';
import type { ClusterOptions } from '../../agent/node/cluster-node.js';
import { ControlPlane } from './control-plane.js';

/** Starts a control plane before the file's tests (building it first on a new machine) and stops it after; the getter gives it. */
export function useControlPlane(options: Parameters<typeof ControlPlane.start>[0] = {}): () => ControlPlane {
  let plane: ControlPlane | undefined;
  beforeAll(async () => {
    plane = await ControlPlane.start(options);
  }, 900_000);
  afterAll(async () => {
    await plane?.stop();
  });
  return () => plane!;
}

/**
 * Cluster options for `nodeName` with its own client certificate; statuses computed every second.
 * No routes to other nodes: the test nodes share this machine, whose routing table is not theirs.
 */
export async function clusterOptions(plane: ControlPlane, nodeName: string, overrides: Partial<ClusterOptions> = {}): Promise<ClusterOptions> {
  return {
    kubeconfig: await plane.nodeKubeconfig(nodeName),
    nodeLabels: {},
    registerWithTaints: [],
    nodeStatusUpdateFrequencyMs: 1_000,
    nodeStatusReportFrequencyMs: 300_000,
    nodeLeaseDurationSeconds: 40,
    nodeRoutes: false,
    ...overrides,
  };
}
