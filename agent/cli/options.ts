/**
 * Flags + KubeletConfiguration file + defaults -> one frozen KubeletOptions. Flags win over the
 * file, the file over the defaults. Every bad value is an error that names the flag or field.
 */
import { hostname } from 'node:os';
import { isIP } from 'node:net';
import { DockerletError } from '../api/errors.js';
import { parseQuantity } from '../api/quantity.js';
import { dnsSubdomain } from '../config/validation/names.js';
import type { KubeletOptions } from '../kubelet.js';
import { parseDuration } from '../util/duration.js';
import { loadKubeletConfig, type KubeletConfiguration } from './kubelet-config.js';

/** Agent flags as commander hands them over: strings, unset when not given. */
export interface AgentFlags {
  config?: string;
  podManifestPath?: string;
  manifestUrl?: string;
  manifestUrlHeader?: string[];
  hostnameOverride?: string;
  rootDir?: string;
  address?: string;
  port?: string;
  readOnlyPort?: string;
  fileCheckFrequency?: string;
  httpCheckFrequency?: string;
  syncFrequency?: string;
  nodeIp?: string;
  clusterDns?: string;
  clusterDomain?: string;
  resolvConf?: string;
  podInfraContainerImage?: string;
  podCidr?: string;
  podNetwork?: string;
  containerRuntimeEndpoint?: string;
  runtimeRequestTimeout?: string;
}

export const Defaults = {
  rootDir: '/var/lib/dockerlet',
  address: '127.0.0.1',
  port: 10250,
  readOnlyPort: 10255,
  fileCheckFrequency: '20s',
  httpCheckFrequency: '20s',
  syncFrequency: '1m',
  clusterDomain: 'cluster.local',
  resolvConf: '/etc/resolv.conf',
  podInfraContainerImage: 'dockerlet.local/pause:3.10',
  podCIDR: '10.244.0.0/16',
  podNetwork: 'dockerlet',
  containerRuntimeEndpoint: 'unix:///var/run/docker.sock',
  runtimeRequestTimeout: '2m',
  containerLogMaxSize: '10Mi',
  containerLogMaxFiles: 5,
  crashLoopBackOffMax: '300s',
} as const;

/** PLEG relists this often while Docker's event stream is up (events do the real work). */
const PlegRelistPeriodMs = 10_000;

function flagError(flag: string, value: unknown, expected: string): DockerletError {
  return new DockerletError('DKL_ERR_FLAG_INVALID', `${flag}: invalid value ${JSON.stringify(value)}: ${expected}`);
}

function durationMs(flag: string, text: string): number {
  const ms = parseDuration(text);
  if (ms === undefined || ms < 0) throw flagError(flag, text, 'must be a duration such as 20s, 1m or 1m30s');
  return ms;
}

function portNumber(flag: string, value: string | number): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw flagError(flag, value, 'must be a port number from 0 to 65535 (0 disables)');
  return port;
}

function ipList(flag: string, text: string | readonly string[] | undefined): string[] {
  const items = (typeof text === 'string' ? text.split(',') : (text ?? [])).map((item) => item.trim()).filter(Boolean);
  for (const item of items) if (isIP(item) === 0) throw flagError(flag, item, 'must be a comma-separated list of IP addresses');
  return items;
}

function cidr(flag: string, text: string): string {
  const match = /^(\d+\.\d+\.\d+\.\d+)\/(\d{1,2})$/.exec(text);
  if (!match || isIP(match[1]!) !== 4 || Number(match[2]) > 30 || Number(match[2]) < 8) {
    throw flagError(flag, text, 'must be an IPv4 CIDR from /8 to /30, such as 10.244.0.0/16');
  }
  return text;
}

/** --manifest-url-header 'a:hello,b:again' (repeatable) -> { a: [hello], b: [again] }. */
function urlHeaders(values: readonly string[] | undefined, fromConfig: Record<string, string[]> | undefined): Record<string, string[]> {
  if (!values || values.length === 0) return fromConfig ?? {};
  const headers: Record<string, string[]> = {};
  for (const value of values) {
    for (const pair of value.split(',')) {
      const colon = pair.indexOf(':');
      if (colon <= 0) throw flagError('--manifest-url-header', pair, "must be 'Name:value' pairs separated by commas");
      (headers[pair.slice(0, colon).trim()] ??= []).push(pair.slice(colon + 1).trim());
    }
  }
  return headers;
}

/** A Quantity such as 10Mi -> the byte count Docker's json-file max-size takes. */
function logMaxSize(text: string): string {
  const bytes = parseQuantity(text);
  if (bytes === undefined || bytes < 1024) throw flagError('containerLogMaxSize', text, 'must be a quantity of at least 1Ki, such as 10Mi');
  return String(Math.floor(bytes));
}

export interface ResolvedAgentOptions {
  options: KubeletOptions;
  /** Config file fields that were present but are not acted on. */
  ignoredConfigFields: string[];
}

export async function resolveAgentOptions(flags: AgentFlags): Promise<ResolvedAgentOptions> {
  const loaded = flags.config ? await loadKubeletConfig(flags.config) : undefined;
  const file: KubeletConfiguration | undefined = loaded?.config;
  const nodeName = (flags.hostnameOverride ?? hostname()).trim().toLowerCase();
  if (!dnsSubdomain.safeParse(nodeName).success) {
    throw flagError('--hostname-override', nodeName, 'must be a lowercase RFC 1123 subdomain, such as node-1');
  }
  const network = flags.podNetwork ?? Defaults.podNetwork;
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/.test(network)) throw flagError('--pod-network', network, 'must be a Docker network name');
  const staticPodPath = flags.podManifestPath ?? file?.staticPodPath;
  const staticPodURL = flags.manifestUrl ?? file?.staticPodURL;
  if (staticPodURL !== undefined && !/^https?:\/\//.test(staticPodURL)) {
    throw flagError('--manifest-url', staticPodURL, 'must be an http:// or https:// URL');
  }
  const endpoint = flags.containerRuntimeEndpoint ?? file?.containerRuntimeEndpoint ?? Defaults.containerRuntimeEndpoint;
  if (!endpoint.startsWith('unix://')) throw flagError('--container-runtime-endpoint', endpoint, 'must be a unix:// socket of a Docker engine');
  const address = flags.address ?? file?.address ?? Defaults.address;
  if (isIP(address) === 0) throw flagError('--address', address, 'must be an IP address');

  const options: KubeletOptions = {
    nodeName,
    rootDir: flags.rootDir ?? Defaults.rootDir,
    ...(staticPodPath ? { staticPodPath } : {}),
    ...(staticPodURL ? { staticPodURL } : {}),
    staticPodURLHeader: urlHeaders(flags.manifestUrlHeader, file?.staticPodURLHeader),
    fileCheckFrequencyMs: durationMs('--file-check-frequency', flags.fileCheckFrequency ?? file?.fileCheckFrequency ?? Defaults.fileCheckFrequency),
    httpCheckFrequencyMs: durationMs('--http-check-frequency', flags.httpCheckFrequency ?? file?.httpCheckFrequency ?? Defaults.httpCheckFrequency),
    syncFrequencyMs: durationMs('--sync-frequency', flags.syncFrequency ?? file?.syncFrequency ?? Defaults.syncFrequency),
    address,
    port: portNumber('--port', flags.port ?? file?.port ?? Defaults.port),
    readOnlyPort: portNumber('--read-only-port', flags.readOnlyPort ?? file?.readOnlyPort ?? Defaults.readOnlyPort),
    containerRuntimeEndpoint: endpoint,
    runtimeRequestTimeoutMs: durationMs('--runtime-request-timeout', flags.runtimeRequestTimeout ?? file?.runtimeRequestTimeout ?? Defaults.runtimeRequestTimeout),
    podInfraContainerImage: flags.podInfraContainerImage ?? Defaults.podInfraContainerImage,
    podCIDR: cidr('--pod-cidr', flags.podCidr ?? file?.podCIDR ?? Defaults.podCIDR),
    podNetworkName: network,
    podBridgeName: network === Defaults.podNetwork ? 'dockerlet0' : network.slice(0, 15),
    nodeIPs: ipList('--node-ip', flags.nodeIp),
    clusterDNS: ipList('--cluster-dns', flags.clusterDns ?? file?.clusterDNS),
    clusterDomain: flags.clusterDomain ?? file?.clusterDomain ?? Defaults.clusterDomain,
    resolvConf: flags.resolvConf ?? file?.resolvConf ?? Defaults.resolvConf,
    crashLoopBackOffMaxMs: durationMs(
      'crashLoopBackOff.maxContainerRestartPeriod',
      file?.crashLoopBackOff?.maxContainerRestartPeriod ?? Defaults.crashLoopBackOffMax,
    ),
    containerLogMaxSize: logMaxSize(file?.containerLogMaxSize ?? Defaults.containerLogMaxSize),
    containerLogMaxFiles: file?.containerLogMaxFiles ?? Defaults.containerLogMaxFiles,
    plegRelistPeriodMs: PlegRelistPeriodMs,
  };
  const backoffMax = options.crashLoopBackOffMaxMs;
  if (backoffMax < 1000 || backoffMax > 300_000) {
    throw flagError('crashLoopBackOff.maxContainerRestartPeriod', file?.crashLoopBackOff?.maxContainerRestartPeriod, 'must be from 1s to 300s');
  }
  return { options, ignoredConfigFields: loaded?.ignoredFields ?? [] };
}
