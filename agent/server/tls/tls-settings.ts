/**
 * The kubelet's TLS settings (--tls-min-version, --tls-cipher-suites, their KubeletConfiguration
 * fields tlsMinVersion and tlsCipherSuites) as Node's TLS options. The names are Go's
 * (component-base's cli/flag/ciphersuites_flag.go: its preferred and insecure suites), and Node
 * speaks OpenSSL's, so each is mapped here. As in Go, the TLS 1.3 suites stay enabled whatever the
 * list says: a list of TLS 1.2 suites restricts TLS 1.2 only.
 */
import type { SecureVersion } from 'node:tls';

/** Go's suite name -> OpenSSL's. */
const CipherSuites: Readonly<Record<string, string>> = {
  TLS_RSA_WITH_3DES_EDE_CBC_SHA: 'DES-CBC3-SHA',
  TLS_RSA_WITH_AES_128_CBC_SHA: 'AES128-SHA',
  TLS_RSA_WITH_AES_256_CBC_SHA: 'AES256-SHA',
  TLS_RSA_WITH_AES_128_GCM_SHA256: 'AES128-GCM-SHA256',
  TLS_RSA_WITH_AES_256_GCM_SHA384: 'AES256-GCM-SHA384',
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA: 'ECDHE-ECDSA-AES128-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA: 'ECDHE-ECDSA-AES256-SHA',
  TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA: 'ECDHE-RSA-DES-CBC3-SHA',
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA: 'ECDHE-RSA-AES128-SHA',
  TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA: 'ECDHE-RSA-AES256-SHA',
  TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: 'ECDHE-RSA-AES128-GCM-SHA256',
  TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: 'ECDHE-ECDSA-AES128-GCM-SHA256',
  TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384: 'ECDHE-RSA-AES256-GCM-SHA384',
  TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384: 'ECDHE-ECDSA-AES256-GCM-SHA384',
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305: 'ECDHE-RSA-CHACHA20-POLY1305',
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305: 'ECDHE-ECDSA-CHACHA20-POLY1305',
  TLS_AES_128_GCM_SHA256: 'TLS_AES_128_GCM_SHA256',
  TLS_CHACHA20_POLY1305_SHA256: 'TLS_CHACHA20_POLY1305_SHA256',
  TLS_AES_256_GCM_SHA384: 'TLS_AES_256_GCM_SHA384',
  // Go's insecure suites, accepted by name as upstream accepts them; its RC4 ones are not, since
  // the OpenSSL 3 that Node links has no RC4.
  TLS_RSA_WITH_AES_128_CBC_SHA256: 'AES128-SHA256',
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256: 'ECDHE-ECDSA-AES128-SHA256',
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256: 'ECDHE-RSA-AES128-SHA256',
};

const TlsVersions: Readonly<Record<string, SecureVersion>> = {
  VersionTLS10: 'TLSv1',
  VersionTLS11: 'TLSv1.1',
  VersionTLS12: 'TLSv1.2',
  VersionTLS13: 'TLSv1.3',
};

const Tls13Suites = ['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256'];

export const TlsVersionNames = Object.keys(TlsVersions);
export const CipherSuiteNames = Object.keys(CipherSuites);

export interface TlsSettings {
  /** Go's name (VersionTLS12); empty for the default, TLS 1.2. */
  minVersion: string;
  /** Go's names; empty for Node's defaults. */
  cipherSuites: readonly string[];
}

/** Node's options for `settings`; throws an Error naming the first unknown name (the caller says which flag). */
export function nodeTlsOptions(settings: TlsSettings): { minVersion: SecureVersion; ciphers?: string } {
  const minVersion = settings.minVersion === '' ? 'TLSv1.2' : TlsVersions[settings.minVersion];
  if (!minVersion) throw new Error(`unknown TLS version ${JSON.stringify(settings.minVersion)}; one of ${TlsVersionNames.join(', ')}`);
  if (settings.cipherSuites.length === 0) return { minVersion };
  const openssl = settings.cipherSuites.map((name) => {
    const mapped = CipherSuites[name];
    if (!mapped) throw new Error(`cipher suite ${name} not supported or doesn't exist`);
    return mapped;
  });
  return { minVersion, ciphers: [...openssl, ...Tls13Suites.filter((name) => !openssl.includes(name))].join(':') };
}
