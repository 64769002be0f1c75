/**
 * What the kubelet keeps on a container so that it can be killed properly after the agent
 * restarted and its pod spec is gone (kuberuntime/labels.go): the preStop handler and the
 * ports a named httpGet port refers to.
 */
import type { Container } from '../../common/api/types.js';
import { ContainerPortsLabel, PreStopHandlerLabel } from '../../common/api/well-known.js';
import type { RuntimeContainerStatus } from '../runtime/runtime.js';

export function containerSpecLabels(container: Container): Record<string, string> {
  return {
    ...(container.lifecycle?.preStop ? { [PreStopHandlerLabel]: JSON.stringify(container.lifecycle.preStop) } : {}),
    ...(container.ports?.length ? { [ContainerPortsLabel]: JSON.stringify(container.ports) } : {}),
  };
}

/** The part of a container's spec its labels hold: enough to run its preStop hook. */
export function restoreContainerSpec(status: RuntimeContainerStatus): Container {
  const preStop = parseLabel(status.labels[PreStopHandlerLabel]);
  const ports = parseLabel(status.labels[ContainerPortsLabel]);
  return {
    name: status.name,
    image: status.image,
    ...(Array.isArray(ports) ? { ports } : {}),
    ...(preStop && typeof preStop === 'object' ? { lifecycle: { preStop } } : {}),
  };
}

function parseLabel(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
