/** GET /configz: the configuration the kubelet runs with, as {"kubeletconfig": KubeletConfiguration} (component-base's configz). */
import type { FastifyInstance } from 'fastify';

export function registerConfigzRoute(app: FastifyInstance, configz: () => object): void {
  app.get('/configz', async () => ({ kubeletconfig: configz() }));
}
