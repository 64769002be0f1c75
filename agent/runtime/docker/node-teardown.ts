/**
 * Removing a node from the Docker engine, for when the node itself goes away (`dockerlet
 * cluster down`), not when the agent stops (which leaves its pods running): every container
 * labelled with the node's name, whatever its state, then the pod network if no container is
 * left on it (another node of this host may still use it).
 */
import type Dockerode from 'dockerode';
import { dockerClient } from './dockerode.js';
import { aggregateMessage, DockerletError } from '../../../common/api/errors.js';
import { ContainerTypeLabel, NodeLabel, PodUIDLabel } from '../../../common/api/well-known.js';
import { retryUntilDone } from '../../../common/util/retry.js';
import { Semaphore } from '../../../common/util/semaphore.js';
import { dockerMessage, isDockerNotFound } from './docker-errors.js';

/** Removals sent to the engine at once: it works on several in parallel, and a node's hundreds of containers do not queue up in one burst. */
const RemovalsAtOnce = 8;

export interface NodeTeardownResult {
  containersRemoved: number;
  /** The pods those containers were of: what else is theirs on the host (their cgroups) can go now. */
  podUIDs: string[];
  /** Whether the pod network went, or why not when the engine refused: it is the host's, shared, and harmless left in place. */
  network: { removed: true } | { removed: false; refusal?: string };
}

export async function removeNodeFromDocker(socketPath: string, nodeName: string, podNetwork: string): Promise<NodeTeardownResult> {
  const docker = dockerClient(socketPath);
  const containers = await docker.listContainers({ all: true, filters: { label: [`${NodeLabel}=${nodeName}`] } });
  const engine = new Semaphore(RemovalsAtOnce);
  const failures: string[] = [];
  const removeAll = async (batch: Dockerode.ContainerInfo[]): Promise<void> => {
    const results = await Promise.allSettled(batch.map((container) => engine.run(() => docker.getContainer(container.Id).remove({ force: true, v: true }))));
    results.forEach((result, index) => {
      if (result.status === 'rejected' && !isDockerNotFound(result.reason)) failures.push(`${batch[index]!.Names[0] ?? batch[index]!.Id}: ${dockerMessage(result.reason)}`);
    });
  };
  // The app containers first, side by side (they have no network endpoint: they share their
  // sandbox's), then the sandboxes one at a time: Docker 20.10 removing several endpoints of one
  // network at once can leave one behind in its store, and the network cannot be removed after.
  const isSandbox = (container: Dockerode.ContainerInfo): boolean => container.Labels[ContainerTypeLabel] === 'podsandbox';
  await removeAll(containers.filter((container) => !isSandbox(container)));
  for (const sandbox of containers.filter(isSandbox)) await removeAll([sandbox]);
  if (failures.length > 0) throw new DockerletError('DKL_ERR_RUNTIME', `removing the containers of node ${nodeName}: ${aggregateMessage(failures)}`);
  const network = await removeNetworkIfUnused(docker, podNetwork).then(
    (removed) => ({ removed }) as NodeTeardownResult['network'],
    (err: unknown) => ({ removed: false, refusal: dockerMessage(err) }) as const,
  );
  const podUIDs = [...new Set(containers.flatMap((container) => container.Labels[PodUIDLabel] ?? []))];
  return { containersRemoved: containers.length, podUIDs, network };
}

/** How long a removal the engine answers with "active endpoints" is tried again: it releases a removed container's endpoint a moment after the removal returns. */
const NetworkReleaseMs = 5_000;

/** Removes the pod network when no container is on it; whether it did. */
async function removeNetworkIfUnused(docker: Dockerode, name: string): Promise<boolean> {
  let refusal: unknown;
  const removed = await retryUntilDone(
    async () => {
      try {
        const network = (await docker.getNetwork(name).inspect()) as Dockerode.NetworkInspectInfo;
        if (Object.keys(network.Containers ?? {}).length > 0) return false;
        await docker.getNetwork(name).remove();
        return true;
      } catch (err) {
        if (isDockerNotFound(err)) return false;
        refusal = err;
        throw err;
      }
    },
    {
      initialMs: 100,
      maxMs: 1_000,
      signal: AbortSignal.timeout(NetworkReleaseMs),
      keepAlive: true,
      retryable: (err) => /active endpoints/.test(dockerMessage(err)),
      onError: () => undefined,
    },
  );
  if (removed === undefined) throw refusal;
  return removed;
}
