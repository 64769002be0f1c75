/**
 * Waiting for pods to be ready or complete (pod-progress.ts), the way a test or a CI step wants
 * it: done as soon as every awaited pod is there, failed at once when one of them fails, and on
 * either failure or timeout an error that tells why: each pod not there, each of its troubled
 * containers with its reason and its last log lines.
 */
import { DockerletError } from '../common/api/errors.js';
import type { Pod } from '../common/api/types.js';
import { containerTroubles, formatPodReports, podProgress, type PodReport } from './pod-progress.js';

/** Log lines shown per troubled container. */
export const ReportLogLines = 10;

export interface PodWatch {
  /** The pods awaited, as they are now; a name awaited but not on the node yet is `{ missing: name }`. */
  current(): Array<Pod | { missing: string }>;
  /** Calls `listener` when a pod comes, goes or changes status; returns the unsubscribe. */
  subscribe(listener: () => void): () => void;
  /** The last `lines` lines of a container's log (of its previous instance when asked); [] when there is none. */
  logTail(pod: Pod, container: string, previous: boolean, lines: number): Promise<string[]>;
}

/** A wait that failed: `reports` says, pod by pod, what kept each from being ready or complete. */
export class PodWaitError extends DockerletError {
  readonly reports: readonly PodReport[];
  readonly missing: readonly string[];

  constructor(code: 'DKL_ERR_POD_FAILED' | 'DKL_ERR_WAIT_TIMEOUT', headline: string, reports: readonly PodReport[], missing: readonly string[]) {
    const body = [formatPodReports(reports), ...missing.map((name) => `pod ${name}: not on this node`)].filter(Boolean).join('\n');
    super(code, `${headline}\n${body}`);
    this.reports = reports;
    this.missing = missing;
  }
}

/** For each pod, its troubled containers with their last log lines. */
export async function reportOn(watch: Pick<PodWatch, 'logTail'>, pods: readonly Pod[]): Promise<PodReport[]> {
  return Promise.all(
    pods.map(async (pod) => ({
      pod,
      containers: await Promise.all(
        containerTroubles(pod).map(async (trouble) => ({ ...trouble, logTail: await watch.logTail(pod, trouble.name, trouble.logsOfPrevious, ReportLogLines).catch(() => []) })),
      ),
    })),
  );
}

/**
 * Resolves with the awaited pods once each is ready or completed; rejects with a PodWaitError
 * when one fails or `timeoutMs` passes, and with `signal`'s reason when it aborts (the node stopped).
 */
export function waitForPods(watch: PodWatch, timeoutMs: number, signal: AbortSignal): Promise<Pod[]> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const finish = (outcome: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      unsubscribe();
      signal.removeEventListener('abort', aborted);
      outcome();
    };
    const aborted = (): void => finish(() => reject(signal.reason));
    const fail = (code: 'DKL_ERR_POD_FAILED' | 'DKL_ERR_WAIT_TIMEOUT', headline: string, pods: Pod[], missing: string[]): void => {
      // Logs are read before the wait settles: nothing else may settle it meanwhile.
      settled = true;
      clearTimeout(timer);
      unsubscribe();
      signal.removeEventListener('abort', aborted);
      void reportOn(watch, pods).then((reports) => reject(new PodWaitError(code, headline, reports, missing)), reject);
    };
    const check = (): void => {
      if (settled) return;
      const current = watch.current();
      const pods = current.filter((entry): entry is Pod => !('missing' in entry));
      const failed = pods.filter((pod) => podProgress(pod) === 'failed');
      if (failed.length > 0) return fail('DKL_ERR_POD_FAILED', `${failed.map(podName).join(', ')} failed:`, failed, []);
      if (pods.length === current.length && pods.every((pod) => podProgress(pod) !== 'pending')) finish(() => resolve(pods));
    };
    const timer = setTimeout(() => {
      const current = watch.current();
      const pending = current.filter((entry): entry is Pod => !('missing' in entry) && podProgress(entry) === 'pending');
      const missing = current.flatMap((entry) => ('missing' in entry ? [entry.missing] : []));
      fail('DKL_ERR_WAIT_TIMEOUT', `not ready or complete after ${formatTimeout(timeoutMs)}: ${[...pending.map(podName), ...missing].join(', ')}`, pending, missing);
    }, timeoutMs);
    const unsubscribe = watch.subscribe(check);
    if (signal.aborted) return aborted();
    signal.addEventListener('abort', aborted, { once: true });
    check();
  });
}

const podName = (pod: Pod): string => `${pod.metadata?.namespace ?? 'default'}/${pod.metadata?.name}`;

function formatTimeout(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}
