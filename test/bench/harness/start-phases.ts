/**
 * Where a pod's start goes, read from Docker's own event times: from the manifest written (or the
 * first API request) to the sandbox's create, the sandbox's start, the last container's start,
 * and from there to the pod reported Running. The same phases for dockerlet and for the bare
 * Docker API show which part of the difference is the agent's and which is Docker's.
 */
import type { ObservedEvent } from '../../helpers/docker.js';

export interface StartPhases {
  /** From the start (manifest written, first request) to the sandbox container created. */
  toSandboxCreated: number;
  /** Sandbox created -> sandbox started (Docker joins it to the pod network here). */
  sandboxStart: number;
  /** Sandbox started -> last container started. */
  containers: number;
  /** Last container started -> the pod reported Running. */
  toRunning: number;
}

export const PhaseNames: Record<keyof StartPhases, string> = {
  toSandboxCreated: 'start -> sandbox created',
  sandboxStart: 'sandbox created -> started',
  containers: 'sandbox started -> last container started',
  toRunning: 'last container started -> Running',
};

/**
 * The phases of one pod start: `events` are Docker's container events of that pod alone,
 * `isSandbox` tells its sandbox container; `start` and `running` are times in epoch ms.
 */
export function startPhases(events: readonly ObservedEvent[], isSandbox: (event: ObservedEvent) => boolean, start: number, running: number): StartPhases {
  const first = (action: string, sandbox: boolean): ObservedEvent => {
    const event = events.find((e) => e.action === action && isSandbox(e) === sandbox && e.time >= start);
    if (!event) throw new Error(`no ${sandbox ? 'sandbox' : 'container'} ${action} event after the pod's start`);
    return event;
  };
  const sandboxCreated = first('create', true).time;
  const sandboxStarted = first('start', true).time;
  const lastStarted = Math.max(...events.filter((e) => e.action === 'start' && !isSandbox(e) && e.time >= start).map((e) => e.time));
  if (!Number.isFinite(lastStarted)) throw new Error("no container start event after the pod's start");
  return {
    toSandboxCreated: sandboxCreated - start,
    sandboxStart: sandboxStarted - sandboxCreated,
    containers: lastStarted - sandboxStarted,
    toRunning: running - lastStarted,
  };
}
