/**
 * POST /run/{namespace}/{pod}[/{uid}]/{container}?cmd=...: runs a command in a running container
 * and answers with its output, stdout and stderr together (the kubelet's getRun; the command is
 * split on spaces, as upstream splits it).
 */
import type { FastifyInstance } from 'fastify';
import { DockerletError } from '../../../common/api/errors.js';
import type { KubeletApi } from '../kubelet-api.js';

interface Params {
  namespace: string;
  pod: string;
  uid?: string;
  container: string;
}

export function registerRunRoutes(app: FastifyInstance, api: KubeletApi): void {
  for (const path of ['/run/:namespace/:pod/:container', '/run/:namespace/:pod/:uid/:container']) {
    app.post<{ Params: Params; Querystring: { cmd?: string } }>(path, async (request, reply) => {
      const command = (request.query.cmd ?? '').split(' ');
      if (command[0] === '') throw new DockerletError('DKL_ERR_BAD_REQUEST', 'the cmd query parameter names no command');
      return reply.type('text/plain; charset=utf-8').send(await api.run(request.params, command));
    });
  }
}
