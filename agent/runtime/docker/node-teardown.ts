/**
 * Removing a node from the Docker engine, for when the node itself goes away (`dockerlet
 * cluster down`), not when the agent stops (which leaves its pods running): every container
 * labelled with the node's name, whatever its state, then the pod network if no container is
 * left on it (another node of this host may still use it).
 */
import Dockerode from 'dockerode';
import { ContainerTypeLabel, NodeLabel } from '../../../common/api/well-known.js';
import { isDockerNotFound } from './docker-errors.js';

export interface NodeTeardownResult {
  containersRemoved: number;
  networkRemoved: boolean;
}

export async function removeNodeFromDocker(socketPath: string, nodeName: string, podNetwork: string): Promise<NodeTeardownResult> {
  const docker = new Dockerode({ socketPath });
  const containers = await docker.listContainers({ all: true, filters: { label: [`${NodeLabel}=${nodeName}`] } });
  const remove = (container: Dockerode.ContainerInfo): Promise<void> =>
    docker.getContainer(container.Id).remove({ force: true, v: true }).catch((err: unknown) => {
      if (!isDockerNotFound(err)) throw err;
    });
  // The app containers first, all at once (the engine takes them in parallel), then the sandboxes whose namespaces they shared.
  const isSandbox = (container: Dockerode.ContainerInfo): boolean => container.Labels[ContainerTypeLabel] === 'podsandbox';
  await Promise.all(containers.filter((container) => !isSandbox(container)).map(remove));
  await Promise.all(containers.filter(isSandbox).map(remove));
  let networkRemoved = false;
  try {
    const network = (await docker.getNetwork(podNetwork).inspect()) as Dockerode.NetworkInspectInfo;
    if (Object.keys(network.Containers ?? {}).length === 0) {
      await docker.getNetwork(podNetwork).remove();
      networkRemoved = true;
    }
  } catch (err) {
    if (!isDockerNotFound(err)) throw err;
  }
  return { containersRemoved: containers.length, networkRemoved };
}
