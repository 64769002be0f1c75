/**
 * The secure server's flags and KubeletConfiguration fields -> SecureServingOptions. Defaults are
 * the KubeletConfiguration's (anonymous requests refused, tokens and access checked with the API
 * server) with or without a --config file, where the kubelet's bare flags keep its open legacy
 * defaults (anonymous, AlwaysAllow); and a standalone node has no API server to ask, so there the
 * webhooks are off and authorization is AlwaysAllow: only client certificates (--client-ca-file),
 * or anonymous requests on a loopback --address, get in. Asking for a webhook without
 * --kubeconfig, or letting anonymous requests do anything off loopback, is an error.
 */
import type { SecureServingOptions } from '../agent/server/serving-options.js';
import { CipherSuiteNames, nodeTlsOptions, TlsVersionNames } from '../agent/server/tls/tls-settings.js';
import { errorMessage } from '../common/api/errors.js';
import { isLoopbackAddress } from '../common/util/special-addresses.js';
import type { KubeletConfiguration } from './kubelet-config.js';
import { boolean, durationMs, setting, ttlMs, type Setting } from './settings.js';

export interface ServerFlags {
  tlsCertFile?: string;
  tlsPrivateKeyFile?: string;
  tlsMinVersion?: string;
  tlsCipherSuites?: string;
  clientCaFile?: string;
  /** `--anonymous-auth` alone is true; `--anonymous-auth=false` gives the string. */
  anonymousAuth?: string | boolean;
  authenticationTokenWebhook?: string | boolean;
  authenticationTokenWebhookCacheTtl?: string;
  streamingConnectionIdleTimeout?: string;
  authorizationMode?: string;
  authorizationWebhookCacheAuthorizedTtl?: string;
  authorizationWebhookCacheUnauthorizedTtl?: string;
}

export const ServerDefaults = {
  tokenWebhookCacheTtl: '2m',
  cacheAuthorizedTtl: '5m',
  cacheUnauthorizedTtl: '30s',
  streamingConnectionIdleTimeout: '4h',
} as const;

const AuthorizationModes = ['AlwaysAllow', 'Webhook'] as const;

export function resolveServingOptions(flags: ServerFlags, file: KubeletConfiguration | undefined, configPath: string | undefined, context: { clusterMode: boolean; address: string }): SecureServingOptions {
  const { clusterMode } = context;
  const from = <T>(flag: string, flagValue: T | undefined, field: string, fileValue: T | undefined, fallback: T): Setting<T> =>
    setting<T>({ flag, flagValue, field, fileValue, configPath }, fallback);

  const certFile = from('--tls-cert-file', flags.tlsCertFile, 'tlsCertFile', file?.tlsCertFile, undefined);
  const keyFile = from('--tls-private-key-file', flags.tlsPrivateKeyFile, 'tlsPrivateKeyFile', file?.tlsPrivateKeyFile, undefined);
  if ((certFile.value === undefined) !== (keyFile.value === undefined)) {
    throw (certFile.value === undefined ? keyFile : certFile).invalid('--tls-cert-file and --tls-private-key-file (tlsCertFile, tlsPrivateKeyFile) go together: give both or neither');
  }
  const minVersion = from('--tls-min-version', flags.tlsMinVersion, 'tlsMinVersion', file?.tlsMinVersion, '');
  const cipherSuites = from<string | readonly string[]>('--tls-cipher-suites', flags.tlsCipherSuites, 'tlsCipherSuites', file?.tlsCipherSuites, []);
  const suites = (typeof cipherSuites.value === 'string' ? cipherSuites.value.split(',') : cipherSuites.value).map((name) => name.trim()).filter(Boolean);
  const tls = { minVersion: minVersion.value, cipherSuites: suites };
  try {
    nodeTlsOptions({ minVersion: minVersion.value, cipherSuites: [] });
  } catch {
    throw minVersion.invalid(`must be one of ${TlsVersionNames.join(', ')}`);
  }
  try {
    nodeTlsOptions(tls);
  } catch (err) {
    throw cipherSuites.invalid(`${errorMessage(err)}; the names are Go's, such as ${CipherSuiteNames[10]}`);
  }

  const authn = file?.authentication;
  const clientCAFile = from('--client-ca-file', flags.clientCaFile, 'authentication.x509.clientCAFile', authn?.x509?.clientCAFile, undefined);
  const anonymousSetting = from<string | boolean>('--anonymous-auth', flags.anonymousAuth, 'authentication.anonymous.enabled', authn?.anonymous?.enabled, false);
  const anonymous = boolean(anonymousSetting);
  const tokenWebhook = from<string | boolean>('--authentication-token-webhook', flags.authenticationTokenWebhook, 'authentication.webhook.enabled', authn?.webhook?.enabled, clusterMode);
  const webhookEnabled = boolean(tokenWebhook);
  if (webhookEnabled && !clusterMode) throw tokenWebhook.invalid('needs --kubeconfig: tokens are checked by the API server');
  const authz = file?.authorization;
  const mode = from<string>('--authorization-mode', flags.authorizationMode, 'authorization.mode', authz?.mode, clusterMode ? 'Webhook' : 'AlwaysAllow');
  if (!(AuthorizationModes as readonly string[]).includes(mode.value)) throw mode.invalid(`must be one of ${AuthorizationModes.join(', ')}`);
  if (mode.value === 'Webhook' && !clusterMode) throw mode.invalid('Webhook needs --kubeconfig: access is checked by the API server');
  // Nothing that can exec or read logs is served to anyone who asks, off loopback.
  if (anonymous && mode.value === 'AlwaysAllow' && !isLoopbackAddress(context.address)) {
    throw anonymousSetting.invalid(`with authorization AlwaysAllow, anonymous requests on --address ${context.address} would let anyone who reaches it read logs and exec into pods: keep --address on loopback, or use --authorization-mode Webhook`);
  }

  return {
    ...(certFile.value !== undefined && keyFile.value !== undefined ? { tlsCertFile: certFile.value, tlsPrivateKeyFile: keyFile.value } : {}),
    tls,
    authentication: {
      ...(clientCAFile.value !== undefined ? { x509ClientCAFile: clientCAFile.value } : {}),
      webhook: {
        enabled: webhookEnabled,
        cacheTtlMs: ttlMs(from('--authentication-token-webhook-cache-ttl', flags.authenticationTokenWebhookCacheTtl, 'authentication.webhook.cacheTTL', authn?.webhook?.cacheTTL, ServerDefaults.tokenWebhookCacheTtl as string)),
      },
      anonymous,
    },
    streamingConnectionIdleTimeoutMs: durationMs(
      from('--streaming-connection-idle-timeout', flags.streamingConnectionIdleTimeout, 'streamingConnectionIdleTimeout', file?.streamingConnectionIdleTimeout, ServerDefaults.streamingConnectionIdleTimeout as string),
    ),
    authorization: {
      mode: mode.value as SecureServingOptions['authorization']['mode'],
      webhook: {
        cacheAuthorizedTtlMs: ttlMs(
          from('--authorization-webhook-cache-authorized-ttl', flags.authorizationWebhookCacheAuthorizedTtl, 'authorization.webhook.cacheAuthorizedTTL', authz?.webhook?.cacheAuthorizedTTL, ServerDefaults.cacheAuthorizedTtl as string),
        ),
        cacheUnauthorizedTtlMs: ttlMs(
          from('--authorization-webhook-cache-unauthorized-ttl', flags.authorizationWebhookCacheUnauthorizedTtl, 'authorization.webhook.cacheUnauthorizedTTL', authz?.webhook?.cacheUnauthorizedTTL, ServerDefaults.cacheUnauthorizedTtl as string),
        ),
      },
    },
  };
}
