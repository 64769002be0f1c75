/**
 * The agent's composition root: the one place that builds the concrete parts and wires them
 * into the kubelet's loop (see DESIGN.md):
 *
 *   sources ─► pod config ─► pod workers ◄─ PLEG ◄─ Docker events + relist
 *                               │
 *                               ▼
 *                   pod lifecycle ─► syncer ─► runtime (Docker)
 *                               │
 *                               ▼
 *                        status manager ─► HTTP server
 *
 * Housekeeping (every 2 s, as the kubelet's) kills pods the runtime has but no source wants,
 * once every source has reported, and removes directories of pods that are gone.
 */
import { mkdir, readdir } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { errorMessage } from '../common/api/errors.js';
import { podSource } from '../common/api/pod-helpers.js';
import type { Pod } from '../common/api/types.js';
import type { PodSource } from '../common/api/well-known.js';
import { ConfigObjectStore, referencedConfigObjects } from './config/config-objects.js';
import { PodConfig, type PodUpdate } from './config/pod-config.js';
import type { ManifestObjects } from './config/read-manifest.js';
import { FileSource } from './config/sources/file-source.js';
import { HttpSource } from './config/sources/http-source.js';
import type { PodSourceRunner } from './config/sources/source.js';
import { EvictionManager } from './eviction/eviction-manager.js';
import { FanOutRecorder, LogEventRecorder } from './events/recorder.js';
import { ImageManager } from './images/image-manager.js';
import { NodeDockerConfig } from './images/node-credentials.js';
import { KubeletMetrics } from './metrics/kubelet-metrics.js';
import { ClusterMode } from './cluster-mode.js';
import type { ClusterOptions } from './node/cluster-node.js';
import { gatherNodeFacts } from './node/node-facts.js';
import { NodeApi } from './node-api.js';
import { GenericPleg } from './pleg/pleg.js';
import { Backoff } from '../common/util/backoff.js';
import { HandlerRunner } from './lifecycle/handler-runner.js';
import { ContainerKiller } from './kuberuntime/container-killer.js';
import { PodLifecycle } from './pod-lifecycle.js';
import { serviceEnvFor, type ServiceLookup } from './envvars/service-env.js';
import { ProberManager } from './prober/prober-manager.js';
import { PodWorkers } from './podworkers/pod-workers.js';
import { PodSyncer } from './kuberuntime/sync-pod.js';
import { DockerRuntime } from './runtime/docker/docker-runtime.js';
import type { RuntimeVersion } from './runtime/runtime.js';
import { buildServer } from './server/app.js';
import type { HealthCheck } from './server/kubelet-api.js';
import { ReasonCache } from './status/reason-cache.js';
import { StatusManager } from './status/status-manager.js';
import { TerminationMessages } from './status/termination-messages.js';
import { SummaryProvider } from './stats/summary-provider.js';
import { systemClock, type Clock } from '../common/util/clock.js';
import { RootDir } from './volumes/root-dir.js';
import { VolumeManager } from './volumes/volume-manager.js';

export interface KubeletOptions {
  nodeName: string;
  rootDir: string;
  staticPodPath?: string;
  staticPodURL?: string;
  staticPodURLHeader: Readonly<Record<string, readonly string[]>>;
  fileCheckFrequencyMs: number;
  httpCheckFrequencyMs: number;
  syncFrequencyMs: number;
  address: string;
  /** 0 disables the server. */
  port: number;
  /** 0 disables the read-only server. */
  readOnlyPort: number;
  /** unix:///path/to/docker.sock */
  containerRuntimeEndpoint: string;
  runtimeRequestTimeoutMs: number;
  podInfraContainerImage: string;
  podCIDR: string;
  podNetworkName: string;
  podBridgeName: string;
  nodeIPs: readonly string[];
  clusterDNS: readonly string[];
  clusterDomain: string;
  resolvConf: string;
  crashLoopBackOffMaxMs: number;
  /** hostPath volumes must lie under one of these; empty allows every path (as the kubelet). */
  allowedHostPathPrefixes: readonly string[];
  /** How often emptyDir usage is checked against sizeLimit (the kubelet's evictionMonitoringPeriod). */
  evictionMonitoringPeriodMs: number;
  containerLogMaxSize: string;
  containerLogMaxFiles: number;
  plegRelistPeriodMs: number;
  /** Cluster mode (--kubeconfig): the API server this node joins; unset, the agent runs standalone. */
  cluster?: ClusterOptions;
}

const HousekeepingPeriodMs = 2_000;
const ContainerBackoffInitialMs = 10_000;
const ImageBackoffInitialMs = 10_000;
const ImageBackoffMaxMs = 300_000;
const PlegFallbackRelistMs = 1_000;
const PlegRelistThresholdMs = 3 * 60_000;


const gracePeriod = (seconds: number | undefined): { gracePeriodSeconds?: number } => (seconds === undefined ? {} : { gracePeriodSeconds: seconds });

function isLoopback(address: string): boolean {
  return address === 'localhost' || address.startsWith('127.') || address === '::1';
}

export class Kubelet {
  readonly options: Readonly<KubeletOptions>;
  readonly podConfig: PodConfig;
  readonly statuses = new StatusManager();
  readonly configObjects = new ConfigObjectStore();
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly #runtime: DockerRuntime;
  readonly #pleg: GenericPleg;
  readonly #recorder: FanOutRecorder;
  readonly #sources: PodSourceRunner[] = [];
  readonly #servers: FastifyInstance[] = [];
  readonly #crashBackoff: Backoff;
  readonly #metrics: KubeletMetrics;
  #workers: PodWorkers | undefined;
  #prober: ProberManager | undefined;
  readonly #services: ServiceLookup | undefined;
  readonly #snapshotListeners: Array<(source: PodSource, objects: ManifestObjects) => void> = [];
  #volumes: VolumeManager | undefined;
  #eviction: EvictionManager | undefined;
  #housekeeping: NodeJS.Timeout | undefined;
  #lastHousekeeping = 0;
  #stopped = false;
  #runtimeVersion: RuntimeVersion | undefined;
  #cluster: ClusterMode | undefined;
  /** Addresses the HTTP servers listen on, once started. */
  readonly listening: { port?: string; readOnlyPort?: string } = {};

  /**
   * `services`: where a standalone node's service links come from (the proxy's registry when it
   * runs in the same process); without it pods get none. In cluster mode they come from the API
   * server's Services, whatever is given here.
   */
  constructor(options: KubeletOptions, deps: { logger: Logger; clock?: Clock; services?: ServiceLookup }) {
    this.options = Object.freeze({ ...options });
    this.#log = deps.logger;
    this.#services = deps.services;
    this.#clock = deps.clock ?? systemClock;
    this.podConfig = new PodConfig({ clock: this.#clock, logger: this.#log });
    this.#recorder = new FanOutRecorder([new LogEventRecorder(this.#log)]);
    this.#runtime = new DockerRuntime({
      socketPath: options.containerRuntimeEndpoint.replace(/^unix:\/\//, ''),
      nodeName: options.nodeName,
      networkName: options.podNetworkName,
      network: { name: options.podNetworkName, subnet: options.podCIDR, bridgeName: options.podBridgeName },
      podInfraImage: options.podInfraContainerImage,
      logMaxSize: options.containerLogMaxSize,
      logMaxFiles: options.containerLogMaxFiles,
      requestTimeoutMs: options.runtimeRequestTimeoutMs,
      logger: this.#log,
    });
    this.#pleg = new GenericPleg({
      runtime: this.#runtime,
      relistPeriodMs: options.plegRelistPeriodMs,
      fallbackRelistPeriodMs: PlegFallbackRelistMs,
      clock: this.#clock,
      logger: this.#log,
    });
    this.#crashBackoff = new Backoff({ initialMs: ContainerBackoffInitialMs, maxMs: options.crashLoopBackOffMaxMs, clock: this.#clock });
    this.#metrics = new KubeletMetrics(() => this.#pleg.runningPods());
  }

  /** Called with every source's whole set of manifest objects (a standalone node's proxy takes its Services from here). */
  onManifestObjects(listener: (source: PodSource, objects: ManifestObjects) => void): void {
    this.#snapshotListeners.push(listener);
  }

  /** The desired pods with their latest status, as /pods serves them. */
  podsWithStatus(): Pod[] {
    return this.podConfig.pods().map((pod) => {
      const status = this.statuses.get(pod.metadata.uid);
      return status ? { ...pod, status } : pod;
    });
  }

  /** Called when a pod comes or goes, or its status changes. */
  onPodsChanged(listener: () => void): void {
    this.podConfig.onUpdate(() => listener());
    this.statuses.onChange(() => listener());
  }

  /** The Docker engine's version, once started. */
  get runtimeVersion(): RuntimeVersion | undefined {
    return this.#runtimeVersion;
  }

  async start(): Promise<void> {
    const o = this.options;
    this.#runtimeVersion = await this.#runtime.start();
    this.#log.info({ runtime: `docker://${this.#runtimeVersion.version}`, node: o.nodeName }, 'container runtime is up');
    const rootDir = new RootDir(o.rootDir);
    await mkdir(rootDir.podsDir(), { recursive: true, mode: 0o750 });
    const node = await gatherNodeFacts({
      nodeName: o.nodeName,
      nodeIPs: o.nodeIPs,
      rootDir: o.rootDir,
      resolvConfPath: o.resolvConf,
      clusterDns: { servers: o.clusterDNS, domain: o.clusterDomain },
    });
    if (o.cluster) {
      // Before the sources: the API source needs the client, and a kubeconfig that cannot be
      // used stops the start here.
      this.#cluster = await ClusterMode.connect({
        cluster: o.cluster,
        nodeName: o.nodeName,
        hostIPs: node.hostIPs,
        kubeletPort: o.port,
        rootDir: o.rootDir,
        runtimeVersion: this.#runtimeVersion.version,
        runtimeUp: () => this.#runtime.version(),
        podConfig: this.podConfig,
        statuses: this.statuses,
        configObjects: this.configObjects,
        recorder: this.#recorder,
        clock: this.#clock,
        logger: this.#log,
      });
      this.#cluster.start();
    }
    const reasons = new ReasonCache();
    const volumes = new VolumeManager({ rootDir, allowedHostPathPrefixes: o.allowedHostPathPrefixes, nodeAllocatable: node.allocatable, clock: this.#clock });
    this.#volumes = volumes;
    const eviction = new EvictionManager({
      volumes,
      activePods: () => this.podConfig.pods().filter((pod) => this.#workers?.state(pod.metadata.uid) === 'syncing'),
      recorder: this.#recorder,
      onEvict: (pod) => this.#workers?.update({ type: 'sync', pod }),
      periodMs: o.evictionMonitoringPeriodMs,
      logger: this.#log,
    });
    this.#eviction = eviction;
    const hooks = new HandlerRunner({ runtime: this.#runtime, recorder: this.#recorder });
    const prober = new ProberManager({
      runtime: this.#runtime,
      recorder: this.#recorder,
      podStatus: (uid) => this.statuses.get(uid),
      isTerminating: (uid) => ['terminating', 'terminated'].includes(this.#workers?.state(uid) ?? ''),
      counter: this.#metrics.proberProbeTotal,
      clock: this.#clock,
      logger: this.#log,
    });
    this.#prober = prober;
    prober.onUpdate((update) => {
      // A busy worker (a terminating pod) must not hold back a readiness change: patch it in.
      if (update.probeType === 'readiness') this.statuses.setContainerReadiness(update.podUID, update.containerId, update.result === 'Success', this.#clock.now());
      this.#syncIfWanted(update.podUID);
    });
    const syncer = new PodSyncer({
      runtime: this.#runtime,
      images: new ImageManager({
        runtime: this.#runtime,
        backoff: new Backoff({ initialMs: ImageBackoffInitialMs, maxMs: ImageBackoffMaxMs, clock: this.#clock }),
        recorder: this.#recorder,
        nodeConfig: new NodeDockerConfig({ rootDir: o.rootDir, clock: this.#clock, logger: this.#log }),
        clock: this.#clock,
      }),
      rootDir,
      reasons,
      recorder: this.#recorder,
      crashBackoff: this.#crashBackoff,
      volumes,
      killer: new ContainerKiller({ runtime: this.#runtime, hooks, recorder: this.#recorder, clock: this.#clock, logger: this.#log }),
      hooks,
      failedProbe: (containerId) => prober.failedProbe(containerId),
      node,
      objectsFor: (pod) => this.configObjects.lookupFor(podSource(pod)),
      // Only the API server's pods have service accounts (static pods may not use them).
      tokensFor: (pod) => (podSource(pod) === 'api' ? this.#cluster?.tokens : undefined),
      serviceEnv: (pod) => serviceEnvFor(this.#cluster?.services ?? this.#services, pod),
      clock: this.#clock,
      logger: this.#log,
    });
    const lifecycle = new PodLifecycle({
      runtime: this.#runtime,
      syncer,
      statuses: this.statuses,
      reasons,
      terminationMessages: new TerminationMessages(this.#runtime),
      health: prober.containerHealth,
      eviction: (uid) => eviction.eviction(uid),
      hostIPs: node.hostIPs,
      clock: this.#clock,
      logger: this.#log,
    });
    this.#workers = new PodWorkers({
      handlers: {
        syncPod: (pod, signal) => {
          prober.addPod(pod);
          return this.#timed('sync', () => lifecycle.syncPod(pod, signal));
        },
        syncTerminatingPod: (request) => {
          prober.stopLivenessAndStartup(request.uid);
          return this.#timed('terminating', () => lifecycle.syncTerminatingPod(request));
        },
        syncTerminatedPod: async (uid) => {
          await this.#timed('terminated', () => lifecycle.syncTerminatedPod(uid));
          const pod = this.podConfig.pod(uid);
          if (pod) this.#cluster?.terminated(pod);
          prober.removePod(uid);
          eviction.forget(uid);
        },
      },
      resyncIntervalMs: o.syncFrequencyMs,
      logger: this.#log,
    });

    this.#pleg.onEvent((event) => this.#syncIfWanted(event.podUID));
    await this.#pleg.start();
    this.podConfig.onUpdate((update) => this.#handlePodUpdate(update));
    this.configObjects.onChange((changed) => {
      for (const pod of this.podConfig.pods()) {
        if ([...referencedConfigObjects(pod)].some((key) => changed.has(key))) this.#workers?.update({ type: 'sync', pod });
      }
    });
    await this.#startSources(rootDir);
    await this.#startServers(new NodeApi({
      podConfig: this.podConfig,
      summary: new SummaryProvider({
        nodeName: o.nodeName,
        rootDir: o.rootDir,
        runtime: this.#runtime,
        pod: (uid) => {
          const pod = this.podConfig.pod(uid);
          const startTime = pod && this.statuses.get(uid)?.startTime;
          return pod && { pod, ...(startTime ? { startTime } : {}) };
        },
        volumes: this.#volumes!,
        clock: this.#clock,
        logger: this.#log,
      }),
      podsWithStatus: () => this.podsWithStatus(),
      pleg: this.#pleg,
      runtime: this.#runtime,
      metrics: this.#metrics,
      healthChecks: () => this.#healthChecks(),
    }));
    this.#lastHousekeeping = this.#clock.now();
    this.#housekeeping = setInterval(() => void this.#housekeep(rootDir), HousekeepingPeriodMs);
    this.#housekeeping.unref();
    eviction.start();
  }

  /** Cluster mode (--kubeconfig), once started. */
  get cluster(): ClusterMode | undefined {
    return this.#cluster;
  }

  /** Stops watching and serving; running pods keep running (a restarted agent adopts them). */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    clearInterval(this.#housekeeping);
    this.#eviction?.stop();
    await Promise.all(this.#sources.map((source) => source.stop()));
    this.#pleg.stop();
    this.#prober?.stop();
    await this.#workers?.stop();
    // After the sources and workers: nothing then asks it to watch or write anything more.
    await this.#cluster?.stop();
    await Promise.all(this.#servers.map((server) => server.close()));
  }

  /** Resolves once `uid`'s worker has nothing running or queued (tests and benchmarks). */
  whenPodIdle(uid: string): Promise<void> {
    return this.#workers?.whenIdle(uid) ?? Promise.resolve();
  }

  async #timed<T>(operation: string, work: () => Promise<T>): Promise<T> {
    const started = performance.now();
    try {
      return await work();
    } finally {
      this.#metrics.podWorkerDuration.observe({ operation }, (performance.now() - started) / 1000);
    }
  }

  async #startSources(rootDir: RootDir): Promise<void> {
    const o = this.options;
    // Objects first: a pod and the ConfigMap it uses, added together, find each other.
    const onSnapshot = (source: PodSource) => (objects: ManifestObjects) => {
      this.configObjects.set(source, objects.configMaps, objects.secrets);
      for (const listener of this.#snapshotListeners) listener(source, objects);
      this.podConfig.set(source, objects.pods);
    };
    if (o.staticPodPath) {
      this.#sources.push(
        new FileSource({ path: o.staticPodPath, nodeName: o.nodeName, checkFrequencyMs: o.fileCheckFrequencyMs, logger: this.#log, onSnapshot: onSnapshot('file') }),
      );
    }
    if (o.staticPodURL) {
      this.#sources.push(
        new HttpSource({
          url: o.staticPodURL,
          headers: o.staticPodURLHeader,
          nodeName: o.nodeName,
          checkFrequencyMs: o.httpCheckFrequencyMs,
          logger: this.#log,
          onSnapshot: onSnapshot('http'),
        }),
      );
    }
    if (this.#cluster) this.#sources.push(this.#cluster.podSource());
    if (this.#sources.length === 0) this.#log.warn({ rootDir: rootDir.path }, 'no pod source configured: set --pod-manifest-path, --manifest-url or --kubeconfig');
    await Promise.all(this.#sources.map((source) => source.start()));
  }

  async #startServers(api: NodeApi): Promise<void> {
    const o = this.options;
    const listen = async (port: number, debugHandlers: boolean, key: 'port' | 'readOnlyPort'): Promise<void> => {
      if (port === 0) return;
      const server = buildServer({ api, logger: this.#log, debugHandlers });
      this.#servers.push(server);
      this.listening[key] = await server.listen({ host: o.address, port });
      this.#log.info({ address: this.listening[key], debugHandlers }, key === 'port' ? 'serving the kubelet API' : 'serving the read-only kubelet API');
    };
    const loopback = isLoopback(o.address);
    if (!loopback) this.#log.warn({ address: o.address }, 'container logs are served on loopback addresses only until authentication is configured');
    await listen(o.port, loopback, 'port');
    await listen(o.readOnlyPort, loopback, 'readOnlyPort');
  }

  #handlePodUpdate(update: PodUpdate): void {
    const workers = this.#workers!;
    for (const pod of update.pods) {
      const deletion = pod.metadata.deletionTimestamp;
      if (update.op === 'REMOVE') {
        workers.update({ type: 'kill', uid: pod.metadata.uid, pod });
        this.#cluster?.forget(pod.metadata.uid);
      }
      // Deleted in the API server: terminate it within the grace period the deletion gave; one
      // whose containers are gone already (it completed) is done with at once.
      else if (deletion && workers.state(pod.metadata.uid) === 'terminated') this.#cluster?.terminated(pod);
      else if (deletion) workers.update({ type: 'kill', uid: pod.metadata.uid, pod, ...gracePeriod(pod.metadata.deletionGracePeriodSeconds) });
      else workers.update({ type: update.op === 'ADD' ? 'create' : 'sync', pod });
    }
  }

  #syncIfWanted(uid: string): void {
    const pod = this.podConfig.pod(uid);
    if (pod) this.#workers!.update({ type: 'sync', pod });
  }

  /** HandlePodCleanups: orphaned pods and pod directories; runs every 2 s. */
  async #housekeep(rootDir: RootDir): Promise<void> {
    this.#lastHousekeeping = this.#clock.now();
    this.#crashBackoff.gc();
    // Mirror pods a failed call left out of line (the API server was away) are made right here.
    this.#cluster?.reconcileMirrors();
    const sources = this.#sources.map((source) => source.name);
    if (!this.podConfig.seenAll(sources)) return;
    const workers = this.#workers!;
    const running = this.#pleg.runningPods();
    for (const runningPod of running) {
      const uid = runningPod.pod.uid;
      if (this.podConfig.pod(uid) || workers.has(uid)) continue;
      this.#log.info({ pod: `${runningPod.pod.namespace}/${runningPod.pod.name}`, podUID: uid }, 'killing a pod no source wants any more');
      workers.update({ type: 'kill', uid, runningPod });
    }
    try {
      const known = new Set(running.map((p) => p.pod.uid));
      for (const uid of await readdir(rootDir.podsDir())) {
        if (known.has(uid) || this.podConfig.pod(uid) || workers.has(uid)) continue;
        await this.#volumes!.tearDownPod(uid);
        this.#log.info({ podUID: uid }, 'removed the directory of a pod that is gone');
      }
    } catch (err) {
      this.#log.warn({ err: errorMessage(err) }, 'cleaning pod directories failed');
    }
  }

  #healthChecks(): HealthCheck[] {
    const now = this.#clock.now();
    const syncLoopThreshold = Math.max(2 * this.options.syncFrequencyMs, 5 * 60_000);
    const plegAge = now - this.#pleg.lastRelistTime();
    const loopAge = now - this.#lastHousekeeping;
    return [
      { name: 'ping', ok: true },
      { name: 'syncloop', ok: loopAge < syncLoopThreshold, message: `sync loop last ran ${Math.round(loopAge / 1000)}s ago` },
      { name: 'pleg', ok: plegAge < PlegRelistThresholdMs, message: `pleg was last seen active ${Math.round(plegAge / 1000)}s ago` },
    ];
  }
}
