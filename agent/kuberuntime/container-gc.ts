/**
 * Dead containers freed for disk space (upstream's containerGC DeleteAllUnusedContainers, as the
 * eviction manager calls it under disk pressure): every dead container of a pod that has
 * finished (Succeeded or Failed), the last instance included. A pod still running keeps its
 * last dead instance of each container, as the pod syncer keeps it. A finished pod's status is
 * kept first (keepStatus): what was last reported of a container gone from the runtime stands,
 * and after a restart the pod is still known to have finished. One whose status cannot be kept
 * keeps its containers.
 */
import type { Logger } from 'pino';
import { errorMessage } from '../../common/api/errors.js';
import type { ContainerRuntime, RunningPod } from '../runtime/runtime.js';

export interface DeadContainerGCDeps {
  runningPods(): readonly RunningPod[];
  /** Whether the pod has finished: Succeeded or Failed. */
  finished(uid: string): boolean;
  /** Keeps the finished pod's status where a restart finds it. */
  keepStatus(uid: string): Promise<void>;
  runtime: Pick<ContainerRuntime, 'removeContainer'>;
  logger: Logger;
}

/** Removes the finished pods' dead containers; returns how many were removed. One that cannot be removed is logged and left. */
export async function removeFinishedPodsContainers(deps: DeadContainerGCDeps): Promise<number> {
  let removed = 0;
  for (const pod of deps.runningPods()) {
    const dead = pod.containers.filter((c) => c.state !== 'running');
    if (!deps.finished(pod.pod.uid) || dead.length === 0) continue;
    try {
      await deps.keepStatus(pod.pod.uid);
    } catch (err) {
      deps.logger.warn({ pod: pod.pod.name, podUID: pod.pod.uid, err: errorMessage(err) }, "keeping a finished pod's status failed: its dead containers stay");
      continue;
    }
    for (const container of dead) {
      try {
        await deps.runtime.removeContainer(container.id);
        removed += 1;
      } catch (err) {
        deps.logger.warn({ pod: pod.pod.name, podUID: pod.pod.uid, containerID: container.id.slice(0, 12), err: errorMessage(err) }, 'removing a dead container failed');
      }
    }
  }
  if (removed > 0) deps.logger.info({ removed }, 'removed the dead containers of finished pods');
  return removed;
}
