/**
 * Runs one probe of a container and says what it found (pkg/kubelet/prober/prober.go): picks
 * the handler (exec, httpGet, tcpSocket, grpc), aims it at the pod IP, retries a handler that
 * could not run at all up to three times, and records the kubelet's events: Unhealthy for a
 * failure, ProbeWarning for a redirect to another host. A Warning counts as Success, Unknown as
 * Failure (without an event, as upstream); a run that errored is thrown, so the worker discards it.
 * An exec probe's command has `$(VAR)` expanded from the container's plain `env` values
 * (ExpandContainerCommandOnlyStatic), nothing else.
 */
import type { Container, DefaultedPod, PodStatus, Probe } from '../../common/api/types.js';
import { errorMessage } from '../../common/api/errors.js';
import { containerObject, type EventRecorder } from '../events/recorder.js';
import { expandVariables } from '../envvars/env.js';
import { execProbe } from '../probe/exec-probe.js';
import { httpProbe } from '../probe/http-probe.js';
import { resolveContainerPort } from '../probe/ports.js';
import { ProbeRunError, type ProbeRun } from '../probe/probe-run.js';
import { tcpProbe } from '../probe/tcp-probe.js';
import type { ContainerRuntime } from '../runtime/runtime.js';
import type { ProbeResult, ProbeType } from './results.js';

const MaxProbeRetries = 3;

export interface ProbeTarget {
  pod: DefaultedPod;
  status: PodStatus;
  container: Container;
  containerId: string;
  /** Whether the container is a sidecar (an init container), for the events' field path. */
  init: boolean;
}

export function probeSpec(container: Container, probeType: ProbeType): Probe | undefined {
  switch (probeType) {
    case 'liveness':
      return container.livenessProbe;
    case 'readiness':
      return container.readinessProbe;
    case 'startup':
      return container.startupProbe;
  }
}

/** "Liveness", "Readiness", "Startup": how the kubelet names probe types in events and metrics. */
export function probeTypeName(probeType: ProbeType): string {
  return probeType[0]!.toUpperCase() + probeType.slice(1);
}

export class Prober {
  readonly #runtime: ContainerRuntime;
  readonly #recorder: EventRecorder;

  constructor(options: { runtime: ContainerRuntime; recorder: EventRecorder }) {
    this.#runtime = options.runtime;
    this.#recorder = options.recorder;
  }

  /** The result of one probe; throws when the probe could not run (the worker discards that). */
  async probe(probeType: ProbeType, target: ProbeTarget): Promise<ProbeResult> {
    const spec = probeSpec(target.container, probeType);
    if (!spec) return 'Success';
    const name = probeTypeName(probeType);
    const object = containerObject(target.pod.metadata, target.container.name, target.init);
    let run: ProbeRun;
    try {
      run = await this.#runWithRetries(spec, target);
    } catch (err) {
      // The result a handler gave with its error, as the kubelet prints probe.Result: "unknown" when it could not run.
      const result = err instanceof ProbeRunError ? err.result : 'Unknown';
      this.#recorder.event(object, 'Warning', 'Unhealthy', `${name} probe errored and resulted in ${result.toLowerCase()} state: ${errorMessage(err)}`);
      throw err;
    }
    switch (run.result) {
      case 'Success':
        return 'Success';
      case 'Warning':
        this.#recorder.event(object, 'Warning', 'ProbeWarning', `${name} probe warning: ${run.output}`);
        return 'Success';
      case 'Failure':
        this.#recorder.event(object, 'Warning', 'Unhealthy', `${name} probe failed: ${run.output}`);
        return 'Failure';
      case 'Unknown':
        return 'Failure';
    }
  }

  async #runWithRetries(spec: Probe, target: ProbeTarget): Promise<ProbeRun> {
    let lastError: unknown;
    for (let attempt = 0; attempt < MaxProbeRetries; attempt++) {
      try {
        return await this.#run(spec, target);
      } catch (err) {
        lastError = err;
      }
    }
    throw lastError;
  }

  async #run(spec: Probe, { status, container, containerId }: ProbeTarget): Promise<ProbeRun> {
    const timeoutMs = (spec.timeoutSeconds ?? 1) * 1000;
    const podIP = status.podIP ?? '';
    if (spec.exec) return execProbe(this.#runtime, containerId, staticExpansion(spec.exec.command ?? [], container), timeoutMs);
    // gRPC's client is loaded with the first grpc probe: most nodes never run one.
    if (spec.grpc) return (await import('../probe/grpc-probe.js')).grpcProbe(podIP, spec.grpc.port, spec.grpc.service ?? '', timeoutMs);
    const action = spec.httpGet ?? spec.tcpSocket;
    if (!action) throw new Error(`container ${container.name}: the probe has no handler`);
    const port = resolveContainerPort(action.port, container);
    if (!port.ok) throw new Error(port.message);
    const host = action.host || podIP;
    if (spec.tcpSocket) return tcpProbe(host, port.port, timeoutMs);
    const httpGet = spec.httpGet!;
    return httpProbe(
      {
        scheme: httpGet.scheme === 'HTTPS' ? 'HTTPS' : 'HTTP',
        host,
        port: port.port,
        path: httpGet.path ?? '/',
        headers: (httpGet.httpHeaders ?? []).map(({ name, value }) => ({ name, value })),
      },
      timeoutMs,
    );
  }
}

/** `$(VAR)` in `command` from the container's `env` values only (valueFrom counts as ""); unknown names stay. */
function staticExpansion(command: readonly string[], container: Container): string[] {
  const values = new Map((container.env ?? []).map((e) => [e.name, e.value ?? '']));
  return command.map((arg) => expandVariables(arg, (name) => values.get(name)));
}
