/** Direct Docker access for assertions and cleanup, by the labels dockerlet puts on everything. */
import Dockerode from 'dockerode';
import { removeCgroups } from '../../agent/qos/cgroup-manager.js';
import { DefaultPodsCgroup, podCgroupNames } from '../../agent/qos/qos-cgroups.js';

export const docker = new Dockerode({ socketPath: '/var/run/docker.sock' });

export const BusyboxImage = 'dockerlet.local/busybox:1.35';
export const PauseImage = 'dockerlet.local/pause:3.10';
/** busybox plus this host's node binary (setup-host.sh --for-bench): servers and clients busybox cannot be. */
export const NodeImage = `dockerlet.local/node:${process.versions.node}`;

export function nodeContainers(nodeName: string, engine: Dockerode = docker): Promise<Dockerode.ContainerInfo[]> {
  return engine.listContainers({ all: true, filters: { label: [`dockerlet.io/node=${nodeName}`] } });
}

/**
 * Removes every container of one test node, whatever its state, and then its pods' cgroups
 * under the default root cgroup, where an agent run as a process (dockerlet's own flags) puts
 * them; a node of its own root cgroup removes that itself (agent-harness.ts).
 */
export async function removeNodeContainers(nodeName: string, engine: Dockerode = docker): Promise<void> {
  const containers = await nodeContainers(nodeName, engine);
  await Promise.all(containers.map((c) => engine.getContainer(c.Id).remove({ force: true }).catch(() => undefined)));
  const uids = [...new Set(containers.flatMap((c) => c.Labels['io.kubernetes.pod.uid'] ?? []))];
  if (uids.length > 0) await removeCgroups(uids.flatMap((uid) => podCgroupNames(DefaultPodsCgroup, uid))).catch(() => undefined);
}

/** Runs a command in a running container and returns its stdout+stderr and exit code. */
export async function dockerExec(containerId: string, cmd: string[]): Promise<{ output: string; exitCode: number }> {
  const exec = await docker.getContainer(containerId).exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true });
  const stream = await exec.start({ hijack: true, stdin: false });
  const chunks: Buffer[] = [];
  await new Promise<void>((resolve, reject) => {
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', resolve);
    stream.on('error', reject);
  });
  const raw = Buffer.concat(chunks);
  let output = '';
  for (let offset = 0; offset + 8 <= raw.length; ) {
    const size = raw.readUInt32BE(offset + 4);
    output += raw.subarray(offset + 8, offset + 8 + size).toString('utf8');
    offset += 8 + size;
  }
  const { ExitCode } = await exec.inspect();
  return { output, exitCode: ExitCode ?? -1 };
}

export interface ObservedEvent {
  action: string;
  id: string;
  signal?: string;
  /** When Docker says it happened, in ms since the epoch (from timeNano). */
  time: number;
  /** The container's labels and name, as the event carries them. */
  attributes: Record<string, string>;
}

/** Docker's container events matching `filters`, as they happen, until stop(). */
export async function watchEvents(filters: Record<string, string[]>): Promise<{ events: ObservedEvent[]; stop(): void }> {
  const abort = new AbortController();
  const events: ObservedEvent[] = [];
  const stream = (await docker.getEvents({ filters: { type: ['container'], ...filters }, abortSignal: abort.signal } as object)) as NodeJS.ReadableStream;
  let pending = '';
  stream.on('data', (chunk: Buffer) => {
    pending += chunk.toString('utf8');
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines.filter(Boolean)) {
      const event = JSON.parse(line) as { Action: string; Actor: { ID: string; Attributes: Record<string, string> }; timeNano: number };
      const signal = event.Actor.Attributes['signal'];
      events.push({ action: event.Action, id: event.Actor.ID, time: event.timeNano / 1e6, attributes: event.Actor.Attributes, ...(signal ? { signal } : {}) });
    }
  });
  stream.on('error', () => undefined);
  return { events, stop: () => abort.abort() };
}
