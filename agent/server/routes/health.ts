/** /healthz as the kubelet answers it: "ok", or the failing checks in the [+]/[-] format. */
import type { FastifyInstance } from 'fastify';
import type { KubeletApi } from '../kubelet-api.js';

export function registerHealthRoutes(app: FastifyInstance, api: KubeletApi): void {
  app.get('/healthz', async (_request, reply) => {
    const checks = api.healthChecks();
    const failed = checks.filter((check) => !check.ok);
    if (failed.length === 0) return reply.type('text/plain').send('ok');
    const lines = checks.map((check) => (check.ok ? `[+]${check.name} ok` : `[-]${check.name} failed: ${check.message ?? 'reason withheld'}`));
    return reply.code(500).type('text/plain').send(`${lines.join('\n')}\nhealthz check failed\n`);
  });
  for (const [path, which] of [['/metrics', 'all'], ['/metrics/probes', 'probes'], ['/metrics/resource', 'resource']] as const) {
    app.get(path, async (_request, reply) => {
      const { contentType, body } = await api.metrics(which);
      return reply.type(contentType).send(body);
    });
  }
}
