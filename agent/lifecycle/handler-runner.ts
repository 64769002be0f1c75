/**
 * Runs a container's lifecycle hook handler (pkg/kubelet/lifecycle/handlers.go):
 * - exec: the command in the container, with no timeout of its own; a non-zero exit fails;
 * - httpGet: to the pod IP unless the handler names a host; only a request that gets no
 *   response fails (the status code is not checked, as upstream); an HTTPS hook that meets a
 *   plain HTTP server is retried over HTTP, with a LifecycleHTTPFallback event;
 * - sleep: waits the given seconds.
 * A failure rejects with the kubelet's message, naming the hook, the container and the pod.
 * When `signal` aborts (the pod is being killed, or a preStop ran out of time) the runner stops
 * waiting and rejects (a sleep with "container terminated before sleep hook finished", as
 * upstream); a command already started in the container may go on there.
 */
import type { Container, LifecycleHandler } from '../../common/api/types.js';
import { errorMessage } from '../../common/api/errors.js';
import type { EventRecorder, InvolvedObject } from '../events/recorder.js';
import { doHttpGet, type HttpGetAction } from '../probe/http-get.js';
import { resolveContainerPort } from '../probe/ports.js';
import { MaxProbeOutputBytes } from '../probe/probe-run.js';
import type { ContainerRuntime } from '../runtime/runtime.js';
import { abortable, delay } from '../../common/util/clock.js';

export interface HookTarget {
  container: Container;
  containerId: string;
  podIP: string | undefined;
  /** "<name>_<namespace>(<uid>)", for messages. */
  podLabel: string;
  /** Where LifecycleHTTPFallback events go. */
  object: InvolvedObject;
}

export class HandlerRunner {
  readonly #runtime: ContainerRuntime;
  readonly #recorder: EventRecorder;

  constructor(options: { runtime: ContainerRuntime; recorder: EventRecorder }) {
    this.#runtime = options.runtime;
    this.#recorder = options.recorder;
  }

  async run(handler: LifecycleHandler, target: HookTarget, signal?: AbortSignal): Promise<void> {
    const where = `for Container "${target.container.name}" in Pod "${target.podLabel}"`;
    if (handler.exec) {
      const command = handler.exec.command ?? [];
      // Go's %v of the command: [sh -c exit 1].
      const hook = `Exec lifecycle hook ([${command.join(' ')}]) ${where} failed - error:`;
      let result;
      try {
        result = await abortable(this.#runtime.execSync(target.containerId, command, { maxOutputBytes: MaxProbeOutputBytes }), signal);
      } catch (err) {
        throw new Error(`${hook} ${errorMessage(err)}, message: ""`);
      }
      if (result.exitCode !== 0) {
        throw new Error(`${hook} command '${command.join(' ')}' exited with ${result.exitCode}: ${result.output}, message: ${JSON.stringify(result.output)}`);
      }
      return;
    }
    if (handler.httpGet) {
      try {
        await this.#httpGet(handler.httpGet, target, signal);
      } catch (err) {
        throw new Error(`HTTP lifecycle hook (${handler.httpGet.path ?? ''}) ${where} failed - error: ${errorMessage(err)}`);
      }
      return;
    }
    if (handler.sleep) {
      await delay(handler.sleep.seconds * 1000, signal);
      if (signal?.aborted) {
        throw new Error(`Sleep lifecycle hook (${handler.sleep.seconds}) ${where} failed - error: container terminated before sleep hook finished`);
      }
      return;
    }
    throw new Error(`Cannot run handler: invalid handler ${JSON.stringify(handler)} ${where}`);
  }

  async #httpGet(httpGet: NonNullable<LifecycleHandler['httpGet']>, target: HookTarget, signal: AbortSignal | undefined): Promise<void> {
    const host = httpGet.host || target.podIP;
    if (!host) throw new Error('failed to find networking container: the pod has no IP');
    const port = resolveContainerPort(httpGet.port, target.container);
    if (!port.ok) throw new Error(port.message);
    const action: HttpGetAction = {
      scheme: httpGet.scheme === 'HTTPS' ? 'HTTPS' : 'HTTP',
      host,
      port: port.port,
      path: httpGet.path ?? '/',
      headers: (httpGet.httpHeaders ?? []).map(({ name, value }) => ({ name, value })),
    };
    const options = { purpose: 'lifecycle' as const, ...(signal ? { signal } : {}) };
    try {
      await doHttpGet(action, options);
    } catch (err) {
      if (action.scheme !== 'HTTPS' || !/wrong version number|EPROTO/i.test(errorMessage(err))) throw err;
      try {
        await doHttpGet({ ...action, scheme: 'HTTP', headers: action.headers.filter((h) => h.name.toLowerCase() !== 'authorization') }, options);
      } catch {
        // The fallback failed too: the kubelet reports the HTTPS error.
        throw err;
      }
      this.#recorder.event(
        target.object,
        'Warning',
        'LifecycleHTTPFallback',
        `request to HTTPS lifecycle hook ${host}:${port.port} got HTTP response, retry with HTTP succeeded`,
      );
    }
  }
}
