/** One human line per port of a proxied Service, for people watching `dockerlet up`: where to reach it. */
import type { Service } from '../common/api/types.js';
import { namespacedName } from '../common/api/types.js';

export function serviceSummaryLines(services: readonly Service[]): string[] {
  const lines: string[] = [];
  for (const service of services) {
    const spec = service.spec;
    if (!spec?.clusterIP || spec.clusterIP === 'None') continue;
    for (const port of spec.ports ?? []) {
      const protocol = port.protocol ?? 'TCP';
      const name = port.name ? ` (${port.name})` : '';
      const nodePort = port.nodePort !== undefined ? `, NodePort ${port.nodePort}${protocol === 'TCP' ? `: try http://127.0.0.1:${port.nodePort}/` : ''}` : '';
      lines.push(`service ${namespacedName(service)}${name}: ${spec.clusterIP}:${port.port}/${protocol}${nodePort}`);
    }
  }
  return lines;
}
