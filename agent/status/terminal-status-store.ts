/**
 * The last status of a finished pod, kept in its pod directory before its dead containers are
 * removed for disk space. Without those containers nothing on the engine tells a pod that
 * completed from one never run, and after a restart a `restartPolicy: Never` pod would run
 * again; the kubelet reads the phase back from the API server, dockerlet from this file. It
 * goes with the pod directory.
 */
import { readFile, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { isTerminalPhase } from '../../common/api/pod-helpers.js';
import type { PodStatus } from '../../common/api/types.js';
import { writeFileDurably } from '../../common/util/durable-file.js';

export class TerminalStatusStore {
  readonly #path: (uid: string) => string;

  constructor(path: (uid: string) => string) {
    this.#path = path;
  }

  /**
   * Keeps `status`, which must be terminal (Succeeded or Failed), in the pod's directory; rejects
   * when that directory is gone (the pod was removed meanwhile: nothing is to be kept of it).
   */
  async save(uid: string, status: PodStatus): Promise<void> {
    if (!isTerminalPhase(status.phase)) throw new Error(`pod ${uid}: only a finished pod's status is kept, not phase ${String(status.phase)}`);
    const path = this.#path(uid);
    await stat(dirname(path));
    await writeFileDurably(path, JSON.stringify(status));
  }

  /** The status kept for the pod; undefined when none was (or what is there is not a finished pod's status). */
  async load(uid: string): Promise<PodStatus | undefined> {
    const text = await readFile(this.#path(uid), 'utf8').catch(() => undefined);
    if (text === undefined) return undefined;
    try {
      const status = JSON.parse(text) as PodStatus;
      return isTerminalPhase(status?.phase) ? status : undefined;
    } catch {
      return undefined;
    }
  }
}

