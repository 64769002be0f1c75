/**
 * Flags + KubeletConfiguration file + defaults -> one frozen KubeletOptions. Flags win over the
 * file, the file over the defaults. Every bad value is an error that names the flag or field.
 */
import { hostname } from 'node:os';
import { isIP } from 'node:net';
import { errorMessage } from '../common/api/errors.js';
import { SysctlAllowlist } from '../agent/admission/sysctls.js';
import { parseQuantity } from '../common/api/quantity.js';
import type { Taint } from '../common/api/types.js';
import { dnsSubdomain, isLabelValue, isQualifiedName } from '../agent/config/validation/names.js';
import type { ClusterOptions } from '../agent/node/cluster-node.js';
import type { KubeletOptions } from '../agent/kubelet-options.js';
import { loadKubeletConfig, TaintEffects, type KubeletConfiguration } from './kubelet-config.js';
import { resolveServingOptions, type ServerFlags } from './server-options.js';
import { DefaultEvictionHard, parseThresholds, ThresholdError } from '../agent/eviction/thresholds.js';
import { DefaultPodsCgroup, isValidPodsCgroup } from '../agent/qos/qos-cgroups.js';
import { parseDuration } from '../common/util/duration.js';
import { boolean, durationMs, flagError, ipv4CidrSetting, nonNegativeDurationMs, setting, type Setting } from './settings.js';

/** Agent flags as commander hands them over: strings, unset when not given. */
export interface AgentFlags extends ServerFlags {
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
  allowedHostPathPrefixes?: string;
  allowedUnsafeSysctls?: string;
  clusterDomain?: string;
  serveClusterDns?: string | boolean;
  resolvConf?: string;
  podInfraContainerImage?: string;
  podCidr?: string;
  podCidrFromNode?: string | boolean;
  podNetwork?: string;
  cgroupRoot?: string;
  containerRuntimeEndpoint?: string;
  runtimeRequestTimeout?: string;
  imagePullProgressDeadline?: string;
  kubeconfig?: string;
  nodeLabels?: string;
  registerWithTaints?: string;
  nodeStatusUpdateFrequency?: string;
  nodeRoutes?: string | boolean;
  maxPods?: string;
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
  cgroupRoot: DefaultPodsCgroup,
  containerRuntimeEndpoint: 'unix:///var/run/docker.sock',
  runtimeRequestTimeout: '2m',
  imagePullProgressDeadline: '1m',
  containerLogMaxSize: '10Mi',
  containerLogMaxFiles: 5,
  imageGCHighThresholdPercent: 85,
  imageGCLowThresholdPercent: 80,
  imageMinimumGCAge: '2m',
  imageMaximumGCAge: '0s',
  evictionPressureTransitionPeriod: '5m',
  crashLoopBackOffMax: '300s',
  nodeStatusUpdateFrequency: '10s',
  nodeStatusReportFrequency: '5m',
  nodeLeaseDurationSeconds: 40,
  maxPods: 110,
} as const;

/** The kubelet's evictionMonitoringPeriod: how often local storage limits and node pressure are checked. */
const EvictionMonitoringPeriodMs = 10_000;

/** The kubelet's ImageGCPeriod: how often images are looked at and collected. */
const ImageGCPeriodMs = 5 * 60_000;

/** PLEG relists this often while Docker's event stream is up (events do the real work). */
const PlegRelistPeriodMs = 10_000;

function portNumber({ value, invalid }: Setting<string | number>): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw invalid('must be a port number from 0 to 65535 (0 disables)');
  return port;
}

/** Absolute paths, comma-separated on the command line or a list in the config file. */
function absolutePaths({ value, invalid }: Setting<string | readonly string[] | undefined>): string[] {
  const items = (typeof value === 'string' ? value.split(',') : (value ?? [])).map((item) => item.trim()).filter(Boolean);
  for (const item of items) if (!item.startsWith('/')) throw invalid('must be absolute paths, comma-separated, such as /data,/srv', item);
  return items;
}

function ipList({ value, invalid }: Setting<string | readonly string[] | undefined>): string[] {
  const items = (typeof value === 'string' ? value.split(',') : (value ?? [])).map((item) => item.trim()).filter(Boolean);
  for (const item of items) if (isIP(item) === 0) throw invalid('must be a comma-separated list of IP addresses', item);
  return items;
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
function logMaxSize({ value, invalid }: Setting<string>): string {
  const bytes = parseQuantity(value);
  if (bytes === undefined || bytes < 1024) throw invalid('must be a quantity of at least 1Ki, such as 10Mi');
  return String(Math.floor(bytes));
}

/** --node-labels 'a=1,example.com/b=2' -> { a: '1', 'example.com/b': '2' }. */
function nodeLabels(value: string | undefined): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const pair of (value ?? '').split(',').map((item) => item.trim()).filter(Boolean)) {
    const equals = pair.indexOf('=');
    const key = equals === -1 ? pair : pair.slice(0, equals);
    const labelValue = equals === -1 ? '' : pair.slice(equals + 1);
    if (!isQualifiedName(key)) throw flagError('--node-labels', pair, "must be 'key=value' pairs separated by commas, each key a qualified name such as example.com/zone");
    if (!isLabelValue(labelValue)) {
      throw flagError('--node-labels', pair, 'a label value must be 63 characters or less: alphanumerics, -, _ or ., starting and ending with an alphanumeric');
    }
    labels[key] = labelValue;
  }
  return labels;
}

/** --register-with-taints 'key=value:Effect,key2:Effect' -> taints, as the kubelet parses them. */
function taints(value: string): Taint[] {
  return value
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean)
    .map((spec) => {
      const colon = spec.lastIndexOf(':');
      const effect = colon === -1 ? '' : spec.slice(colon + 1);
      const [key = '', taintValue] = spec.slice(0, colon === -1 ? spec.length : colon).split('=', 2);
      if (!(TaintEffects as readonly string[]).includes(effect) || !isQualifiedName(key)) {
        throw flagError('--register-with-taints', spec, `must be 'key=value:Effect' or 'key:Effect', the effect one of ${TaintEffects.join(', ')}`);
      }
      return { key, ...(taintValue !== undefined ? { value: taintValue } : {}), effect };
    });
}

/** allowedUnsafeSysctls: names or prefixes ending in *, each namespaced (comma-separated on the command line). */
function sysctlPatterns({ value, invalid }: Setting<string | readonly string[] | undefined>): string[] {
  const patterns = (typeof value === 'string' ? value.split(',') : (value ?? [])).map((item) => item.trim()).filter(Boolean);
  try {
    new SysctlAllowlist(patterns);
  } catch (err) {
    throw invalid(errorMessage(err), patterns);
  }
  return patterns;
}

/**
 * --pod-cidr, or with --pod-cidr-from-node none: the agent takes its Node's spec.podCIDR (cluster
 * mode), as the kubelet does in a cluster, rather than a subnet of its own.
 */
function podCidrOptions(flags: AgentFlags, file: KubeletConfiguration | undefined, configPath: string | undefined): Pick<KubeletOptions, 'podCIDR'> {
  const fromNodeSetting = setting<string | boolean>({ flag: '--pod-cidr-from-node', flagValue: flags.podCidrFromNode, field: 'podCIDRFromNode', fileValue: file?.podCIDRFromNode, configPath }, false);
  const podCidrSetting = setting<string>({ flag: '--pod-cidr', flagValue: flags.podCidr, field: 'podCIDR', fileValue: file?.podCIDR, configPath }, Defaults.podCIDR);
  if (!boolean(fromNodeSetting)) return { podCIDR: ipv4CidrSetting(podCidrSetting, Defaults.podCIDR) };
  if (!flags.kubeconfig) throw fromNodeSetting.invalid('needs --kubeconfig: the subnet comes from the Node the API server has');
  if (flags.podCidr !== undefined || file?.podCIDR !== undefined) throw fromNodeSetting.invalid('the pod subnet comes from the Node or from --pod-cidr (podCIDR), not both: drop one');
  return {};
}

/** --cgroup-root: the one cgroup every pod goes under (the kubelet's kubepods), so that agents side by side on a host never share one. */
function podsCgroup({ value, invalid }: Setting<string>): string {
  // The kubelet's default, the hierarchy's root ('/' or ''), is dockerlet's default; else one name below the root.
  const name = value.replace(/^\//, '') || (Defaults.cgroupRoot as string);
  if (!isValidPodsCgroup(name)) throw invalid("must be one cgroup name of letters, digits, '_', '.' and '-', such as dockerlet");
  return name;
}

function positiveInt({ value, invalid }: Setting<string | number>): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number < 1) throw invalid('must be a whole number of at least 1');
  return number;
}

/** The image GC policy from the config file, checked as the kubelet's validation checks it. */
function imageGCOptions(file: KubeletConfiguration | undefined, configPath: string | undefined): KubeletOptions['imageGC'] {
  const field = <K extends 'imageGCHighThresholdPercent' | 'imageGCLowThresholdPercent' | 'imageMinimumGCAge' | 'imageMaximumGCAge'>(name: K) =>
    setting<(typeof Defaults)[K]>({ field: name, fileValue: file?.[name] as (typeof Defaults)[K] | undefined, configPath }, Defaults[name]);
  const high = field('imageGCHighThresholdPercent');
  const low = field('imageGCLowThresholdPercent');
  const maximumAge = field('imageMaximumGCAge');
  const policy = {
    highThresholdPercent: high.value,
    lowThresholdPercent: low.value,
    minimumAgeMs: durationMs(field('imageMinimumGCAge')),
    maximumAgeMs: nonNegativeDurationMs(maximumAge, 'must be a duration such as 168h, or 0 to never remove images for their age'),
    periodMs: ImageGCPeriodMs,
  };
  if (policy.lowThresholdPercent >= policy.highThresholdPercent) {
    // Blamed on the one the file set: the low threshold when it set both.
    if (file?.imageGCLowThresholdPercent === undefined) throw high.invalid(`must be greater than imageGCLowThresholdPercent (${policy.lowThresholdPercent})`);
    throw low.invalid(`must be less than imageGCHighThresholdPercent (${policy.highThresholdPercent})`);
  }
  if (policy.maximumAgeMs > 0 && policy.maximumAgeMs <= policy.minimumAgeMs) {
    throw maximumAge.invalid('must be greater than imageMinimumGCAge, or 0 to never remove images for their age');
  }
  return policy;
}

/** Node-pressure eviction's thresholds from the config file: evictionHard replaces the kubelet's defaults when set, as upstream's defaulting does. */
function evictionOptions(file: KubeletConfiguration | undefined, configPath: string | undefined): KubeletOptions['eviction'] {
  const transition = setting<string>({ field: 'evictionPressureTransitionPeriod', fileValue: file?.evictionPressureTransitionPeriod, configPath }, Defaults.evictionPressureTransitionPeriod);
  const graceMs = Object.fromEntries(Object.entries(file?.evictionSoftGracePeriod ?? {}).map(([signal, text]) => [signal, parseDuration(text) ?? 0]));
  try {
    return {
      thresholds: parseThresholds({
        evictionHard: file?.evictionHard ?? DefaultEvictionHard,
        evictionSoft: file?.evictionSoft ?? {},
        evictionSoftGracePeriodMs: graceMs,
        evictionMinimumReclaim: file?.evictionMinimumReclaim ?? {},
      }),
      pressureTransitionPeriodMs: durationMs(transition),
      maxPodGracePeriodSeconds: file?.evictionMaxPodGracePeriod ?? 0,
    };
  } catch (err) {
    if (!(err instanceof ThresholdError)) throw err;
    throw setting<string>({ field: err.field, fileValue: err.value, configPath }, err.value).invalid(err.message);
  }
}

/** The cluster-mode settings, when --kubeconfig is given. */
function clusterOptions(flags: AgentFlags, file: KubeletConfiguration | undefined, configPath: string | undefined): ClusterOptions | undefined {
  if (!flags.kubeconfig) return undefined;
  const duration = (flag: string | undefined, flagValue: string | undefined, field: 'nodeStatusUpdateFrequency' | 'nodeStatusReportFrequency', fallback: string): number =>
    durationMs(setting({ ...(flag ? { flag } : {}), flagValue, field, fileValue: file?.[field], configPath }, fallback));
  const updateMs = duration('--node-status-update-frequency', flags.nodeStatusUpdateFrequency, 'nodeStatusUpdateFrequency', Defaults.nodeStatusUpdateFrequency);
  const lease = setting<string | number>({ field: 'nodeLeaseDurationSeconds', fileValue: file?.nodeLeaseDurationSeconds, configPath }, Defaults.nodeLeaseDurationSeconds);
  return {
    kubeconfig: flags.kubeconfig,
    nodeLabels: nodeLabels(flags.nodeLabels),
    registerWithTaints: flags.registerWithTaints !== undefined ? taints(flags.registerWithTaints) : (file?.registerWithTaints ?? []),
    nodeStatusUpdateFrequencyMs: updateMs,
    // The kubelet reports at least as often as it computes.
    nodeStatusReportFrequencyMs: Math.max(updateMs, duration(undefined, undefined, 'nodeStatusReportFrequency', Defaults.nodeStatusReportFrequency)),
    nodeLeaseDurationSeconds: positiveInt(lease),
    nodeRoutes: boolean(setting<string | boolean>({ flag: '--node-routes', flagValue: flags.nodeRoutes, field: 'nodeRoutes', fileValue: file?.nodeRoutes, configPath }, false)),
  };
}

export interface ResolvedAgentOptions {
  options: KubeletOptions;
  /** Config file fields that were present but are not acted on. */
  ignoredConfigFields: string[];
  /** The settings that decide the cluster DNS (cli/dns-options.ts), to report a bad one by its flag or field. */
  clusterDnsSettings: { serve: Setting<string | boolean | undefined>; clusterDNS: Setting<readonly string[]> };
}

/** The node's name: --hostname-override, or the host name, lowercased (the kubelet's and kube-proxy's). */
export function resolveNodeName(hostnameOverride: string | undefined): string {
  const nodeName = (hostnameOverride ?? hostname()).trim().toLowerCase();
  if (!dnsSubdomain.safeParse(nodeName).success) {
    const expected = 'must be a lowercase RFC 1123 subdomain, such as node-1';
    throw flagError('--hostname-override', nodeName, hostnameOverride === undefined ? `the host name is no node name: ${expected}; give --hostname-override` : expected);
  }
  return nodeName;
}

export async function resolveAgentOptions(flags: AgentFlags): Promise<ResolvedAgentOptions> {
  const loaded = flags.config ? await loadKubeletConfig(flags.config) : undefined;
  const file: KubeletConfiguration | undefined = loaded?.config;
  const configPath = flags.config;
  const nodeName = resolveNodeName(flags.hostnameOverride);
  const network = flags.podNetwork ?? Defaults.podNetwork;
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/.test(network)) throw flagError('--pod-network', network, 'must be a Docker network name');
  const staticPodPath = flags.podManifestPath ?? file?.staticPodPath;
  const manifestUrl = setting<string | undefined>(
    { flag: '--manifest-url', flagValue: flags.manifestUrl, field: 'staticPodURL', fileValue: file?.staticPodURL, configPath },
    undefined,
  );
  const staticPodURL = manifestUrl.value;
  if (staticPodURL !== undefined && !/^https?:\/\//.test(staticPodURL)) throw manifestUrl.invalid('must be an http:// or https:// URL');
  const endpointSetting = setting(
    {
      flag: '--container-runtime-endpoint',
      flagValue: flags.containerRuntimeEndpoint,
      field: 'containerRuntimeEndpoint',
      fileValue: file?.containerRuntimeEndpoint,
      configPath,
    },
    Defaults.containerRuntimeEndpoint as string,
  );
  const endpoint = endpointSetting.value;
  if (!endpoint.startsWith('unix://')) throw endpointSetting.invalid('must be a unix:// socket of a Docker engine');
  const addressSetting = setting({ flag: '--address', flagValue: flags.address, field: 'address', fileValue: file?.address, configPath }, Defaults.address as string);
  const address = addressSetting.value;
  if (isIP(address) === 0) throw addressSetting.invalid('must be an IP address');
  const duration = (flag: string, flagValue: string | undefined, field: keyof KubeletConfiguration, fallback: string): number =>
    durationMs(setting({ flag, flagValue, field, fileValue: file?.[field] as string | undefined, configPath }, fallback));
  const crashLoopBackOffMax = setting<string>(
    { field: 'crashLoopBackOff.maxContainerRestartPeriod', fileValue: file?.crashLoopBackOff?.maxContainerRestartPeriod, configPath },
    Defaults.crashLoopBackOffMax,
  );

  const clusterDnsSetting = setting<string | readonly string[] | undefined>(
    { flag: '--cluster-dns', flagValue: flags.clusterDns, field: 'clusterDNS', fileValue: file?.clusterDNS, configPath },
    undefined,
  );
  const options: KubeletOptions = {
    nodeName,
    rootDir: flags.rootDir ?? Defaults.rootDir,
    ...(staticPodPath ? { staticPodPath } : {}),
    ...(staticPodURL ? { staticPodURL } : {}),
    staticPodURLHeader: urlHeaders(flags.manifestUrlHeader, file?.staticPodURLHeader),
    fileCheckFrequencyMs: duration('--file-check-frequency', flags.fileCheckFrequency, 'fileCheckFrequency', Defaults.fileCheckFrequency),
    httpCheckFrequencyMs: duration('--http-check-frequency', flags.httpCheckFrequency, 'httpCheckFrequency', Defaults.httpCheckFrequency),
    syncFrequencyMs: duration('--sync-frequency', flags.syncFrequency, 'syncFrequency', Defaults.syncFrequency),
    address,
    port: portNumber(setting<string | number>({ flag: '--port', flagValue: flags.port, field: 'port', fileValue: file?.port, configPath }, Defaults.port)),
    serving: resolveServingOptions(flags, file, configPath, { clusterMode: flags.kubeconfig !== undefined, address }),
    readOnlyPort: portNumber(
      // As the kubelet: 10255 is the flag's default; a KubeletConfiguration that does not set it has none.
      setting<string | number>({ flag: '--read-only-port', flagValue: flags.readOnlyPort, field: 'readOnlyPort', fileValue: file?.readOnlyPort, configPath }, file ? 0 : Defaults.readOnlyPort),
    ),
    containerRuntimeEndpoint: endpoint,
    runtimeRequestTimeoutMs: duration('--runtime-request-timeout', flags.runtimeRequestTimeout, 'runtimeRequestTimeout', Defaults.runtimeRequestTimeout),
    imagePullProgressDeadlineMs: durationMs(setting({ flag: '--image-pull-progress-deadline', flagValue: flags.imagePullProgressDeadline }, Defaults.imagePullProgressDeadline as string)),
    podInfraContainerImage: flags.podInfraContainerImage ?? Defaults.podInfraContainerImage,
    ...podCidrOptions(flags, file, configPath),
    podNetworkName: network,
    podBridgeName: network === Defaults.podNetwork ? 'dockerlet0' : network.slice(0, 15),
    nodeIPs: ipList(setting<string | undefined>({ flag: '--node-ip', flagValue: flags.nodeIp }, undefined)),
    maxPods: positiveInt(setting<string | number>({ flag: '--max-pods', flagValue: flags.maxPods, field: 'maxPods', fileValue: file?.maxPods, configPath }, Defaults.maxPods)),
    allowedUnsafeSysctls: sysctlPatterns(
      setting<string | readonly string[] | undefined>(
        { flag: '--allowed-unsafe-sysctls', flagValue: flags.allowedUnsafeSysctls, field: 'allowedUnsafeSysctls', fileValue: file?.allowedUnsafeSysctls, configPath },
        undefined,
      ),
    ),
    allowedHostPathPrefixes: absolutePaths(
      setting<string | readonly string[] | undefined>(
        { flag: '--allowed-host-path-prefixes', flagValue: flags.allowedHostPathPrefixes, field: 'allowedHostPathPrefixes', fileValue: file?.allowedHostPathPrefixes, configPath },
        undefined,
      ),
    ),
    evictionMonitoringPeriodMs: EvictionMonitoringPeriodMs,
    imageGC: imageGCOptions(file, configPath),
    eviction: evictionOptions(file, configPath),
    clusterDNS: ipList(clusterDnsSetting),
    clusterDomain: flags.clusterDomain ?? file?.clusterDomain ?? Defaults.clusterDomain,
    resolvConf: flags.resolvConf ?? file?.resolvConf ?? Defaults.resolvConf,
    crashLoopBackOffMaxMs: durationMs(crashLoopBackOffMax),
    containerLogMaxSize: logMaxSize(setting<string>({ field: 'containerLogMaxSize', fileValue: file?.containerLogMaxSize, configPath }, Defaults.containerLogMaxSize)),
    containerLogMaxFiles: file?.containerLogMaxFiles ?? Defaults.containerLogMaxFiles,
    plegRelistPeriodMs: PlegRelistPeriodMs,
    podsCgroup: podsCgroup(setting<string>({ flag: '--cgroup-root', flagValue: flags.cgroupRoot, field: 'cgroupRoot', fileValue: file?.cgroupRoot, configPath }, Defaults.cgroupRoot as string)),
  };
  const cluster = clusterOptions(flags, file, configPath);
  if (cluster) options.cluster = cluster;
  const backoffMax = options.crashLoopBackOffMaxMs;
  if (backoffMax < 1000 || backoffMax > 300_000) throw crashLoopBackOffMax.invalid('must be from 1s to 300s');
  const clusterDnsSettings = {
    serve: setting<string | boolean | undefined>({ flag: '--serve-cluster-dns', flagValue: flags.serveClusterDns, field: 'serveClusterDNS', fileValue: file?.serveClusterDNS, configPath }, undefined),
    clusterDNS: { value: options.clusterDNS, invalid: clusterDnsSetting.invalid },
  };
  return { options, ignoredConfigFields: loaded?.ignoredFields ?? [], clusterDnsSettings };
}
