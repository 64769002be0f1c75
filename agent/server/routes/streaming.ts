/**
 * /exec, /attach and /portForward: the kubelet's streaming handlers, on the secure server only.
 * A client upgrades the connection (SPDY/3.1 or WebSocket); Node hands an upgrade to the HTTP
 * server's 'upgrade' event rather than to fastify's routes, so the gate (authentication and
 * authorization), the routing and the pod lookup are done here before the protocol takes the
 * socket. A request that does not upgrade gets the 400 an upgrade-only handler gives.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { errorMessage, isDockerletError } from '../../../common/api/errors.js';
import type { KubeletAuth } from '../auth/kubelet-auth.js';
import type { ContainerTarget, KubeletApi, PodTarget } from '../kubelet-api.js';
import { rejectUpgrade } from '../streaming/upgrade-socket.js';

type StreamRoute = { kind: 'exec' | 'attach'; target: ContainerTarget } | { kind: 'portForward'; target: PodTarget };

/** /exec|attach/{ns}/{pod}[/{uid}]/{container}, /portForward/{ns}/{pod}[/{uid}]; undefined for any other path. */
export function streamRoute(path: string): StreamRoute | undefined {
  let segments: string[];
  try {
    segments = path.split('/').map((part) => decodeURIComponent(part));
  } catch {
    return undefined;
  }
  const [, kind, ...parts] = segments;
  if (parts.some((part) => part === '')) return undefined;
  if (kind === 'exec' || kind === 'attach') {
    if (parts.length === 3) return { kind, target: { namespace: parts[0]!, pod: parts[1]!, container: parts[2]! } };
    if (parts.length === 4) return { kind, target: { namespace: parts[0]!, pod: parts[1]!, uid: parts[2]!, container: parts[3]! } };
  }
  if (kind === 'portForward') {
    if (parts.length === 2) return { kind, target: { namespace: parts[0]!, pod: parts[1]! } };
    if (parts.length === 3) return { kind, target: { namespace: parts[0]!, pod: parts[1]!, uid: parts[2]! } };
  }
  return undefined;
}

export interface StreamingRoutesOptions {
  api: KubeletApi;
  auth: KubeletAuth;
  logger: Logger;
  /** A connection silent this long is closed (default: the kubelet's 4 h). */
  idleTimeoutMs?: number;
}

export function registerStreamingRoutes(app: FastifyInstance, options: StreamingRoutesOptions): void {
  const log = options.logger.child({ component: 'streaming' });
  for (const root of ['/exec', '/attach', '/portForward']) {
    app.route({
      method: ['GET', 'POST'],
      url: `${root}/*`,
      handler: async (_request, reply) => reply.code(400).type('text/plain; charset=utf-8').send('Upgrade request required\n'),
    });
  }
  // Node hands an upgraded socket over and stops counting it as a connection of the server, so
  // closing the server would wait for every exec and port-forward to end: they are ended here.
  const sockets = new Set<Duplex>();
  app.addHook('preClose', async () => {
    for (const socket of sockets) socket.destroy();
  });
  app.server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    // A client gone mid-handshake must not crash the agent.
    socket.on('error', (err) => log.debug({ err: errorMessage(err) }, 'streaming connection failed'));
    upgrade(request, socket, head, options, log).catch((err: unknown) => {
      const status = isDockerletError(err) ? err.status : 500;
      if (status >= 500) log.error({ err: errorMessage(err), url: request.url }, 'streaming request failed');
      rejectUpgrade(socket, status >= 400 ? status : 500, errorMessage(err));
    });
  });
}

/**
 * As the kubelet's handlers: the options are checked first (400), then the pod and container
 * looked up (404), all before the upgrade; what fails after it (the runtime refusing the exec)
 * reaches the client on the protocol's error stream.
 */
async function upgrade(request: IncomingMessage, socket: Duplex, head: Buffer, { api, auth, idleTimeoutMs }: StreamingRoutesOptions, log: Logger): Promise<void> {
  const admission = await auth.admit(request);
  if (!admission.admitted) return rejectUpgrade(socket, admission.status, admission.message);
  const route = streamRoute(admission.path);
  if (!route) return rejectUpgrade(socket, 404, '404 page not found');
  // The kubelet routes these paths for GET and POST only: no other verb may reach a container.
  if (request.method !== 'GET' && request.method !== 'POST') return rejectUpgrade(socket, 405, `${request.method} is not allowed on ${admission.path}`);
  const url = new URL(request.url ?? '/', 'http://kubelet');
  const logger = log.child({ user: admission.user.name, path: admission.path });
  const timeouts = idleTimeoutMs === undefined ? {} : { idleTimeoutMs };
  // The protocols' libraries (SPDY, WebSocket) are loaded with the first streaming request.
  if (route.kind === 'portForward') {
    const { portForwardOptions, servePortForward } = await import('../streaming/port-forward.js');
    const { ports } = portForwardOptions(request);
    const pod = await api.podPorts(route.target);
    void servePortForward(request, socket, head, { ports, connect: pod.connect, podName: `${route.target.namespace}/${route.target.pod}`, podUid: pod.uid, logger, ...timeouts });
    return;
  }
  const { remoteCommandOptions, serveRemoteCommand } = await import('../streaming/remote-command.js');
  const options = remoteCommandOptions(url.searchParams);
  if (route.kind === 'exec' && options.command.length === 0) return rejectUpgrade(socket, 400, 'you must specify at least one command for the container');
  const container = await api.containerStreams(route.target);
  if (route.kind === 'exec') {
    void serveRemoteCommand(request, socket, head, { operation: 'exec', streams: options.streams, start: (streams) => container.exec(options.command, streams), logger, ...timeouts });
    return;
  }
  // Attach uses the terminal the container was started with, whatever the client asked for.
  const streams = { ...options.streams, tty: container.tty, stderr: options.streams.stderr && !container.tty };
  void serveRemoteCommand(request, socket, head, { operation: 'attach', streams, start: (selected) => container.attach(selected), logger, ...timeouts });
}
