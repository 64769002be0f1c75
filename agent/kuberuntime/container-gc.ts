/**
 * Dead containers freed for disk space (upstream's containerGC DeleteAllUnusedContainers, as the
 * eviction manager calls it under disk pressure): every dead container of a pod that has
 * finished (Succeeded or Failed), the instance kept for `kubectl logs --previous` included. A
 * pod still running keeps its last dead instance of each container, as the pod syncer keeps it.
 * The finished pods' statuses stand: what was last reported of a container gone from the
 * runtime is kept.
 */
import type { Logger } from 'pino';
import { errorMessage } from '../../common/api/errors.js';
import type { ContainerRuntime, RunningPod } from '../runtime/runtime.js';

export interface DeadContainerGCDeps {
  runningPods(): readonly RunningPod[];
  /** Whether the pod has finished: Succeeded or Failed. */
  finished(uid: string): boolean;
  runtime: Pick<ContainerRuntime, 'removeContainer'>;
  logger: Logger;
}

/** Removes the finished pods' dead containers; returns how many were removed. One that cannot be removed is logged and left. */
export async function removeFinishedPodsContainers(deps: DeadContainerGCDeps): Promise<number> {
  let removed = 0;
  for (const pod of deps.runningPods()) {
    if (!deps.finished(pod.pod.uid)) continue;
    for (const container of pod.containers.filter((c) => c.state !== 'running')) {
      try {
        await deps.runtime.removeContainer(container.id);
        removed += 1;
      } catch (err) {
        deps.logger.warn({ pod: pod.pod.name, podUID: pod.pod.uid, containerId: container.id.slice(0, 12), err: errorMessage(err) }, 'removing a dead container failed');
      }
    }
  }
  if (removed > 0) deps.logger.info({ removed }, 'removed the dead containers of finished pods');
  return removed;
}
