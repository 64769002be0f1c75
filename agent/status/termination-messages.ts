/**
 * Termination messages of exited containers (kuberuntime_container.go): the file the container
 * wrote at its terminationMessagePath (at most 4 KiB) or, under FallbackToLogsOnError when
 * that is empty and the exit code is not 0, the last 80 log lines (at most 2 KiB). A dead
 * container's message never changes, so each is read once; the cache holds, per pod, only the
 * containers the runtime still has, so a pod that restarts for months keeps a handful.
 */
import { open } from 'node:fs/promises';
import type { DefaultedPod } from '../../common/api/types.js';
import type { ContainerRuntime, RuntimePodStatus } from '../runtime/runtime.js';

const MaxMessageBytes = 4096;
const MaxFallbackLogBytes = 2048;
const FallbackLogLines = 80;

export class TerminationMessages {
  readonly #runtime: ContainerRuntime;
  /** pod UID -> container ID -> message. */
  readonly #cache = new Map<string, Map<string, string>>();

  constructor(runtime: ContainerRuntime) {
    this.#runtime = runtime;
  }

  /** Messages for the exited containers in `status`, by container ID. */
  async collect(pod: DefaultedPod, status: RuntimePodStatus): Promise<Map<string, string>> {
    const messages = new Map<string, string>();
    const specs = [...(pod.spec.initContainers ?? []), ...pod.spec.containers];
    const known = this.#cache.get(pod.metadata.uid);
    const kept = new Map<string, string>();
    for (const container of status.containers) {
      if (container.state !== 'exited') continue;
      let message = known?.get(container.id);
      if (message === undefined) {
        message = container.terminationMessageHostPath ? await readHead(container.terminationMessageHostPath, MaxMessageBytes) : '';
        const policy = specs.find((c) => c.name === container.name)?.terminationMessagePolicy;
        if (message === '' && policy === 'FallbackToLogsOnError' && container.exitCode !== 0) {
          message = await this.#logTail(container.id);
        }
      }
      kept.set(container.id, message);
      if (message) messages.set(container.id, message);
    }
    this.#cache.set(pod.metadata.uid, kept);
    return messages;
  }

  /** Forgets a pod that is gone. */
  forget(podUID: string): void {
    this.#cache.delete(podUID);
  }

  async #logTail(id: string): Promise<string> {
    try {
      const stream = await this.#runtime.containerLogs(id, { follow: false, timestamps: false, tailLines: FallbackLogLines });
      const chunks: Buffer[] = [];
      for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer));
      const text = Buffer.concat(chunks);
      return text.subarray(Math.max(0, text.length - MaxFallbackLogBytes)).toString('utf8');
    } catch {
      return '';
    }
  }
}

async function readHead(path: string, maxBytes: number): Promise<string> {
  try {
    const handle = await open(path, 'r');
    try {
      const buffer = Buffer.alloc(maxBytes);
      const { bytesRead } = await handle.read(buffer, 0, maxBytes, 0);
      return buffer.subarray(0, bytesRead).toString('utf8');
    } finally {
      await handle.close();
    }
  } catch {
    return '';
  }
}
