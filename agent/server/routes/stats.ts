/** GET /stats/summary: the Summary API (pkg/kubelet/server/stats handleSummary). */
import type { FastifyInstance } from 'fastify';
import type { KubeletApi } from '../kubelet-api.js';

export function registerStatsRoutes(app: FastifyInstance, api: KubeletApi): void {
  // Only the exact value "true" asks for CPU and memory alone, as upstream's handler reads it.
  app.get<{ Querystring: { only_cpu_and_memory?: string } }>('/stats/summary', async (request) =>
    api.statsSummary({ onlyCpuAndMemory: request.query.only_cpu_and_memory === 'true' }),
  );
}
