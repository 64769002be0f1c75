/**
 * GET /pods (the desired pods with status), GET /persistentvolumeclaims (a lone host's claims
 * declared beside its static pods, Bound or Pending) and GET /runningpods/ (what the runtime has;
 * a debugging handler).
 */
import type { FastifyInstance } from 'fastify';
import type { Pod } from '../../../common/api/types.js';
import type { KubeletApi } from '../kubelet-api.js';

function podList(items: Pod[]): object {
  return { kind: 'PodList', apiVersion: 'v1', metadata: {}, items };
}

export function registerPodRoutes(app: FastifyInstance, api: KubeletApi): void {
  app.get('/pods', async () => podList(api.pods()));
  app.get('/persistentvolumeclaims', async () => ({ kind: 'PersistentVolumeClaimList', apiVersion: 'v1', metadata: {}, items: await api.persistentVolumeClaims() }));
}

export function registerRunningPodsRoute(app: FastifyInstance, api: KubeletApi): void {
  app.get('/runningpods/', async () => podList(await api.runningPods()));
}
