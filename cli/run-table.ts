/**
 * What `dockerlet run` prints once its pods are up (or have failed): a table of the pods, as
 * `kubectl get pods -o wide` shows them, and one of the Services with the URLs a CI step can open.
 */
import type { ContainerStatus, Pod, Service } from '../common/api/types.js';

function table(header: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
  return [header, ...rows].map((row) => row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]! + 3))).join('').trimEnd());
}

/** kubectl's STATUS column, near enough: the pod's reason, else a container's waiting or terminated reason, else the phase. */
export function podStatusWord(pod: Pod): string {
  if (pod.status?.reason) return pod.status.reason;
  const statuses: ContainerStatus[] = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
  for (const status of statuses) {
    const waiting = status.state?.waiting?.reason;
    if (waiting && waiting !== 'ContainerCreating' && waiting !== 'PodInitializing') return waiting;
  }
  if (pod.status?.phase === 'Succeeded') return 'Completed';
  const failed = statuses.find((status) => (status.state?.terminated?.exitCode ?? 0) !== 0);
  if (failed) return failed.state!.terminated!.reason ?? 'Error';
  return pod.status?.phase ?? 'Pending';
}

export function podTable(pods: readonly Pod[]): string[] {
  const rows = pods.map((pod) => {
    const statuses = pod.status?.containerStatuses ?? [];
    const ready = `${statuses.filter((status) => status.ready).length}/${pod.spec?.containers?.length ?? 0}`;
    const restarts = String(statuses.reduce((sum, status) => sum + status.restartCount, 0));
    return [pod.metadata?.namespace ?? 'default', pod.metadata?.name ?? '', ready, podStatusWord(pod), restarts, pod.status?.podIP ?? '<none>'];
  });
  return table(['NAMESPACE', 'POD', 'READY', 'STATUS', 'RESTARTS', 'IP'], rows);
}

/** One row per service port: where this host reaches it, by ClusterIP and, when it has one, node port. */
export function serviceTable(services: readonly Service[]): string[] {
  const rows = services.flatMap((service) =>
    (service.spec?.ports ?? []).map((port) => {
      const clusterIP = service.spec?.clusterIP ?? '';
      const protocol = port.protocol ?? 'TCP';
      const urls = clusterIP && clusterIP !== 'None' ? [`${clusterIP}:${port.port}`] : [];
      if (port.nodePort) urls.push(`127.0.0.1:${port.nodePort}`);
      return [service.metadata?.namespace ?? 'default', service.metadata?.name ?? '', service.spec?.type ?? 'ClusterIP', `${port.name ? `${port.name} ` : ''}${port.port}/${protocol}`, urls.join(' ') || '<headless>'];
    }),
  );
  return rows.length === 0 ? [] : table(['NAMESPACE', 'SERVICE', 'TYPE', 'PORT', 'REACH AT'], rows);
}
