/** GET /pods (the desired pods with status), GET /runningpods/ (what the runtime has) and GET /stats/summary (their usage). */
import type { FastifyInstance } from 'fastify';
import type { Pod } from '../../../common/api/types.js';
import type { KubeletApi } from '../kubelet-api.js';

/** What Go's strconv.ParseBool takes for true. */
const GoTrue = new Set(['1', 't', 'T', 'true', 'TRUE', 'True']);

function podList(items: Pod[]): object {
  return { kind: 'PodList', apiVersion: 'v1', metadata: {}, items };
}

export function registerPodRoutes(app: FastifyInstance, api: KubeletApi): void {
  app.get('/pods', async () => podList(api.pods()));
  app.get('/runningpods/', async () => podList(await api.runningPods()));
  app.get<{ Querystring: { only_cpu_and_memory?: string } }>('/stats/summary', async (request) =>
    api.statsSummary({ onlyCpuAndMemory: GoTrue.has(request.query.only_cpu_and_memory ?? '') }),
  );
}
