/**
 * What each command runs, until SIGINT or SIGTERM: `agent` the kubelet; `up` the kubelet and the
 * service proxy in one process, printing pods and services as they come up; `proxy` the service
 * proxy alone, its Services from the manifest sources and its pods from an agent's read-only
 * API. With --kubeconfig the proxy takes Services and endpoints from the API server instead
 * (`up` with --proxy-kubeconfig, when the node's own credentials may not list endpoints).
 * Pods, containers and datapath rules are left in place on exit: a restarted process takes
 * them over. Returns the exit code: 0 clean shutdown, 1 runtime error, 2 bad flags or config.
 */
import { mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { isAbsolute } from 'node:path';
import type { Logger } from 'pino';
import { DockerletError, errorMessage, isDockerletError } from '../common/api/errors.js';
import { KubeClient } from '../common/kube-api/kube-client.js';
import { parseDuration } from '../common/util/duration.js';
import { userAgent } from '../common/version.js';
import { DefaultSessionsDir, reapDeadSessions } from '../library/sessions.js';
import { LocalProvisioner } from '../provisioner/local-provisioner.js';
import type { ProxyConfig } from '../proxy/config/proxy-config.js';
import { cleanupProxy } from '../proxy/proxy.js';
import { createLogger, type LoggingFormat } from './logger.js';
import { assembleNode, prepareNode, type DockerletNode, type NodeOptions } from './node.js';
import { resolveClusterDns } from './dns-options.js';
import { resolveUpOptions } from './up-options.js';
import { Defaults, resolveAgentOptions, resolveNodeName, type AgentFlags } from './options.js';
import { flagError, ipv4CidrSetting, setting } from './settings.js';
import { podSummaryLine } from './pod-summary.js';
import { resolveProxyOptions, type ProxyFlags } from './proxy-options.js';
import { serviceSummaryLines } from './service-summary.js';

export interface CommonFlags {
  loggingFormat: LoggingFormat;
  v: string;
}

export interface StandaloneProxyFlags extends ProxyFlags {
  kubeconfig?: string;
  serveClusterDns?: string | boolean;
  clusterDomain?: string;
  resolvConf?: string;
  podManifestPath?: string;
  manifestUrl?: string;
  rootDir?: string;
  clusterCidr?: string;
  kubeletUrl?: string;
  hostnameOverride?: string;
  cleanup?: boolean;
}

export interface LocalProvisionerFlags {
  kubeconfig?: string;
  nodeName?: string;
  volumeDir: string;
}

const exitCode = (err: unknown): number => (isDockerletError(err) && err.status === 2 ? 2 : 1);

async function logger(flags: CommonFlags): Promise<Logger | number> {
  const verbosity = Number(flags.v);
  if (!Number.isInteger(verbosity) || verbosity < 0) {
    console.error(`--v: invalid value ${JSON.stringify(flags.v)}: must be a non-negative integer`);
    return 2;
  }
  return createLogger(flags.loggingFormat, verbosity);
}

/** Resolves with 0 once SIGINT or SIGTERM has stopped everything; a second signal exits at once. */
function untilSignal(log: Logger, stop: () => Promise<void>, leftInPlace = 'running pods and service rules are left in place'): Promise<number> {
  return new Promise((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (stopping) process.exit(1);
      stopping = true;
      log.info({ signal }, `stopping; ${leftInPlace}`);
      void stop().then(() => resolve(0));
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  });
}

/** Prints each service line once it appears or changes. */
function printServices(config: ProxyConfig): void {
  const printed = new Set<string>();
  config.onChange(() => {
    for (const line of serviceSummaryLines(config.services())) {
      if (!printed.has(line)) console.log(line);
      printed.add(line);
    }
  });
}

/**
 * Prepares, assembles and starts the node; on failure stops what started and returns the exit
 * code. SIGINT and SIGTERM stop it from the moment it is assembled (it may wait long for its
 * container runtime); `exited` resolves with the exit code once they have.
 */
async function startNode(
  options: NodeOptions,
  log: Logger,
  beforeStart: (node: DockerletNode) => void = () => undefined,
): Promise<{ node: DockerletNode; running: boolean; exited: Promise<number> } | number> {
  let node: DockerletNode;
  // What test processes that died left (library/sessions.ts) goes first: its pod networks and service addresses may be in the way.
  await reapDeadSessions(DefaultSessionsDir, log).catch((err: unknown) => log.warn({ err }, 'could not look for dead test sessions'));
  try {
    if (options.agent?.cluster) log.info({ kubeconfig: options.agent.cluster.kubeconfig, node: options.agent.nodeName }, 'joining the cluster');
    node = assembleNode(options, await prepareNode(options), { logger: log });
  } catch (err) {
    log.error({ err }, 'dockerlet could not start');
    console.error(`dockerlet: ${errorMessage(err)}`);
    return exitCode(err);
  }
  beforeStart(node);
  const exited = untilSignal(log, () => node.stop());
  try {
    return { node, running: await node.start(), exited };
  } catch (err) {
    log.error({ err }, 'dockerlet could not start');
    console.error(`dockerlet: ${errorMessage(err)}`);
    await node.stop();
    return exitCode(err);
  }
}

/** `dockerlet agent`'s node: the agent alone. */
async function agentOnlyOptions(flags: AgentFlags, log: Logger): Promise<{ options: NodeOptions; ignoredConfigFields: string[] }> {
  const resolved = await resolveAgentOptions(flags);
  if (resolved.clusterDnsSettings.serve.value !== undefined) log.warn('serveClusterDNS: `dockerlet agent` runs no cluster DNS (`dockerlet up` or `dockerlet proxy --serve-cluster-dns` do); the field is not acted on');
  return { options: { agent: resolved.options }, ignoredConfigFields: resolved.ignoredConfigFields };
}

/** `dockerlet agent` (withProxy false) and `dockerlet up` (withProxy true, and a line per pod and service). */
export async function runAgent(flags: AgentFlags & ProxyFlags & CommonFlags & { proxyKubeconfig?: string }, withProxy: boolean): Promise<number> {
  const log = await logger(flags);
  if (typeof log === 'number') return log;
  let options: NodeOptions;
  try {
    const resolved = withProxy ? await resolveUpOptions(flags, log) : await agentOnlyOptions(flags, log);
    if (resolved.ignoredConfigFields.length > 0) {
      log.warn({ fields: resolved.ignoredConfigFields }, `--config: dockerlet does not act on these fields: ${resolved.ignoredConfigFields.join(', ')}`);
    }
    options = resolved.options;
  } catch (err) {
    console.error(`dockerlet: ${errorMessage(err)}`);
    return exitCode(err);
  }
  const started = await startNode(options, log, (assembled) => {
    if (!withProxy) return;
    assembled.kubelet?.statuses.onChange((pod, status, previous) => {
      const line = podSummaryLine(pod, status, previous);
      if (line) console.log(line);
    });
    if (assembled.proxy) printServices(assembled.proxy.config);
  });
  if (typeof started === 'number') return started;
  const { node, running, exited } = started;
  if (withProxy && running) {
    const { port, readOnlyPort } = node.kubelet?.listening ?? {};
    const api = readOnlyPort ?? port;
    console.log(
      `dockerlet is running on node ${options.agent?.nodeName}: pods ${api ? `${api}/pods` : '(no kubelet API)'}, services ${node.proxy?.listening ?? '(no proxy API)'}; Ctrl-C stops it (pods keep running)`,
    );
  }
  return exited;
}

/** `dockerlet proxy`: the service proxy alone (or --cleanup: remove its rules and exit). */
export async function runProxy(flags: StandaloneProxyFlags & CommonFlags): Promise<number> {
  const log = await logger(flags);
  if (typeof log === 'number') return log;
  let options: NodeOptions;
  try {
    const kubeletUrl = flags.kubeletUrl ?? `http://127.0.0.1:${Defaults.readOnlyPort}`;
    if (!/^https?:\/\//.test(kubeletUrl)) throw flagError('--kubelet-url', kubeletUrl, 'must be an http:// URL');
    if (flags.kubeconfig && (flags.podManifestPath || flags.manifestUrl || flags.kubeletUrl)) {
      throw new DockerletError('DKL_ERR_FLAG_INVALID', '--kubeconfig: Services and endpoints come from the API server; drop --pod-manifest-path, --manifest-url and --kubelet-url');
    }
    const podCIDR = ipv4CidrSetting(setting({ flag: '--cluster-cidr', flagValue: flags.clusterCidr }, Defaults.podCIDR as string), Defaults.podCIDR);
    if (flags.hostnameOverride !== undefined && !flags.kubeconfig) {
      throw flagError('--hostname-override', flags.hostnameOverride, "only with --kubeconfig: a standalone node's endpoints are all its own");
    }
    const proxyOptions = await resolveProxyOptions(flags, { rootDir: flags.rootDir ?? Defaults.rootDir, podCIDR });
    if (flags.cleanup) {
      await cleanupProxy(proxyOptions, log);
      log.info('removed the proxy rules, addresses and state of this host');
      return 0;
    }
    if (flags.kubeconfig) proxyOptions.nodeName = resolveNodeName(flags.hostnameOverride);
    const dns = await resolveClusterDns(
      {
        serve: setting({ flag: '--serve-cluster-dns', flagValue: flags.serveClusterDns }, undefined),
        serveByDefault: 'never',
        clusterDNS: setting<readonly string[]>({}, []),
        podCIDR,
        serviceCIDR: proxyOptions.serviceCIDR,
        domain: flags.clusterDomain ?? Defaults.clusterDomain,
        resolvConf: flags.resolvConf ?? Defaults.resolvConf,
      },
      log,
    );
    if (dns.server) proxyOptions.clusterDns = dns.server;
    const checkFrequencyMs = parseDuration(Defaults.fileCheckFrequency)!;
    const sources = {
      // Static pod names do not matter here: only the Services are taken.
      nodeName: hostname().toLowerCase(),
      ...(flags.podManifestPath ? { staticPodPath: flags.podManifestPath } : {}),
      ...(flags.manifestUrl ? { staticPodURL: flags.manifestUrl } : {}),
      staticPodURLHeader: {},
      fileCheckFrequencyMs: checkFrequencyMs,
      httpCheckFrequencyMs: checkFrequencyMs,
    };
    const feed = flags.kubeconfig ? ({ from: 'api', kubeconfig: { path: flags.kubeconfig, flag: '--kubeconfig' } } as const) : ({ from: 'manifests', sources, kubeletUrl } as const);
    options = { proxy: { options: proxyOptions, feed } };
  } catch (err) {
    console.error(`dockerlet: ${errorMessage(err)}`);
    return exitCode(err);
  }
  const started = await startNode(options, log);
  return typeof started === 'number' ? started : started.exited;
}

/** `dockerlet local-provisioner`: local PersistentVolumes for the claims the scheduler puts on this node, until SIGINT or SIGTERM. */
export async function runLocalProvisioner(flags: LocalProvisionerFlags & CommonFlags): Promise<number> {
  const log = await logger(flags);
  if (typeof log === 'number') return log;
  let provisioner: LocalProvisioner;
  try {
    if (!flags.kubeconfig) throw new DockerletError('DKL_ERR_FLAG_INVALID', '--kubeconfig: required: the provisioner\'s credentials (ClusterRole system:persistent-volume-provisioner)');
    if (!isAbsolute(flags.volumeDir)) throw flagError('--volume-dir', flags.volumeDir, 'must be an absolute path');
    const nodeName = (flags.nodeName ?? hostname()).trim().toLowerCase();
    const client = await KubeClient.fromKubeconfig(flags.kubeconfig, userAgent('dockerlet-local-provisioner'));
    await mkdir(flags.volumeDir, { recursive: true, mode: 0o711 });
    provisioner = new LocalProvisioner({ client, nodeName, path: flags.volumeDir, logger: log });
  } catch (err) {
    console.error(`dockerlet: ${errorMessage(err)}`);
    return exitCode(err);
  }
  const exited = untilSignal(log, () => provisioner.stop(), 'provisioned volumes and their data are left in place');
  await provisioner.start();
  return exited;
}
