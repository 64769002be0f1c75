/** How the kubelet's secure server is served and guarded: its KubeletConfiguration fields, resolved (cli/server-options.ts). */
import type { TlsSettings } from './tls/tls-settings.js';

export interface SecureServingOptions {
  /** The user's certificate and key (both or neither); else a self-signed pair in <root-dir>/pki. */
  tlsCertFile?: string;
  tlsPrivateKeyFile?: string;
  tls: TlsSettings;
  authentication: {
    /** Client certificates signed by this CA authenticate as their CN, in the groups of their O fields. */
    x509ClientCAFile?: string;
    /** Bearer tokens are checked with the API server's TokenReview (cluster mode only). */
    webhook: { enabled: boolean; cacheTtlMs: number };
    /** Requests with no credentials are system:anonymous rather than refused. */
    anonymous: boolean;
  };
  /** A streaming connection (exec, attach, port-forward) silent this long is closed (streamingConnectionIdleTimeout). */
  streamingConnectionIdleTimeoutMs: number;
  authorization: {
    /** Webhook asks the API server with a SubjectAccessReview (cluster mode only). */
    mode: 'AlwaysAllow' | 'Webhook';
    webhook: { cacheAuthorizedTtlMs: number; cacheUnauthorizedTtlMs: number };
  };
}
