/**
 * Kubernetes Events, as the kubelet records them: Pulling, Pulled, Created, Started, Killing,
 * BackOff... Standalone, each is one structured log line; in cluster mode the same calls
 * become Event objects.
 */
import type { Logger } from 'pino';

export type EventType = 'Normal' | 'Warning';

export interface InvolvedObject {
  kind: 'Pod' | 'Node';
  name: string;
  namespace?: string;
  uid: string;
  /** e.g. spec.containers{web} */
  fieldPath?: string;
}

export interface EventRecorder {
  event(object: InvolvedObject, type: EventType, reason: string, message: string): void;
}

export class LogEventRecorder implements EventRecorder {
  readonly #log: Logger;

  constructor(logger: Logger) {
    this.#log = logger.child({ component: 'events' });
  }

  event(object: InvolvedObject, type: EventType, reason: string, message: string): void {
    const fields = {
      event: reason,
      type,
      object: `${object.kind}/${object.namespace ? `${object.namespace}/` : ''}${object.name}`,
      ...(object.fieldPath ? { fieldPath: object.fieldPath } : {}),
    };
    if (type === 'Warning') this.#log.warn(fields, message);
    else this.#log.info(fields, message);
  }
}

/** Every event to each recorder: the log, and the API server once cluster mode has a client. */
export class FanOutRecorder implements EventRecorder {
  readonly #recorders: EventRecorder[];

  constructor(recorders: readonly EventRecorder[]) {
    this.#recorders = [...recorders];
  }

  add(recorder: EventRecorder): void {
    this.#recorders.push(recorder);
  }

  event(object: InvolvedObject, type: EventType, reason: string, message: string): void {
    for (const recorder of this.#recorders) recorder.event(object, type, reason, message);
  }
}

/** Where a container's events point: the pod, at spec.containers{name} or spec.initContainers{name}. */
export function containerObject(pod: { name: string; namespace: string; uid: string }, containerName: string, init: boolean): InvolvedObject {
  return {
    kind: 'Pod',
    name: pod.name,
    namespace: pod.namespace,
    uid: pod.uid,
    fieldPath: `spec.${init ? 'initContainers' : 'containers'}{${containerName}}`,
  };
}
