/**
 * The agent's composition root: the one place that builds the kubelet's concrete parts, all in
 * the constructor, and wires them into its loop:
 *
 *   sources ─► pod config ─► pod workers ◄─ PLEG ◄─ Docker events + relist
 *                               │
 *                               ▼
 *                   pod lifecycle ─► syncer ─► runtime (Docker)
 *                               │
 *                               ▼
 *                        status manager ─► HTTP server, API server (cluster mode)
 *
 * start() starts them in order; stop() stops them, leaving the pods running. Housekeeping
 * (every 2 s, as the kubelet's) kills pods the runtime has but no source wants, once every
 * source has reported, and removes directories of pods that are gone.
 */
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { errorMessage, isDockerletError } from '../common/api/errors.js';
import type { HostLock } from '../common/util/host-lock.js';
import { retryUntilDone } from '../common/util/retry.js';
import { lockAgent } from './node/agent-lock.js';
import { isTerminalPhase, podSource } from '../common/api/pod-helpers.js';
import type { DefaultedPod, Node, Pod } from '../common/api/types.js';
import type { Ipv4Cidr } from '../common/util/ipv4.js';
import type { PodSource } from '../common/api/well-known.js';
import type { KubeApi } from '../common/kube-api/kube-client.js';
import { Backoff } from '../common/util/backoff.js';
import { delay, monotonicClock, systemClock, type Clock } from '../common/util/clock.js';
import { PodAdmission } from './admission/pod-admission.js';
import { SysctlAllowlist } from './admission/sysctls.js';
import { ClusterMode } from './cluster-mode.js';
import { ConfigObjectStore, referencedConfigObjects } from './config/config-objects.js';
import { PodConfig, type PodUpdate } from './config/pod-config.js';
import type { ManifestObjects } from './config/read-manifest.js';
import { manifestSourceNames, manifestSources } from './config/sources/manifest-sources.js';
import type { PodSourceRunner } from './config/sources/source.js';
import { serviceEnvFor, type ServiceLookup } from './envvars/service-env.js';
import { FanOutRecorder, LogEventRecorder } from './events/recorder.js';
import { EvictionManager } from './eviction/eviction-manager.js';
import { observeNode, podUsage } from './eviction/observations.js';
import { evictionReserve } from './eviction/thresholds.js';
import { removeFinishedPodsContainers } from './kuberuntime/container-gc.js';
import { TerminalStatusStore } from './status/terminal-status-store.js';
import { ImageGCManager } from './images/image-gc-manager.js';
import { ImageManager } from './images/image-manager.js';
import { NodeDockerConfig } from './images/node-credentials.js';
import { ContainerKiller } from './kuberuntime/container-killer.js';
import { PodSyncer } from './kuberuntime/sync-pod.js';
import { HandlerRunner } from './lifecycle/handler-runner.js';
import { KubeletMetrics } from './metrics/kubelet-metrics.js';
import { NodeApi } from './node-api.js';
import type { ClusterOptions } from './node/cluster-node.js';
import type { NodeFacts } from './node/node-facts.js';
import { GenericPleg } from './pleg/pleg.js';
import { PodCache, settledStatus } from './pleg/pod-cache.js';
import { PodLifecycle } from './pod-lifecycle.js';
import { PodWorkers } from './podworkers/pod-workers.js';
import { QOSContainerManager } from './qos/qos-container-manager.js';
import { ProberManager } from './prober/prober-manager.js';
import { DockerRuntime } from './runtime/docker/docker-runtime.js';
import { NoPodCIDRYet, runtimeNetworkNotReady, type RunningPod, type RuntimeVersion } from './runtime/runtime.js';
import { nodePodSubnet } from './network/node-routes.js';
import { kubeletConfigz } from './kubelet-configz.js';
import type { KubeletOptions } from './kubelet-options.js';
import { KubeletServers } from './server/kubelet-servers.js';
import type { HealthCheck, KubeletApi } from './server/kubelet-api.js';
import { SummaryProvider } from './stats/summary-provider.js';
import { ReasonCache } from './status/reason-cache.js';
import { StatusManager } from './status/status-manager.js';
import { TerminationMessages } from './status/termination-messages.js';
import { LocalClaims } from './volumes/claims/local-claims.js';
import { RootDir } from './volumes/root-dir.js';
import { VolumeManager } from './volumes/volume-manager.js';
import { defaultNodeLabels } from './node/node-status.js';
import { goArch } from '../common/version.js';


const HousekeepingPeriodMs = 2_000;
const ContainerBackoffInitialMs = 10_000;
const ImageBackoffInitialMs = 10_000;
const ImageBackoffMaxMs = 300_000;
const PlegFallbackRelistMs = 1_000;
const PlegRelistThresholdMs = 3 * 60_000;
/** Waits between tries to reach the container runtime at start. */
const RuntimeRetryInitialMs = 1_000;
const RuntimeRetryMaxMs = 30_000;

/** How long a status update waits for the pod network to take the Node's subnet before it reports without. */
const PodNetworkStatusWaitMs = 5_000;
const PodCIDRFromNodeNeedsCluster = 'Kubelet: a node without a pod CIDR takes it from its Node, which needs cluster mode (--kubeconfig)';

/** A pod network being set up with the Node's subnet: its first attempt's end (success or not), and its end. */
interface PodNetworkSetup {
  firstAttempt: Promise<void>;
  setUp: Promise<void>;
}

const gracePeriod = (seconds: number | undefined): { gracePeriodSeconds?: number } => (seconds === undefined ? {} : { gracePeriodSeconds: seconds });

export interface KubeletDeps {
  logger: Logger;
  /** This host's facts, read before the kubelet is built (node/node-facts.ts gatherNodeFacts). */
  node: NodeFacts;
  /** The API server's client: required in cluster mode (options.cluster), unused otherwise. */
  client?: KubeApi;
  /**
   * Where a standalone node's service links come from (the proxy's registry when it runs in the
   * same process); without it pods get none. In cluster mode they come from the API server's Services.
   */
  services?: ServiceLookup;
  /** Telling the time (default: the system's wall clock). */
  clock?: Clock;
  /** Measuring waits, such as back-offs (default: the monotonic clock). */
  monotonic?: Clock;
}

export class Kubelet {
  readonly options: Readonly<KubeletOptions>;
  readonly podConfig: PodConfig;
  readonly statuses = new StatusManager();
  readonly configObjects = new ConfigObjectStore();
  /** What the kubelet's HTTP servers serve (logs, exec, stats), for callers in this process. */
  readonly api: KubeletApi;
  /** Cluster mode's parts, when the node joins an API server. */
  readonly cluster: ClusterMode | undefined;
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly #rootDir: RootDir;
  readonly #runtime: DockerRuntime;
  readonly #pleg: GenericPleg;
  readonly #crashBackoff: Backoff;
  readonly #imageBackoff: Backoff;
  readonly #metrics: KubeletMetrics;
  readonly #volumes: VolumeManager;
  readonly #localClaims: LocalClaims;
  readonly #eviction: EvictionManager;
  readonly #imageGC: ImageGCManager;
  readonly #admission: PodAdmission;
  readonly #qos: QOSContainerManager;
  readonly #prober: ProberManager;
  readonly #workers: PodWorkers;
  readonly #sources: PodSourceRunner[];
  readonly #servers: KubeletServers;
  readonly #snapshotListeners: Array<(source: PodSource, objects: ManifestObjects) => void> = [];
  #housekeeping: NodeJS.Timeout | undefined;
  #housekeepingPass: Promise<void> | undefined;
  #lastHousekeeping = 0;
  #stopped = false;
  readonly #stopping = new AbortController();
  #lock: HostLock | undefined;
  /** Why pods off the host's network cannot start: until a node that takes its pod subnet from its Node has it. */
  #networkNotReady: string | undefined;
  #podNetworkTask: Promise<void> | undefined;
  /** The pod network's setup with the Node's subnet, once begun. */
  #podNetwork: PodNetworkSetup | undefined;
  #runtimeVersion: RuntimeVersion | undefined;

  /** Builds every part of the agent; nothing runs until start(). */
  constructor(options: KubeletOptions, deps: KubeletDeps) {
    const o = (this.options = Object.freeze({ ...options }));
    if (!o.podCIDR && !o.cluster) throw new Error(PodCIDRFromNodeNeedsCluster);
    this.#networkNotReady = o.podCIDR ? undefined : NoPodCIDRYet;
    const log = (this.#log = deps.logger);
    const clock = (this.#clock = deps.clock ?? systemClock);
    const node = deps.node;
    this.#rootDir = new RootDir(o.rootDir);
    this.podConfig = new PodConfig({ clock, logger: log });
    const recorder = new FanOutRecorder([new LogEventRecorder(log)]);
    const runtime = (this.#runtime = new DockerRuntime({
      socketPath: o.containerRuntimeEndpoint.replace(/^unix:\/\//, ''),
      nodeName: o.nodeName,
      networkName: o.podNetworkName,
      // Routed between nodes, the pods' traffic is masqueraded only when it leaves the cluster's pod network (the node's rules, not Docker's).
      network: { name: o.podNetworkName, ...(o.podCIDR ? { subnet: o.podCIDR.text } : {}), bridgeName: o.podBridgeName, masquerade: !o.cluster?.nodeRoutes },
      podInfraImage: o.podInfraContainerImage,
      logMaxSize: o.containerLogMaxSize,
      logMaxFiles: o.containerLogMaxFiles,
      requestTimeoutMs: o.runtimeRequestTimeoutMs,
      pullProgressDeadlineMs: o.imagePullProgressDeadlineMs,
      logger: log,
    }));
    const podCache = new PodCache({ read: (pod) => runtime.getPodStatus(pod), keep: (status) => settledStatus(status, clock.now()) });
    this.#pleg = new GenericPleg({ runtime, cache: podCache, relistPeriodMs: o.plegRelistPeriodMs, fallbackRelistPeriodMs: PlegFallbackRelistMs, clock, logger: log });
    const monotonic = deps.monotonic ?? monotonicClock;
    this.#crashBackoff = new Backoff({ initialMs: ContainerBackoffInitialMs, maxMs: o.crashLoopBackOffMaxMs, clock, monotonic });
    this.#imageBackoff = new Backoff({ initialMs: ImageBackoffInitialMs, maxMs: ImageBackoffMaxMs, clock, monotonic });
    this.#metrics = new KubeletMetrics(() => this.#pleg.runningPods());
    this.cluster = o.cluster ? this.#clusterMode(o.cluster, deps, recorder) : undefined;
    const cluster = this.cluster;

    // The prober and the eviction manager ask the workers about a pod's state, and the workers'
    // handlers ask the prober: the two closures below reach #workers, assigned further down in
    // this constructor, and run only once start() has begun.
    const nodeIdentity = { name: o.nodeName, labels: defaultNodeLabels({ hostname: o.nodeName, arch: goArch }, o.cluster?.nodeLabels ?? {}) };
    const volumes = (this.#volumes = new VolumeManager({ rootDir: this.#rootDir, allowedHostPathPrefixes: o.allowedHostPathPrefixes, nodeAllocatable: node.allocatable, node: nodeIdentity, clock }));
    const localClaims = (this.#localClaims = new LocalClaims({ rootDir: this.#rootDir, sources: manifestSourceNames(o), clock, logger: log }));
    const nodeRef = { kind: 'Node', name: o.nodeName, uid: o.nodeName } as const;
    const terminalStatuses = new TerminalStatusStore((uid) => join(this.#rootDir.podDir(uid), 'terminal-status.json'));
    const imageGC = (this.#imageGC = new ImageGCManager({
      runtime,
      policy: o.imageGC,
      sandboxImage: o.podInfraContainerImage,
      periodMs: o.imageGC.periodMs,
      recorder,
      node: nodeRef,
      clock,
      logger: log,
    }));
    const eviction = (this.#eviction = new EvictionManager({
      volumes,
      podUsage: (pod, resource) => podUsage(pod, resource, { running: (uid) => this.#running(uid), runtime, volumes }),
      nodePressure: {
        ...o.eviction,
        observe: () =>
          observeNode({
            rootDir: o.rootDir,
            // The machine's memory: the capacity a percentage of memory.available is of.
            memoryCapacityBytes: node.allocatable.memoryBytes,
            ...(o.eviction.thresholds.some((t) => t.signal.startsWith('imagefs.')) ? { imageFs: () => imageGC.imageFsStats() } : {}),
            now: clock.now(),
          }),
        reclaimDisk: async () => {
          await removeFinishedPodsContainers({
            runningPods: () => this.#pleg.runningPods(),
            finished: (uid) => isTerminalPhase(this.statuses.get(uid)?.phase),
            keepStatus: (uid) => terminalStatuses.save(uid, this.statuses.get(uid) ?? {}),
            runtime,
            logger: log.child({ component: 'container-gc' }),
          });
          await imageGC.deleteUnusedImages();
        },
        podRunning: (uid) => this.#running(uid)?.containers.some((c) => c.state === 'running') ?? false,
        node: nodeRef,
        clock,
      },
      // Pods running on: neither terminating, nor finished, nor rejected.
      activePods: () => this.#activePods().filter((pod) => this.#workers.state(pod.metadata.uid) === 'syncing'),
      recorder,
      onEvict: (pod) => this.#workers.update({ type: 'sync', pod }),
      periodMs: o.evictionMonitoringPeriodMs,
      logger: log,
    }));
    const admission = (this.#admission = new PodAdmission({ maxPods: o.maxPods, sysctls: new SysctlAllowlist(o.allowedUnsafeSysctls), pressure: () => eviction.conditions(), running: (uid) => this.#running(uid)?.containers.some((c) => c.state === 'running') ?? false, recorder }));
    const hooks = new HandlerRunner({ runtime, recorder });
    const prober = (this.#prober = new ProberManager({
      runtime,
      recorder,
      podStatus: (uid) => this.statuses.get(uid),
      isTerminating: (uid) => ['terminating', 'terminated'].includes(this.#workers.state(uid) ?? ''),
      counter: this.#metrics.proberProbeTotal,
      clock,
      logger: log,
    }));
    const reasons = new ReasonCache();
    const qos = (this.#qos = new QOSContainerManager({ root: o.podsCgroup, logger: log, clock }));
    const services = cluster?.services ?? deps.services;
    const syncer = new PodSyncer({
      runtime,
      images: new ImageManager({
        runtime,
        backoff: this.#imageBackoff,
        recorder,
        nodeConfig: new NodeDockerConfig({ rootDir: o.rootDir, clock, logger: log }),
        clock,
      }),
      rootDir: this.#rootDir,
      reasons,
      recorder,
      crashBackoff: this.#crashBackoff,
      volumes,
      killer: new ContainerKiller({ runtime, hooks, recorder, clock, logger: log }),
      hooks,
      podContainers: qos,
      failedProbe: (containerId) => prober.failedProbe(containerId),
      node,
      objectsFor: (pod) => this.configObjects.lookupFor(podSource(pod)),
      // Only the API server's pods have service accounts (static pods may not use them).
      tokensFor: (pod) => (podSource(pod) === 'api' ? cluster?.tokens : undefined),
      // An API pod's claims are the API server's; a static pod's, those its manifests declare.
      claimsFor: (pod) => (podSource(pod) === 'api' && cluster ? cluster.claims : localClaims),
      serviceEnv: (pod) => serviceEnvFor(services, pod),
      clock,
      logger: log,
    });
    const lifecycle = new PodLifecycle({
      runtime,
      podCache,
      syncer,
      statuses: this.statuses,
      reasons,
      terminationMessages: new TerminationMessages(runtime),
      health: prober.containerHealth,
      eviction: (uid) => eviction.eviction(uid),
      rejection: (uid) => admission.rejection(uid),
      keptStatus: (uid) => terminalStatuses.load(uid),
      networkNotReady: () => this.#networkNotReady,
      hostIPs: node.hostIPs,
      recorder,
      clock,
      logger: log,
    });
    this.#workers = new PodWorkers({
      handlers: {
        syncPod: (pod, signal) => {
          prober.addPod(pod);
          return this.#timed('sync', () => lifecycle.syncPod(pod, signal));
        },
        syncTerminatingPod: (request, signal) => {
          prober.stopLivenessAndStartup(request.uid);
          return this.#timed('terminating', () => lifecycle.syncTerminatingPod(request, signal));
        },
        syncTerminatedPod: async (uid) => {
          await this.#timed('terminated', () => lifecycle.syncTerminatedPod(uid));
          const pod = this.podConfig.pod(uid);
          if (pod) cluster?.terminated(pod);
          prober.removePod(uid);
          eviction.forget(uid);
          admission.forget(uid);
        },
      },
      resyncIntervalMs: o.syncFrequencyMs,
      logger: log,
    });

    // Objects first: a pod and the ConfigMap it uses, added together, find each other.
    this.#sources = manifestSources(o, log, (source, objects, whole) => {
      this.configObjects.set(source, objects.configMaps, objects.secrets);
      localClaims.set(source, objects, whole);
      for (const listener of this.#snapshotListeners) listener(source, objects);
      this.podConfig.set(source, objects.pods);
    });
    if (cluster) this.#sources.push(cluster.podSource);

    const api = (this.api = new NodeApi({
      podConfig: this.podConfig,
      summary: new SummaryProvider({
        nodeName: o.nodeName,
        rootDir: o.rootDir,
        runtime,
        pod: (uid) => {
          const pod = this.podConfig.pod(uid);
          const startTime = pod && this.statuses.get(uid)?.startTime;
          return pod && { pod, ...(startTime ? { startTime } : {}) };
        },
        volumes,
        imageFs: () => imageGC.imageFsStats(),
        clock,
        logger: log,
      }),
      podsWithStatus: () => this.podsWithStatus(),
      persistentVolumeClaims: () => localClaims.list(),
      pleg: this.#pleg,
      runtime,
      metrics: this.#metrics,
      healthChecks: () => this.#healthChecks(),
      logger: log,
    }));
    this.#servers = new KubeletServers({
      nodeName: o.nodeName,
      rootDir: o.rootDir,
      address: o.address,
      port: o.port,
      readOnlyPort: o.readOnlyPort,
      serving: o.serving,
      hostIPs: deps.node.hostIPs,
      api,
      ...(deps.client ? { client: deps.client } : {}),
      configz: () => kubeletConfigz(o),
      logger: log,
    });

    prober.onUpdate((update) => {
      // A busy worker (a terminating pod) must not hold back a readiness change: patch it in.
      if (update.probeType === 'readiness') this.statuses.setContainerReadiness(update.podUID, update.containerId, update.result === 'Success', clock.now());
      this.#syncIfWanted(update.podUID);
    });
    this.#pleg.onEvent((event) => this.#syncIfWanted(event.podUID));
    this.podConfig.onUpdate((update) => this.#handlePodUpdate(update));
    localClaims.onChange(() => {
      for (const pod of this.podConfig.pods()) if (pod.spec.volumes?.some((volume) => volume.persistentVolumeClaim)) this.#workers.update({ type: 'sync', pod });
    });
    this.configObjects.onChange((changed) => {
      for (const pod of this.podConfig.pods()) {
        if ([...referencedConfigObjects(pod)].some((key) => changed.has(key))) this.#workers.update({ type: 'sync', pod });
      }
    });
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

  /** The address each server listens on, once listening. */
  get listening(): { port?: string; readOnlyPort?: string } {
    return this.#servers.listening;
  }

  /** The Docker engine's version, once started. */
  get runtimeVersion(): RuntimeVersion | undefined {
    return this.#runtimeVersion;
  }

  /**
   * Takes the root dir and node name (refusing to run beside another agent on either), waits
   * for the container runtime (retrying, as the kubelet does, until it answers or stop() is
   * called), then starts the parts in order: the API server's side, PLEG, the sources, the HTTP
   * servers, then housekeeping, eviction and image garbage collection.
   */
  async start(): Promise<void> {
    const o = this.options;
    const lock = await lockAgent({ rootDir: o.rootDir, nodeName: o.nodeName });
    // stop() may come at any await here (a signal while starting): nothing more is started then.
    if (this.#stopped) {
      await lock.release();
      return;
    }
    this.#lock = lock;
    const runtimeVersion = await retryUntilDone(() => this.#runtime.start(), {
      initialMs: RuntimeRetryInitialMs,
      maxMs: RuntimeRetryMaxMs,
      signal: this.#stopping.signal,
      keepAlive: true,
      // An engine that refuses the config (a pod network of another subnet) will not change its mind: exit 2.
      retryable: (err) => !(isDockerletError(err) && err.status === 2),
      onError: (err, retryInMs) => this.#log.warn({ err: errorMessage(err), retryInMs }, 'the container runtime is not ready; will retry'),
    });
    if (!runtimeVersion) return;
    this.#runtimeVersion = runtimeVersion;
    this.#log.info({ runtime: `docker://${this.#runtimeVersion.version}`, node: o.nodeName }, 'container runtime is up');
    await mkdir(this.#rootDir.podsDir(), { recursive: true, mode: 0o750 });
    await this.#qos.start(this.#runtime.cgroups());
    if (this.#stopped) return;
    this.cluster?.start();
    if (!o.podCIDR) {
      this.#podNetworkTask = this.#podNetworkFromNode().catch((err: unknown) => this.#log.error({ err: errorMessage(err) }, "taking the pod subnet from the Node failed: pods off the host's network will not start"));
    }
    await this.#pleg.start();
    if (this.#stopped) return;
    if (this.#sources.length === 0) this.#log.warn({ rootDir: o.rootDir }, 'no pod source configured: set --pod-manifest-path, --manifest-url or --kubeconfig');
    await Promise.all(this.#sources.map((source) => source.start()));
    if (this.#stopped) return;
    await this.#servers.start();
    if (this.#stopped) return;
    this.#lastHousekeeping = this.#clock.now();
    // One pass at a time: a slow one (a large claim's data being deleted) is not overlapped by the next.
    this.#housekeeping = setInterval(() => {
      this.#housekeepingPass ??= this.#housekeep()
        .catch((err: unknown) => this.#log.warn({ err: errorMessage(err) }, 'housekeeping failed'))
        .finally(() => (this.#housekeepingPass = undefined));
    }, HousekeepingPeriodMs);
    this.#housekeeping.unref();
    this.#eviction.start();
    this.#imageGC.start();
  }

  /**
   * A node without a --pod-cidr of its own waits for its Node's spec.podCIDR (polled from start,
   * and read with each status update, as the kubelet's tryUpdateNodeStatus reads it), then gives
   * it to the runtime, CRI's UpdateRuntimeConfig. Meanwhile the node is not Ready and only pods on
   * the host's network start.
   */
  async #podNetworkFromNode(): Promise<void> {
    const podCIDR = await this.#cluster().podCIDRFromNode(this.#stopping.signal);
    if (podCIDR) await this.#usePodCIDR(podCIDR).setUp;
  }

  /**
   * The status update's part: whoever began the setup (this, or the poll at start), the status
   * waits for its first attempt, so a restarted node whose Node has its subnet is Ready in its
   * first status, and a failing one says why. Not for longer than a status update may take: a
   * runtime that does not answer must not hold the status back.
   */
  async #podCIDRFromNodeSpec(node: Node): Promise<void> {
    if (this.#networkNotReady === undefined || this.#stopped) return;
    const podCIDR = nodePodSubnet(node);
    const setup = podCIDR ? this.#usePodCIDR(podCIDR) : this.#podNetwork;
    if (setup) await Promise.race([setup.firstAttempt, delay(PodNetworkStatusWaitMs, this.#stopping.signal)]);
  }

  /** Sets the pod network up with `podCIDR`, once, whoever asks first. */
  #usePodCIDR(podCIDR: Ipv4Cidr): PodNetworkSetup {
    if (!this.#podNetwork) {
      let attempted!: () => void;
      const firstAttempt = new Promise<void>((resolve) => (attempted = resolve));
      // Whoever began it may not wait for its end: a failure is logged here, never left unhandled.
      const setUp = this.#setUpPodNetwork(podCIDR, attempted).catch((err: unknown) => this.#log.error({ err: errorMessage(err), podCIDR: podCIDR.text }, "setting the pod network up with the Node's pod subnet failed: pods off the host's network will not start"));
      this.#podNetwork = { firstAttempt, setUp };
    }
    return this.#podNetwork;
  }

  /**
   * The runtime's network with the Node's subnet, retried until it is there: a Docker network of
   * that name with another subnet keeps the node NotReady, saying why, until it is removed. Then
   * every pod is synced at once rather than at its next retry.
   */
  async #setUpPodNetwork(podCIDR: Ipv4Cidr, attempted: () => void): Promise<void> {
    const attempt = async (): Promise<boolean> => {
      try {
        await this.#runtime.updatePodCIDR(podCIDR.text);
        this.#networkNotReady = undefined;
        return true;
      } catch (err) {
        this.#networkNotReady = runtimeNetworkNotReady(errorMessage(err));
        throw err;
      } finally {
        attempted();
      }
    };
    const done = await retryUntilDone(attempt, {
      initialMs: RuntimeRetryInitialMs,
      maxMs: RuntimeRetryMaxMs,
      signal: this.#stopping.signal,
      keepAlive: true,
      onError: (err, retryInMs) => this.#log.warn({ err: errorMessage(err), retryInMs, podCIDR: podCIDR.text }, "the pod network could not be set up with the Node's pod subnet; will retry"),
    });
    attempted();
    if (!done || this.#stopped) return;
    this.#cluster().podNetworkReady(podCIDR);
    for (const pod of this.podConfig.pods()) if (pod.spec.hostNetwork !== true) this.#workers.update({ type: 'sync', pod });
  }

  #cluster(): ClusterMode {
    // Checked when built; here for the type.
    if (!this.cluster) throw new Error(PodCIDRFromNodeNeedsCluster);
    return this.cluster;
  }

  /** Stops watching and serving; running pods keep running (a restarted agent adopts them). */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#stopping.abort();
    clearInterval(this.#housekeeping);
    await this.#housekeepingPass;
    this.#eviction.stop();
    await this.#imageGC.stop();
    await Promise.all(this.#sources.map((source) => source.stop()));
    this.#pleg.stop();
    this.#prober.stop();
    await this.#workers.stop();
    await this.#podNetworkTask;
    await this.#podNetwork?.setUp;
    // After the sources and workers: nothing then asks it to watch or write anything more.
    await this.cluster?.stop();
    await this.#servers.close();
    await this.#qos.stop();
    await this.#lock?.release();
  }

  #clusterMode(cluster: ClusterOptions, deps: KubeletDeps, recorder: FanOutRecorder): ClusterMode {
    if (!deps.client) throw new Error(`Kubelet: cluster mode (${cluster.kubeconfig}) needs an API client (prepareNode reads it)`);
    return new ClusterMode({
      client: deps.client,
      cluster,
      nodeName: this.options.nodeName,
      hostIPs: deps.node.hostIPs,
      ...(this.options.podCIDR ? { podCIDR: this.options.podCIDR } : {}),
      podBridgeName: this.options.podBridgeName,
      networkNotReady: () => this.#networkNotReady,
      applyNodeSpec: (node) => this.#podCIDRFromNodeSpec(node),
      kubeletPort: this.options.port,
      rootDir: this.options.rootDir,
      maxPods: this.options.maxPods,
      runtimeVersion: async () => (await this.#runtime.version()).version,
      // Built after cluster mode, and asked only once it runs.
      pressure: () => this.#eviction.conditions(),
      evictionReserve: evictionReserve(this.options.eviction.thresholds),
      podConfig: this.podConfig,
      statuses: this.statuses,
      configObjects: this.configObjects,
      recorder,
      clock: this.#clock,
      logger: this.#log,
    });
  }

  /** Resolves once `uid`'s worker has nothing running or queued (tests and benchmarks). */
  whenPodIdle(uid: string): Promise<void> {
    return this.#workers.whenIdle(uid);
  }

  async #timed<T>(operation: string, work: () => Promise<T>): Promise<T> {
    const started = performance.now();
    try {
      return await work();
    } finally {
      this.#metrics.podWorkerDuration.observe({ operation }, (performance.now() - started) / 1000);
    }
  }

  #handlePodUpdate(update: PodUpdate): void {
    const workers = this.#workers;
    for (const pod of update.op === 'ADD' ? this.#admissionOrder(update.pods) : update.pods) {
      const deletion = pod.metadata.deletionTimestamp;
      if (update.op === 'REMOVE') {
        workers.update({ type: 'kill', uid: pod.metadata.uid, pod });
        this.cluster?.forget(pod.metadata.uid);
      }
      // Deleted in the API server: terminate it within the grace period the deletion gave; one
      // whose containers are gone already (it completed) is done with at once.
      else if (deletion && workers.state(pod.metadata.uid) === 'terminated') this.cluster?.terminated(pod);
      else if (deletion) workers.update({ type: 'kill', uid: pod.metadata.uid, pod, ...gracePeriod(pod.metadata.deletionGracePeriodSeconds) });
      else {
        // A pod new to the node is admitted first; a rejected one still gets a worker, whose
        // first sync reports it Failed and starts nothing.
        if (update.op === 'ADD' && !workers.has(pod.metadata.uid)) this.#admission.admit(pod, this.#activePods());
        workers.update({ type: update.op === 'ADD' ? 'create' : 'sync', pod });
      }
    }
  }

  /**
   * The order pods are admitted in: those whose containers already run here first (an agent that
   * restarts keeps what it ran, whatever order the files are read in), then by creation time, as
   * the kubelet's HandlePodAdditions sorts them.
   */
  #admissionOrder(pods: readonly DefaultedPod[]): DefaultedPod[] {
    const running = new Set(this.#pleg.runningPods().map((runningPod) => runningPod.pod.uid));
    const created = (pod: DefaultedPod): number => Date.parse(pod.metadata.creationTimestamp ?? '') || 0;
    return [...pods].sort((a, b) => Number(running.has(b.metadata.uid)) - Number(running.has(a.metadata.uid)) || created(a) - created(b));
  }

  /** What the runtime runs of the pod `uid`, as PLEG last saw it. */
  #running(uid: string): RunningPod | undefined {
    return this.#pleg.runningPods().find((p) => p.pod.uid === uid);
  }

  /** The pods that hold a place on the node: admitted, with a worker syncing or terminating them, and not done. */
  #activePods(): DefaultedPod[] {
    return this.podConfig.pods().filter((pod) => {
      const uid = pod.metadata.uid;
      const phase = this.statuses.get(uid)?.phase;
      const state = this.#workers.state(uid);
      return (state === 'syncing' || state === 'terminating') && !this.#admission.rejection(uid) && !isTerminalPhase(phase);
    });
  }

  #syncIfWanted(uid: string): void {
    const pod = this.podConfig.pod(uid);
    if (pod) this.#workers.update({ type: 'sync', pod });
  }

  /** HandlePodCleanups: orphaned pods and pod directories; runs every 2 s. */
  async #housekeep(): Promise<void> {
    this.#lastHousekeeping = this.#clock.now();
    this.#crashBackoff.gc();
    this.#imageBackoff.gc();
    // Mirror pods a failed call left out of line (the API server was away) are made right here.
    this.cluster?.reconcileMirrors();
    const sources = this.#sources.map((source) => source.name);
    if (!this.podConfig.seenAll(sources)) return;
    const workers = this.#workers;
    const running = this.#pleg.runningPods();
    await this.#qos.cleanupOrphanedPodCgroups((uid) => !!this.podConfig.pod(uid) || workers.has(uid) || running.some((p) => p.pod.uid === uid));
    for (const runningPod of running) {
      const uid = runningPod.pod.uid;
      if (this.podConfig.pod(uid) || workers.has(uid)) continue;
      this.#log.info({ pod: `${runningPod.pod.namespace}/${runningPod.pod.name}`, podUID: uid }, 'killing a pod no source wants any more');
      workers.update({ type: 'kill', uid, runningPod });
    }
    try {
      const known = new Set(running.map((p) => p.pod.uid));
      const podDirs = await readdir(this.#rootDir.podsDir());
      for (const uid of podDirs) {
        if (known.has(uid) || this.podConfig.pod(uid) || workers.has(uid)) continue;
        await this.#volumes.tearDownPod(uid);
        this.#log.info({ podUID: uid }, 'removed the directory of a pod that is gone');
      }
      await this.#reclaimClaims(await readdir(this.#rootDir.podsDir()));
    } catch (err) {
      this.#log.warn({ err: errorMessage(err) }, 'cleaning pod directories failed');
    }
  }

  /**
   * A lone host's claims no manifest declares any more are reclaimed once no pod can use them:
   * none desired names them, and every other pod still on the node (its directory not yet
   * removed: one being killed) has had its volumes set up by this agent, so that its claims are
   * known. Until then, nothing is.
   */
  async #reclaimClaims(podDirs: readonly string[]): Promise<void> {
    const inUse = new Set<string>();
    for (const pod of this.podConfig.pods()) {
      for (const volume of pod.spec.volumes ?? []) if (volume.persistentVolumeClaim) inUse.add(`${pod.metadata.namespace}/${volume.persistentVolumeClaim.claimName}`);
    }
    for (const uid of podDirs) {
      if (this.podConfig.pod(uid)) continue;
      const claims = this.#volumes.claimsOf(uid);
      if (claims === undefined) return;
      for (const claim of claims) inUse.add(`${claim.namespace}/${claim.name}`);
    }
    await this.#localClaims.reclaim(inUse);
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
