/**
 * Docker's event stream for one node's containers, kept open: on any end or error it
 * reconnects with a capped exponential backoff, and says so, because events may have been
 * missed meanwhile (the caller relists).
 */
import type Dockerode from 'dockerode';
import type { Logger } from 'pino';
import { ContainerNameLabel, NodeLabel, PodUIDLabel } from '../../../common/api/well-known.js';
import { delay } from '../../../common/util/clock.js';
import type { RuntimeEventHandlers, RuntimeEventType } from '../runtime.js';

const Actions: Record<string, RuntimeEventType> = {
  create: 'created',
  start: 'started',
  die: 'died',
  destroy: 'removed',
};

const InitialBackoffMs = 100;
const MaxBackoffMs = 5_000;

interface DockerEvent {
  Type?: string;
  Action?: string;
  status?: string;
  id?: string;
  Actor?: { ID?: string; Attributes?: Record<string, string> };
  timeNano?: number;
}

export function watchDockerEvents(docker: Dockerode, nodeName: string, handlers: RuntimeEventHandlers, logger: Logger): () => void {
  const abort = new AbortController();
  const log = logger.child({ component: 'docker-events' });

  async function streamOnce(): Promise<void> {
    const stream = (await docker.getEvents({
      filters: { type: ['container'], label: [`${NodeLabel}=${nodeName}`], event: Object.keys(Actions) },
      abortSignal: abort.signal,
    } as Parameters<Dockerode['getEvents']>[0])) as NodeJS.ReadableStream;
    handlers.onConnected();
    let pending = '';
    await new Promise<void>((resolve, reject) => {
      stream.on('data', (chunk: Buffer) => {
        pending += chunk.toString('utf8');
        let newline: number;
        while ((newline = pending.indexOf('\n')) !== -1) {
          const line = pending.slice(0, newline).trim();
          pending = pending.slice(newline + 1);
          if (line) dispatch(line);
        }
      });
      stream.on('end', resolve);
      stream.on('close', resolve);
      stream.on('error', reject);
    });
  }

  function dispatch(line: string): void {
    let event: DockerEvent;
    try {
      event = JSON.parse(line) as DockerEvent;
    } catch {
      log.warn({ line }, 'unreadable Docker event ignored');
      return;
    }
    const type = Actions[event.Action ?? event.status ?? ''];
    const attributes = event.Actor?.Attributes ?? {};
    const containerId = event.Actor?.ID ?? event.id;
    const podUID = attributes[PodUIDLabel];
    if (!type || !containerId || !podUID) return;
    handlers.onEvent({
      type,
      containerId,
      podUID,
      containerName: attributes[ContainerNameLabel] ?? '',
      time: event.timeNano ? Math.floor(event.timeNano / 1e6) : Date.now(),
    });
  }

  void (async () => {
    let backoff = InitialBackoffMs;
    while (!abort.signal.aborted) {
      const connectedAt = Date.now();
      try {
        await streamOnce();
        if (!abort.signal.aborted) handlers.onDisconnected(new Error('Docker event stream ended'));
      } catch (err) {
        if (abort.signal.aborted) break;
        handlers.onDisconnected(err);
      }
      if (Date.now() - connectedAt > MaxBackoffMs) backoff = InitialBackoffMs;
      await delay(backoff, abort.signal);
      backoff = Math.min(backoff * 2, MaxBackoffMs);
    }
    log.debug('stopped watching Docker events');
  })();

  return () => abort.abort();
}
