/**
 * What each command runs, until SIGINT or SIGTERM: `agent` the kubelet; `up` the kubelet and the
 * service proxy in one process, printing pods and services as they come up; `proxy` the service
 * proxy alone, its Services from the manifest sources and its pods from an agent's read-only
 * API. With --kubeconfig the proxy takes Services and endpoints from the API server instead
 * (`up` with --proxy-kubeconfig, when the node's own credentials may not list endpoints).
 * Pods, containers and datapath rules are left in place on exit: a restarted process takes
 * them over. Returns the exit code: 0 clean shutdown, 1 runtime error, 2 bad flags or config.
 */
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { DockerletError, errorMessage, isDockerletError } from '../common/api/errors.js';
import { namespacedName } from '../common/api/types.js';
import type { PodSource } from '../common/api/well-known.js';
import type { ManifestObjects } from '../agent/config/read-manifest.js';
import { FileSource } from '../agent/config/sources/file-source.js';
import { HttpSource } from '../agent/config/sources/http-source.js';
import type { PodSourceRunner } from '../agent/config/sources/source.js';
import { KubeClient } from '../common/kube-api/kube-client.js';
import { Kubelet, type KubeletOptions } from '../agent/kubelet.js';
import { parseDuration } from '../common/util/duration.js';
import { userAgent } from '../common/version.js';
import { KubeletApiPodFeed, localPodFeed } from '../proxy/config/pod-feed.js';
import { serviceLookupOf, type ProxyConfig } from '../proxy/config/proxy-config.js';
import { apiProxyConfig, cleanupProxy, manifestProxyConfig, ServiceProxyNode, type ProxyOptions } from '../proxy/proxy.js';
import { createLogger, type LoggingFormat } from './logger.js';
import { Defaults, resolveAgentOptions, type AgentFlags } from './options.js';
import { podSummaryLine } from './pod-summary.js';
import { resolveProxyOptions, type ProxyFlags } from './proxy-options.js';
import { serviceSummaryLines } from './service-summary.js';

export interface CommonFlags {
  loggingFormat: LoggingFormat;
  v: string;
}

export interface StandaloneProxyFlags extends ProxyFlags {
  kubeconfig?: string;
  podManifestPath?: string;
  manifestUrl?: string;
  rootDir?: string;
  clusterCidr?: string;
  kubeletUrl?: string;
  cleanup?: boolean;
}

const exitCode = (err: unknown): number => (isDockerletError(err) && err.status === 2 ? 2 : 1);

function logger(flags: CommonFlags): Logger | number {
  const verbosity = Number(flags.v);
  if (!Number.isInteger(verbosity) || verbosity < 0) {
    console.error(`--v: invalid value ${JSON.stringify(flags.v)}: must be a non-negative integer`);
    return 2;
  }
  return createLogger(flags.loggingFormat, verbosity);
}

/** Resolves with 0 once SIGINT or SIGTERM has stopped everything; a second signal exits at once. */
function untilSignal(log: Logger, stop: () => Promise<void>): Promise<number> {
  return new Promise((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (stopping) process.exit(1);
      stopping = true;
      log.info({ signal }, 'stopping; running pods and service rules are left in place');
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

/** The proxy's config in cluster mode: the API server of `kubeconfig`, as the proxy's own client. */
async function clusterProxyConfig(options: ProxyOptions, kubeconfig: string, log: Logger): Promise<ProxyConfig> {
  return apiProxyConfig(options, await KubeClient.fromKubeconfig(kubeconfig, userAgent('dockerlet-proxy')), log);
}

/** `dockerlet agent` (withProxy false) and `dockerlet up` (withProxy true, and a line per pod and service). */
export async function runAgent(flags: AgentFlags & ProxyFlags & CommonFlags & { proxyKubeconfig?: string }, withProxy: boolean): Promise<number> {
  const log = logger(flags);
  if (typeof log === 'number') return log;
  let kubelet: Kubelet;
  let proxy: ServiceProxyNode | undefined;
  try {
    const resolved = await resolveAgentOptions(flags);
    if (resolved.ignoredConfigFields.length > 0) {
      log.warn({ fields: resolved.ignoredConfigFields }, `--config: dockerlet does not act on these fields: ${resolved.ignoredConfigFields.join(', ')}`);
    }
    const options = resolved.options;
    if (flags.proxyKubeconfig && !(withProxy && options.cluster)) {
      throw new DockerletError('DKL_ERR_FLAG_INVALID', '--proxy-kubeconfig: only `dockerlet up` with --kubeconfig runs a proxy that reads the API server');
    }
    // A standalone node's service links come from its proxy's Services; a cluster node's from the API server.
    const standaloneProxy = withProxy && !options.cluster;
    kubelet = new Kubelet(options, { logger: log, ...(standaloneProxy ? { services: { servicesIn: (namespace) => serviceLookupOf(proxy!.config).servicesIn(namespace) } } : {}) });
    if (withProxy) {
      const proxyOptions = await resolveProxyOptions(flags, { rootDir: options.rootDir, podCIDR: options.podCIDR, sources: sourcesOf(options) });
      if (options.cluster) {
        proxy = new ServiceProxyNode(proxyOptions, { config: await clusterProxyConfig(proxyOptions, flags.proxyKubeconfig ?? options.cluster.kubeconfig, log), logger: log });
        kubelet.onManifestObjects(manifestServicesWarning(log));
      } else {
        const config = manifestProxyConfig(proxyOptions, localPodFeed(kubelet), log);
        proxy = new ServiceProxyNode(proxyOptions, { config, logger: log });
        kubelet.onManifestObjects((source, objects) => void config.registry.set(source, objects.services));
      }
    }
  } catch (err) {
    console.error(`dockerlet: ${errorMessage(err)}`);
    return exitCode(err);
  }
  if (withProxy) {
    kubelet.statuses.onChange((pod, status, previous) => {
      const line = podSummaryLine(pod, status, previous);
      if (line) console.log(line);
    });
    printServices(proxy!.config);
  }
  try {
    await kubelet.start();
    await proxy?.start();
  } catch (err) {
    log.error({ err }, 'dockerlet could not start');
    console.error(`dockerlet: ${errorMessage(err)}`);
    await proxy?.stop();
    await kubelet.stop();
    return exitCode(err);
  }
  if (withProxy) {
    const { port, readOnlyPort } = kubelet.listening;
    const api = readOnlyPort ?? port;
    console.log(
      `dockerlet is running on node ${kubelet.options.nodeName}: pods ${api ? `${api}/pods` : '(no kubelet API)'}, services ${proxy!.listening ?? '(no proxy API)'}; Ctrl-C stops it (pods keep running)`,
    );
  }
  return untilSignal(log, async () => {
    await proxy?.stop();
    await kubelet.stop();
  });
}

/** In cluster mode Services are the API server's: a manifest's are not served, and the user is told once for each set a source holds. */
function manifestServicesWarning(log: Logger): (source: PodSource, objects: ManifestObjects) => void {
  const warned = new Map<PodSource, string>();
  return (source, objects) => {
    const names = objects.services.map(namespacedName);
    if (names.length === 0 || warned.get(source) === names.join(',')) return;
    warned.set(source, names.join(','));
    log.warn({ source, services: names }, 'Services in manifests are not served in cluster mode: the proxy serves the API server\'s Services; create them there (kubectl apply)');
  };
}

function sourcesOf(options: Pick<KubeletOptions, 'staticPodPath' | 'staticPodURL'>): PodSource[] {
  return [...(options.staticPodPath ? (['file'] as const) : []), ...(options.staticPodURL ? (['http'] as const) : [])];
}

/** `dockerlet proxy`: the service proxy alone (or --cleanup: remove its rules and exit). */
export async function runProxy(flags: StandaloneProxyFlags & CommonFlags): Promise<number> {
  const log = logger(flags);
  if (typeof log === 'number') return log;
  const rootDir = flags.rootDir ?? Defaults.rootDir;
  const sources: PodSourceRunner[] = [];
  let node: ServiceProxyNode;
  try {
    const kubeletUrl = flags.kubeletUrl ?? `http://127.0.0.1:${Defaults.readOnlyPort}`;
    if (!/^https?:\/\//.test(kubeletUrl)) {
      throw new DockerletError('DKL_ERR_FLAG_INVALID', `--kubelet-url: invalid value ${JSON.stringify(kubeletUrl)}: must be an http:// URL`);
    }
    if (flags.kubeconfig && (flags.podManifestPath || flags.manifestUrl || flags.kubeletUrl)) {
      throw new DockerletError('DKL_ERR_FLAG_INVALID', '--kubeconfig: Services and endpoints come from the API server; drop --pod-manifest-path, --manifest-url and --kubelet-url');
    }
    const options = await resolveProxyOptions(flags, {
      rootDir,
      podCIDR: flags.clusterCidr ?? Defaults.podCIDR,
      sources: sourcesOf({ ...(flags.podManifestPath ? { staticPodPath: flags.podManifestPath } : {}), ...(flags.manifestUrl ? { staticPodURL: flags.manifestUrl } : {}) }),
    });
    if (flags.cleanup) {
      await cleanupProxy(options, log);
      log.info('removed the proxy rules, addresses and state of this host');
      return 0;
    }
    if (flags.kubeconfig) {
      node = new ServiceProxyNode(options, { config: await clusterProxyConfig(options, flags.kubeconfig, log), logger: log });
    } else {
      const config = manifestProxyConfig(options, new KubeletApiPodFeed({ kubeletUrl, periodMs: 1_000, logger: log }), log);
      node = new ServiceProxyNode(options, { config, logger: log });
      const onSnapshot = (source: PodSource) => (objects: ManifestObjects) => void config.registry.set(source, objects.services);
      const nodeName = hostname().toLowerCase();
      const checkMs = parseDuration(Defaults.fileCheckFrequency)!;
      if (flags.podManifestPath) sources.push(new FileSource({ path: flags.podManifestPath, nodeName, checkFrequencyMs: checkMs, logger: log, onSnapshot: onSnapshot('file') }));
      if (flags.manifestUrl) {
        sources.push(new HttpSource({ url: flags.manifestUrl, headers: {}, nodeName, checkFrequencyMs: checkMs, logger: log, onSnapshot: onSnapshot('http') }));
      }
      if (sources.length === 0) log.warn('no Service source: set --pod-manifest-path, --manifest-url or --kubeconfig');
    }
  } catch (err) {
    console.error(`dockerlet: ${errorMessage(err)}`);
    return exitCode(err);
  }
  try {
    await Promise.all(sources.map((source) => source.start()));
    await node.start();
  } catch (err) {
    log.error({ err }, 'the proxy could not start');
    console.error(`dockerlet: ${errorMessage(err)}`);
    await Promise.all(sources.map((source) => source.stop()));
    await node.stop();
    return exitCode(err);
  }
  return untilSignal(log, async () => {
    await Promise.all(sources.map((source) => source.stop()));
    await node.stop();
  });
}
