/**
 * A node for a test: the agent and the service proxy (with the cluster DNS) in this process, on
 * an address slice of its own (address-slices.ts), with a session directory that says what it
 * made (sessions.ts). Built by the same function as `dockerlet up` (cli/node.ts), from flags of
 * its own, so it behaves as the kubelet and kube-proxy of `dockerlet up` do.
 *
 *   startNode()   reap dead sessions -> take the node name -> take an address slice -> start
 *   apply()       manifests validated, written to the node's manifest directory, read by the agent
 *   waitForPods() every pod (or the named ones) ready or complete; a report of why not otherwise
 *   serviceUrl()  a Service's ClusterIP (on lo, reachable from this process) or node port
 *   stop()        the node stopped, then everything it made removed: containers, pod network,
 *                 service addresses, mounts, directories
 */
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { pino, type Logger } from 'pino';
import { DockerletError } from '../common/api/errors.js';
import type { Pod, Service, ServicePort } from '../common/api/types.js';
import type { HostLock } from '../common/util/host-lock.js';
import { delay } from '../common/util/clock.js';
import { parseDuration } from '../common/util/duration.js';
import type { KubeApi } from '../common/kube-api/kube-client.js';
import { dnsLabel } from '../agent/config/validation/names.js';
import type { Kubelet } from '../agent/kubelet.js';
import { assembleNode, prepareNode, type DockerletNode } from '../cli/node.js';
import { Defaults } from '../cli/options.js';
import { ProxyDefaults } from '../cli/proxy-options.js';
import { servicePortId } from '../proxy/config/proxy-state.js';
import { resolveUpOptions } from '../cli/up-options.js';
import { ExecCommandRunner } from '../common/util/command-runner.js';
import { checkServiceGuard } from '../proxy/host-guard.js';
import type { AddressSlice } from './address-slices.js';
import type { AppliedObject, ContainerOptions, ExecResult, LogOptions, ManifestInput, PodWaitOptions, ServiceUrlOptions, StartNodeOptions, TestNode } from './api.js';
import { execIn, readLogs } from './container-io.js';
import { ManifestDirectory } from './manifest-directory.js';
import { readInputs } from './manifest-inputs.js';
import { formatPodReports, podProgress } from './pod-progress.js';
import { reportOn, waitForPods, type PodWatch } from './pod-waits.js';
import { DefaultSessionsDir, reapDeadSessions, removeSession, saveRecord, takeAddressSlice, takeSession, type SessionPaths, type SessionRecord } from './sessions.js';
import { ApiObjects } from './api-objects.js';

const DefaultWaitMs = 120_000;
const ServiceWaitMs = 30_000;

function timeoutMs(timeout: number | string | undefined): number {
  if (timeout === undefined) return DefaultWaitMs;
  const ms = typeof timeout === 'number' ? timeout : parseDuration(timeout);
  if (ms === undefined || !(ms > 0)) throw new DockerletError('DKL_ERR_BAD_REQUEST', `timeout: invalid value ${JSON.stringify(timeout)}: give milliseconds or a duration such as "90s" or "5m"`);
  return ms;
}

/** Starts a node; rejects, leaving nothing behind, when it cannot. */
export function startNode(options: StartNodeOptions = {}): Promise<TestNode> {
  return launchNode(options, 'library');
}

/** startNode() for `startedBy`: `dockerlet down` stops only the nodes `dockerlet run` started. */
export async function launchNode(options: StartNodeOptions, startedBy: SessionRecord['startedBy']): Promise<TestNode> {
  const log = options.logger ?? pino({ level: 'warn', base: { pid: process.pid } }, pino.destination({ fd: 2, sync: false }));
  const nodeName = options.name ?? `dockerlet-${randomBytes(4).toString('hex')}`;
  if (!dnsLabel.safeParse(nodeName).success) throw new DockerletError('DKL_ERR_BAD_REQUEST', `name: invalid value ${JSON.stringify(nodeName)}: a node name here must be a DNS label (lower case letters, digits and '-', at most 63)`);
  const sessionsDir = resolve(options.sessionsDir ?? DefaultSessionsDir);
  const socket = options.containerRuntimeEndpoint ?? Defaults.containerRuntimeEndpoint;
  await reapDeadSessions(sessionsDir, log);
  const { paths, lock: sessionLock } = await takeSession(sessionsDir, nodeName, log);
  const locks: HostLock[] = [sessionLock];
  let node: DockerletNode | undefined;
  try {
    const { slice, lock: sliceLock } = await takeAddressSlice(paths, { pid: process.pid, nodeName }, log);
    locks.unshift(sliceLock);
    // A joined node's Services are the cluster's, with their ClusterIPs; a lone node's, its slice's.
    const serviceCIDR = options.kubeconfig ? (options.serviceCIDR ?? ProxyDefaults.serviceClusterIpRange) : slice.serviceCIDR.text;
    // A URL kept after stop() would send its packets off this host: a test node runs only where the guard refuses them.
    const guard = await checkServiceGuard(new ExecCommandRunner(), serviceCIDR);
    if (!guard.covered) {
      throw new DockerletError('DKL_ERR_RUNTIME', `${guard.reason}: traffic to a test node's Service address could leave this host once the node stops; run dockerlet's scripts/setup-host.sh (as root) once on this host, which installs the guard`);
    }
    const podNetwork = `dockerlet-s${slice.index}`;
    // A root cgroup of its own: nodes side by side on a host never weigh each other's pods.
    const podsCgroup = `dockerlet-${nodeName}`;
    const record: SessionRecord = {
      nodeName,
      pid: process.pid,
      startedAt: new Date().toISOString(),
      startedBy,
      slice: slice.index,
      podNetwork,
      serviceCIDR,
      dockerSocket: socket.replace(/^unix:\/\//, ''),
      podsCgroup,
      ...(options.kubeconfig ? { cluster: { kubeconfig: options.kubeconfig, objects: [] } } : {}),
    };
    await saveRecord(paths, record);
    const { options: nodeOptions } = await resolveUpOptions(
      {
        hostnameOverride: nodeName,
        rootDir: paths.rootDir,
        podManifestPath: paths.manifestDir,
        fileCheckFrequency: '1s',
        port: '0',
        readOnlyPort: '0',
        podCidr: slice.podCIDR.text,
        podNetwork,
        containerRuntimeEndpoint: socket,
        ...(options.resolvConf ? { resolvConf: options.resolvConf } : {}),
        ...(options.clusterDomain ? { clusterDomain: options.clusterDomain } : {}),
        // Joined, the node keeps the cluster's own pods off it: only what its test applies runs here.
        ...(options.kubeconfig ? { kubeconfig: options.kubeconfig, registerWithTaints: `${TestNodeTaint}:NoSchedule` } : {}),
        proxyMode: 'userspace',
        serviceClusterIpRange: serviceCIDR,
        serviceNodePortRange: `${slice.nodePorts.min}-${slice.nodePorts.max}`,
        healthzBindAddress: '127.0.0.1:0',
      },
      log,
    );
    // The engine is the user's too: a test node never removes their images. Nor does it evict a
    // test's pods because the machine it runs on is short of memory or disk.
    nodeOptions.agent.imageGC = { ...nodeOptions.agent.imageGC, highThresholdPercent: 100, maximumAgeMs: 0 };
    nodeOptions.agent.eviction = { ...nodeOptions.agent.eviction, thresholds: [] };
    nodeOptions.agent.podsCgroup = podsCgroup;
    nodeOptions.proxy.options.scope = { kind: 'service-cidr', serviceCIDR };
    // Node ports for the test on this host only, not for every network the host is on.
    nodeOptions.proxy.options.nodePortAddress = '127.0.0.1';
    const inputs = await prepareNode(nodeOptions);
    node = assembleNode(nodeOptions, inputs, { logger: log });
    const stopping = new AbortController();
    const objects: ObjectStore = inputs.agentClient
      ? new ApiObjects(inputs.agentClient, nodeName, async (applied) => saveRecord(paths, { ...record, cluster: { kubeconfig: options.kubeconfig!, objects: [...applied] } }))
      : new ManifestDirectory(paths.manifestDir, nodeName, stopping.signal);
    const started = new StartedNode({ node, slice, serviceCIDR, objects, paths, locks, log, stopping });
    await node.start();
    // Joined once the Node is registered, as a test that lists the cluster's nodes expects.
    if (inputs.agentClient) await waitForNode(inputs.agentClient, nodeName);
    return started;
  } catch (err) {
    await node?.stop().catch(() => undefined);
    await removeSession(paths, log).catch((cleanupErr: unknown) => log.error({ err: cleanupErr }, 'could not remove what the node made; the next start reaps it'));
    await Promise.all(locks.map((lock) => lock.release()));
    throw err;
  }
}

/** How long a joined node may take to register. */
const RegisterWaitMs = 60_000;

async function waitForNode(client: KubeApi, nodeName: string): Promise<void> {
  const deadline = Date.now() + RegisterWaitMs;
  for (;;) {
    if (await client.get(`/api/v1/nodes/${nodeName}`).then(() => true, () => false)) return;
    if (Date.now() > deadline) throw new DockerletError('DKL_ERR_WAIT_TIMEOUT', `node ${nodeName} did not register with the API server within ${RegisterWaitMs / 1000} s: see the node's log`);
    await delay(200, undefined, true);
  }
}

/** Taint a joined test node registers with, NoSchedule: the scheduler puts none of the cluster's pods on it. */
const TestNodeTaint = 'dockerlet.io/test-node';

/** Where apply() puts objects: a lone node's manifest directory, or a joined node's API server. */
type ObjectStore = ManifestDirectory | ApiObjects;

class StartedNode implements TestNode {
  readonly name: string;
  /** The pods' subnet, the Services' ClusterIP range and the node ports this node uses. */
  readonly addresses: { podCIDR: string; serviceCIDR: string; nodePorts: { min: number; max: number } };
  readonly #node: DockerletNode;
  readonly #paths: SessionPaths;
  readonly #locks: readonly HostLock[];
  readonly #log: Logger;
  readonly #objects: ObjectStore;
  readonly #podListeners = new Set<() => void>();
  /** Aborted by stop(): every wait of the node's ends at once. */
  readonly #stopping: AbortController;
  #stopped: Promise<void> | undefined;

  constructor(parts: { node: DockerletNode; slice: AddressSlice; serviceCIDR: string; objects: ObjectStore; paths: SessionPaths; locks: readonly HostLock[]; log: Logger; stopping: AbortController }) {
    const kubelet = parts.node.kubelet!;
    this.name = kubelet.options.nodeName;
    this.addresses = { podCIDR: parts.slice.podCIDR.text, serviceCIDR: parts.serviceCIDR, nodePorts: parts.slice.nodePorts };
    this.#node = parts.node;
    this.#paths = parts.paths;
    this.#locks = parts.locks;
    this.#log = parts.log;
    this.#objects = parts.objects;
    this.#stopping = parts.stopping;
    if (parts.objects instanceof ManifestDirectory) kubelet.onManifestObjects(parts.objects.onSnapshot);
    kubelet.onPodsChanged(() => {
      for (const listener of this.#podListeners) listener();
    });
  }

  #assertRunning(): void {
    if (this.#stopped) throw new DockerletError('DKL_ERR_BAD_REQUEST', `node ${this.name} is stopped`);
  }

  get #kubelet(): Kubelet {
    this.#assertRunning();
    return this.#node.kubelet!;
  }

  #asNamed({ kind, namespace, name }: AppliedObject): AppliedObject {
    return { kind, namespace, name: kind === 'Pod' ? this.#podName(name) : name };
  }

  async apply(...inputs: ManifestInput[]): Promise<AppliedObject[]> {
    const kubelet = this.#kubelet;
    const objects = await readInputs(inputs, this.name);
    await this.#objects.write(objects);
    const named = objects.map((object) => this.#asNamed(object));
    // A joined node learns its pods from the API server's watch: they are its once the agent has them.
    const pods = named.filter((object) => object.kind === 'Pod');
    await this.#until(`the agent has ${pods.map((pod) => pod.name).join(', ')}`, ServiceWaitMs, () =>
      pods.every((pod) => kubelet.podConfig.pods().some((known) => known.metadata.namespace === pod.namespace && known.metadata.name === pod.name)),
    );
    return named;
  }

  async delete(...inputs: ManifestInput[]): Promise<AppliedObject[]> {
    const kubelet = this.#kubelet;
    const objects = await readInputs(inputs, this.name);
    const uids = new Set(await this.#objects.remove(objects));
    await this.#until('the deleted pods stopped', DefaultWaitMs, async () => !(await kubelet.api.runningPods()).some((pod) => uids.has(pod.metadata?.uid ?? '')));
    return objects.map((object) => this.#asNamed(object));
  }

  pods(): Pod[] {
    return this.#kubelet.podsWithStatus();
  }

  services(): Service[] {
    this.#assertRunning();
    return [...this.#node.proxy!.config.services()];
  }

  onPodsChanged(listener: () => void): () => void {
    this.#podListeners.add(listener);
    return () => this.#podListeners.delete(listener);
  }

  pod(name: string, namespace = 'default'): Pod | undefined {
    const full = this.#podName(name);
    return this.pods().find((pod) => pod.metadata?.namespace === namespace && pod.metadata?.name === full);
  }

  waitForPods(names?: readonly string[], options: PodWaitOptions = {}): Promise<Pod[]> {
    const kubelet = this.#kubelet;
    const namespace = options.namespace ?? 'default';
    const watch: PodWatch = {
      current: () => {
        const pods = kubelet.podsWithStatus();
        if (!names) return pods;
        return names.map((name) => pods.find((pod) => pod.metadata?.namespace === namespace && pod.metadata?.name === this.#podName(name)) ?? { missing: `${namespace}/${this.#podName(name)}` });
      },
      subscribe: (listener) => this.onPodsChanged(listener),
      logTail: (pod, container, previous, lines) => this.#logTail(pod, container, previous, lines),
    };
    return waitForPods(watch, timeoutMs(options.timeout), this.#stopping.signal);
  }

  async troubleReport(pods: readonly Pod[]): Promise<string> {
    return formatPodReports(await reportOn({ logTail: (pod, container, previous, lines) => this.#logTail(pod, container, previous, lines) }, pods));
  }

  async #logTail(pod: Pod, container: string, previous: boolean, lines: number): Promise<string[]> {
    const text = await readLogs(this.#kubelet.api, { namespace: pod.metadata?.namespace ?? 'default', pod: pod.metadata?.name ?? '', container }, { previous, tailLines: lines });
    return text.split('\n').filter((line, index, all) => line !== '' || index < all.length - 1);
  }

  async waitForPod(name: string, options: PodWaitOptions = {}): Promise<Pod> {
    const [pod] = await this.waitForPods([name], options);
    return pod!;
  }

  logs(pod: string, options: ContainerOptions & LogOptions = {}): Promise<string> {
    return readLogs(this.#kubelet.api, this.#target(pod, options), options);
  }

  exec(pod: string, command: readonly string[], options: ContainerOptions & { stdin?: string } = {}): Promise<ExecResult> {
    return execIn(this.#kubelet.api, this.#target(pod, options), command, options.stdin);
  }

  async serviceUrl(name: string, options: ServiceUrlOptions = {}): Promise<string> {
    const proxy = this.#node.proxy!;
    const namespace = options.namespace ?? 'default';
    this.#assertRunning();
    const service = await this.#until(`Service ${namespace}/${name} on node ${this.name}`, ServiceWaitMs, () =>
      proxy.config.services().find((candidate) => candidate.metadata?.namespace === namespace && candidate.metadata?.name === name && candidate.spec?.clusterIP),
    );
    if (service.spec?.clusterIP === 'None' && !options.nodePort) {
      throw new DockerletError('DKL_ERR_BAD_REQUEST', `Service ${namespace}/${name} is headless (clusterIP None): it has no address of its own; reach its pods by their IPs (pods())`);
    }
    const port = servicePort(service, options.port);
    if (options.nodePort && !port.nodePort) throw new DockerletError('DKL_ERR_BAD_REQUEST', `Service ${namespace}/${name} port ${port.name ?? port.port} has no node port: it is of type ${service.spec?.type ?? 'ClusterIP'}`);
    // A Service that selects a Ready pod here is served once the proxy knows the pod as its
    // endpoint: at once on a lone node, a moment later on a joined one (EndpointSlices come from
    // the cluster's controller).
    if (this.pods().some((pod) => podProgress(pod) === 'ready' && selects(service, pod))) {
      const id = servicePortId(service, port);
      await this.#until(`an endpoint of Service ${namespace}/${name} in the proxy`, ServiceWaitMs, () => (proxy.config.state().endpoints.get(id)?.length ?? 0) > 0);
    }
    await proxy.synced();
    const [host, number] = options.nodePort ? ['127.0.0.1', port.nodePort] : [service.spec!.clusterIP!, port.port];
    return `${options.scheme ?? 'http'}://${host}:${number}`;
  }

  stop(): Promise<void> {
    if (!this.#stopped) {
      this.#stopping.abort(new DockerletError('DKL_ERR_RUNTIME', `node ${this.name} stopped`));
      this.#stopped = this.#teardown();
    }
    return this.#stopped;
  }

  async #teardown(): Promise<void> {
    this.#podListeners.clear();
    try {
      await this.#node.stop();
      // A joined node's objects in the cluster go with the rest, from the session record.
      await removeSession(this.#paths, this.#log);
    } finally {
      await Promise.all(this.#locks.map((lock) => lock.release()));
    }
  }

  /** A lone node's pods are static pods, <name>-<node>; a joined node's are the API server's, named as applied. */
  #podName(name: string): string {
    if (this.#objects instanceof ApiObjects) return name;
    return name.endsWith(`-${this.name}`) ? name : `${name}-${this.name}`;
  }

  #target(pod: string, options: ContainerOptions): { namespace: string; pod: string; container: string } {
    const namespace = options.namespace ?? 'default';
    const found = this.pod(pod, namespace);
    if (!found) throw new DockerletError('DKL_ERR_NOT_FOUND', `pod ${namespace}/${this.#podName(pod)} is not on node ${this.name}`);
    const container = options.container ?? found.spec?.containers?.[0]?.name;
    if (!container || !found.spec?.containers?.some((c) => c.name === container) && !found.spec?.initContainers?.some((c) => c.name === container)) {
      throw new DockerletError('DKL_ERR_NOT_FOUND', `pod ${namespace}/${found.metadata?.name} has no container ${container}`);
    }
    return { namespace, pod: found.metadata!.name!, container };
  }

  /** Polls `probe` until it gives a value, for at most `ms`; stop() ends it at once. */
  async #until<T>(what: string, ms: number, probe: () => T | undefined | false | Promise<T | undefined | false>): Promise<T> {
    const deadline = Date.now() + ms;
    for (;;) {
      this.#stopping.signal.throwIfAborted();
      const value = await probe();
      if (value) return value;
      if (Date.now() > deadline) throw new DockerletError('DKL_ERR_WAIT_TIMEOUT', `timed out after ${ms / 1000} s waiting for ${what}`);
      await delay(100, undefined, true);
    }
  }
}

/** Whether the Service's selector selects the pod (in its namespace). */
function selects(service: Service, pod: Pod): boolean {
  const selector = service.spec?.selector;
  if (!selector || Object.keys(selector).length === 0 || pod.metadata?.namespace !== service.metadata?.namespace) return false;
  return Object.entries(selector).every(([key, value]) => pod.metadata?.labels?.[key] === value);
}

function servicePort(service: Service, wanted: string | number | undefined): ServicePort {
  const ports = service.spec?.ports ?? [];
  const port = wanted === undefined ? ports[0] : ports.find((candidate) => candidate.name === wanted || candidate.port === wanted);
  if (!port) {
    const known = ports.map((candidate) => candidate.name ?? String(candidate.port)).join(', ');
    throw new DockerletError('DKL_ERR_NOT_FOUND', `Service ${service.metadata?.namespace}/${service.metadata?.name} has no port ${wanted ?? ''}: it has ${known || 'none'}`);
  }
  return port;
}
