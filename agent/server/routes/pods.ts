/** GET /pods (the desired pods with status) and GET /runningpods/ (what the runtime has; a debugging handler). */
import type { FastifyInstance } from 'fastify';
import type { Pod } from '../../../common/api/types.js';
import type { KubeletApi } from '../kubelet-api.js';

function podList(items: Pod[]): object {
  return { kind: 'PodList', apiVersion: 'v1', metadata: {}, items };
}

export function registerPodRoutes(app: FastifyInstance, api: KubeletApi): void {
  app.get('/pods', async () => podList(api.pods()));
}

export function registerRunningPodsRoute(app: FastifyInstance, api: KubeletApi): void {
  app.get('/runningpods/', async () => podList(await api.runningPods()));
}
