/**
 * What /configz shows: the configuration this kubelet runs with, as a KubeletConfiguration
 * (kubelet.config.k8s.io/v1beta1) with every default filled in, the way the kubelet registers its
 * effective configuration with configz. Only the fields dockerlet acts on appear.
 */
import { formatDuration } from '../common/util/duration.js';
import type { KubeletOptions } from './kubelet-options.js';

export function kubeletConfigz(o: Readonly<KubeletOptions>): object {
  const { serving, cluster } = o;
  return {
    kind: 'KubeletConfiguration',
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    ...(o.staticPodPath !== undefined ? { staticPodPath: o.staticPodPath } : {}),
    ...(o.staticPodURL !== undefined ? { staticPodURL: o.staticPodURL } : {}),
    syncFrequency: formatDuration(o.syncFrequencyMs),
    fileCheckFrequency: formatDuration(o.fileCheckFrequencyMs),
    httpCheckFrequency: formatDuration(o.httpCheckFrequencyMs),
    address: o.address,
    port: o.port,
    readOnlyPort: o.readOnlyPort,
    ...(serving.tlsCertFile !== undefined ? { tlsCertFile: serving.tlsCertFile, tlsPrivateKeyFile: serving.tlsPrivateKeyFile } : {}),
    ...(serving.tls.cipherSuites.length > 0 ? { tlsCipherSuites: serving.tls.cipherSuites } : {}),
    ...(serving.tls.minVersion !== '' ? { tlsMinVersion: serving.tls.minVersion } : {}),
    streamingConnectionIdleTimeout: formatDuration(serving.streamingConnectionIdleTimeoutMs),
    authentication: {
      x509: serving.authentication.x509ClientCAFile !== undefined ? { clientCAFile: serving.authentication.x509ClientCAFile } : {},
      webhook: { enabled: serving.authentication.webhook.enabled, cacheTTL: formatDuration(serving.authentication.webhook.cacheTtlMs) },
      anonymous: { enabled: serving.authentication.anonymous },
    },
    authorization: {
      mode: serving.authorization.mode,
      webhook: {
        cacheAuthorizedTTL: formatDuration(serving.authorization.webhook.cacheAuthorizedTtlMs),
        cacheUnauthorizedTTL: formatDuration(serving.authorization.webhook.cacheUnauthorizedTtlMs),
      },
    },
    clusterDomain: o.clusterDomain,
    clusterDNS: o.clusterDNS,
    resolvConf: o.resolvConf,
    // A node that takes its subnet from its Node has none of its own: empty, as the kubelet's configz shows it in cluster mode.
    podCIDR: o.podCIDR?.text ?? '',
    podCIDRFromNode: o.podCIDR === undefined,
    cgroupRoot: o.podsCgroup,
    runtimeRequestTimeout: formatDuration(o.runtimeRequestTimeoutMs),
    maxPods: o.maxPods,
    allowedUnsafeSysctls: o.allowedUnsafeSysctls,
    imageGCHighThresholdPercent: o.imageGC.highThresholdPercent,
    imageGCLowThresholdPercent: o.imageGC.lowThresholdPercent,
    imageMinimumGCAge: formatDuration(o.imageGC.minimumAgeMs),
    imageMaximumGCAge: formatDuration(o.imageGC.maximumAgeMs),
    containerLogMaxSize: o.containerLogMaxSize,
    containerLogMaxFiles: o.containerLogMaxFiles,
    ...(cluster
      ? {
          nodeStatusUpdateFrequency: formatDuration(cluster.nodeStatusUpdateFrequencyMs),
          nodeStatusReportFrequency: formatDuration(cluster.nodeStatusReportFrequencyMs),
          nodeLeaseDurationSeconds: cluster.nodeLeaseDurationSeconds,
          registerWithTaints: cluster.registerWithTaints,
          nodeRoutes: cluster.nodeRoutes,
        }
      : {}),
  };
}
