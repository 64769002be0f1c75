/**
 * Defaulting of Services as the API server applies it (pkg/apis/core/v1/defaults.go
 * SetDefaults_Service), for Services given next to static pods.
 */
import type { Service } from '../../common/api/types.js';

/** DefaultClientIPServiceAffinitySeconds: three hours. */
export const DefaultAffinityTimeoutSeconds = 10800;

export function withServiceDefaults(service: Service): Service {
  const copy = structuredClone(service);
  copy.metadata = { ...copy.metadata, namespace: copy.metadata?.namespace || 'default' };
  const spec = (copy.spec ??= {});
  spec.type ??= 'ClusterIP';
  if (spec.type === 'ExternalName') return copy;
  spec.sessionAffinity ??= 'None';
  if (spec.sessionAffinity === 'ClientIP') {
    const clientIP = ((spec.sessionAffinityConfig ??= {}).clientIP ??= {});
    clientIP.timeoutSeconds ??= DefaultAffinityTimeoutSeconds;
  }
  for (const port of spec.ports ?? []) {
    port.protocol ??= 'TCP';
    port.targetPort ??= port.port;
  }
  if (spec.type === 'NodePort' || spec.type === 'LoadBalancer') spec.externalTrafficPolicy ??= 'Cluster';
  spec.internalTrafficPolicy ??= 'Cluster';
  return copy;
}
