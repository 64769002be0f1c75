/**
 * An in-process agent on the real Docker engine, with its own node name, manifest directory
 * and root dir, removed (containers by label, directories) when the test ends, pass or fail.
 */
import { mkdir, mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Dockerode from 'dockerode';
import { onTestFinished } from 'vitest';
import type { Pod } from '../../common/api/types.js';
import type { KubeApi } from '../../common/kube-api/kube-client.js';
import { parseIpv4Cidr } from '../../common/util/ipv4.js';
import type { Kubelet } from '../../agent/kubelet.js';
import type { KubeletOptions } from '../../agent/kubelet-options.js';
import { assembleNode, prepareNode, type NodeOptions } from '../../cli/node.js';
import { resolveAgentOptions } from '../../cli/options.js';
import type { ProxyMode } from '../../proxy/datapath/proxier.js';
import type { DnsEndpoint } from '../../proxy/dns/cluster-dns.js';
import { cleanupProxy, type ProxyOptions, type ServiceProxyNode } from '../../proxy/proxy.js';
import { docker, dockerExec, nodeContainers, removeNodeContainers } from './docker.js';
import { memoryLogger, type MemoryLogger } from './memory-logger.js';
import { unmountAll } from '../../agent/volumes/mounts.js';
import { removeNodeCgroups } from './cgroups.js';
import { DefaultPodsCgroup } from '../../agent/qos/qos-cgroups.js';
import { freePort, uniqueNodeName } from './test-node.js';
import { waitFor, type WaitOptions } from './wait-for.js';

export interface AgentHarness {
  kubelet: Kubelet;
  /** The service proxy, when the agent was started with one. */
  proxy?: ServiceProxyNode;
  nodeName: string;
  manifestDir: string;
  rootDir: string;
  log: MemoryLogger;
  writeManifest(file: string, content: string): Promise<void>;
  removeManifest(file: string): Promise<void>;
  /** The pod named `<name>-<node>` with its status, as /pods serves it. */
  pod(name: string): Pod | undefined;
  waitForPod(name: string, what: string, predicate: (pod: Pod) => boolean, options?: WaitOptions): Promise<Pod>;
  /** Docker containers of this node whose k8s container name is `container` (POD for sandboxes). */
  containers(container?: string): ReturnType<typeof nodeContainers>;
  /** The id of the newest running container named `container`; throws when there is none. */
  containerId(container: string): Promise<string>;
  /** Runs `command` in the newest running container named `container`. */
  exec(container: string, command: string[]): Promise<{ output: string; exitCode: number }>;
  /** Stops the agent (pods keep running). */
  stop(): Promise<void>;
  /** Starts a new agent on the same node, directories and manifests, as after a crash; `options` change its settings. */
  restart(options?: Partial<KubeletOptions>): Promise<AgentHarness>;
}

/**
 * The options `dockerlet agent` resolves for this node and directories, every other flag at its
 * default, with no HTTP servers, no image garbage collection (the engine's images are every
 * test's: only a test of its own engine may have them removed), no node-pressure thresholds
 * (no test depends on how full the host is), and a root cgroup of the node's own (nodeCgroup:
 * tests side by side never weigh each other's pods): a test that wants them sets its own.
 */
export async function defaultOptions(nodeName: string, rootDir: string, manifestDir: string): Promise<KubeletOptions> {
  const { options } = await resolveAgentOptions({ hostnameOverride: nodeName, rootDir, podManifestPath: manifestDir, port: '0', readOnlyPort: '0' });
  return { ...options, imageGC: { ...options.imageGC, highThresholdPercent: 100 }, eviction: { ...options.eviction, thresholds: [] }, podsCgroup: nodeCgroup(nodeName) };
}

/** The root cgroup of a test node's pods, as the library's test nodes have it. */
export function nodeCgroup(nodeName: string): string {
  return `dockerlet-${nodeName}`;
}

export interface StartAgentOptions {
  /** The node's name (default: a unique one); cluster-mode tests make its credentials first. */
  nodeName?: string;
  options?: Partial<KubeletOptions>;
  /** Manifests to write before the agent starts. */
  manifests?: Record<string, string>;
  /** No pod CIDR of its own: the node takes its Node's (cluster mode). */
  podCIDRFromNode?: boolean;
  /** Run the service proxy with this datapath next to the agent, as `dockerlet up` does. */
  proxy?: ProxyMode;
  /** The proxy takes Services and endpoints from this client's API server (`up --proxy-kubeconfig`), not from the manifests and pods. */
  proxyApi?: KubeApi;
  /**
   * The proxy serves the cluster DNS on the pod bridge's gateway, forwarding to `upstream`;
   * ClusterFirst pods are told to use it there, or at `serviceIP`, which the proxy routes to it.
   */
  clusterDns?: { upstream: DnsEndpoint; serviceIP?: string };
}

/** Where the cluster DNS listens in these tests, as `dockerlet up` puts it: the gateway of the default pod CIDR. */
export const ClusterDnsAddress = '10.244.0.1';

/** The service CIDR the host guard protects (scripts/setup-host.sh). */
export const ServiceCIDR = '10.96.0.0/16';

export async function startAgent(start: StartAgentOptions = {}): Promise<AgentHarness> {
  const nodeName = start.nodeName ?? uniqueNodeName();
  const base = await mkdtemp(join(tmpdir(), 'dockerlet-test-'));
  const manifestDir = join(base, 'manifests');
  const rootDir = join(base, 'root');
  await mkdir(manifestDir);
  for (const [file, content] of Object.entries(start.manifests ?? {})) await writeFile(join(manifestDir, file), content);
  const options = {
    ...(await defaultOptions(nodeName, rootDir, manifestDir)),
    ...(start.clusterDns ? { clusterDNS: [start.clusterDns.serviceIP ?? ClusterDnsAddress] } : {}),
    ...start.options,
  };
  if (start.podCIDRFromNode) delete options.podCIDR;
  const running = new Set<{ stop(): Promise<void> }>();
  const proxyOptions = start.proxy ? await proxyOptionsFor(start.proxy, join(base, 'proxy'), nodeName) : undefined;
  if (proxyOptions && start.clusterDns) {
    const { upstream, serviceIP } = start.clusterDns;
    proxyOptions.clusterDns = { listen: { host: ClusterDnsAddress, port: 53 }, ...(serviceIP ? { serviceIP } : {}), domain: options.clusterDomain, upstreams: [upstream] };
  }
  // One hook, in order: an agent still running would re-create the containers removed under it.
  onTestFinished(async () => {
    try {
      await Promise.all([...running].map((part) => part.stop()));
      // Refused, leaving every rule alone, while another proxy runs on this host.
      if (proxyOptions) await cleanupProxy(proxyOptions, memoryLogger().logger);
    } finally {
      try {
        // On the engine the node ran on: a private one's containers hold the node's cgroups until they go.
        await removeNodeContainers(nodeName, engineOf(options.containerRuntimeEndpoint)).catch((err: unknown) => console.warn(`agent-harness: could not remove the containers of ${nodeName}: ${String(err)}`));
      } finally {
        // Its pods' cgroups and its QoS classes', now that its containers are gone; never the shared default root.
        if (options.podsCgroup !== DefaultPodsCgroup) await removeNodeCgroups(options.podsCgroup);
        // A stopped agent leaves its pods' tmpfs mounts in place, as it leaves their containers.
        await unmountAll(base);
        await rm(base, { recursive: true, force: true });
      }
    }
  });
  return launch({ options, manifestDir, rootDir, running, proxyOptions, ...(start.proxyApi ? { proxyApi: start.proxyApi } : {}) });
}

/** The engine at a `unix://` endpoint: the shared one, or a test's private one. */
function engineOf(endpoint: string): Dockerode {
  const socketPath = endpoint.replace(/^unix:\/\//, '');
  return socketPath === '/var/run/docker.sock' ? docker : new Dockerode({ socketPath });
}

async function proxyOptionsFor(mode: ProxyMode, stateDir: string, nodeName: string): Promise<ProxyOptions> {
  return {
    mode,
    nodeName,
    serviceCIDR: parseIpv4Cidr(ServiceCIDR)!,
    podCIDR: parseIpv4Cidr('10.244.0.0/16')!,
    nodePortRange: { min: 30000, max: 32767 },
    stateDir,
    syncPeriodMs: 30_000,
    healthzBindAddress: { host: '127.0.0.1', port: await freePort() },
    remoteServiceProxy: false,
  };
}

interface LaunchSetup {
  options: KubeletOptions;
  manifestDir: string;
  rootDir: string;
  running: Set<{ stop(): Promise<void> }>;
  proxyOptions: ProxyOptions | undefined;
  proxyApi?: KubeApi;
}

async function launch(setup: LaunchSetup): Promise<AgentHarness> {
  const { options, manifestDir, rootDir, running, proxyOptions, proxyApi } = setup;
  const log = memoryLogger();
  // As `dockerlet up` does: the proxy follows the agent, or the API server when given a client of it.
  const nodeOptions: NodeOptions = {
    agent: options,
    ...(proxyOptions ? { proxy: { options: proxyOptions, feed: proxyApi ? { from: 'api' } : { from: 'agent' } } } : {}),
  };
  const node = assembleNode(nodeOptions, await prepareNode(nodeOptions, proxyApi ? { proxyClient: proxyApi } : {}), { logger: log.logger });
  running.add(node);
  await node.start();
  const kubelet = node.kubelet!;
  const proxy = node.proxy;
  const fullName = (name: string): string => `${name}-${options.nodeName}`;
  const harness: AgentHarness = {
    kubelet,
    ...(proxy ? { proxy } : {}),
    nodeName: options.nodeName,
    manifestDir,
    rootDir,
    log,
    writeManifest: (file, content) => writeFile(join(manifestDir, file), content),
    removeManifest: (file) => unlink(join(manifestDir, file)),
    pod(name) {
      const pod = kubelet.podConfig.pods().find((p) => p.metadata.name === fullName(name));
      if (!pod) return undefined;
      const status = kubelet.statuses.get(pod.metadata.uid);
      return status ? { ...pod, status } : pod;
    },
    waitForPod(name, what, predicate, waitOptions) {
      return waitFor(`pod ${name}: ${what}`, () => {
        const pod = harness.pod(name);
        return pod && predicate(pod) ? pod : undefined;
      }, waitOptions);
    },
    async containers(container) {
      const all = await nodeContainers(options.nodeName);
      return container === undefined ? all : all.filter((c) => c.Labels['io.kubernetes.container.name'] === container);
    },
    async containerId(container) {
      const running = (await harness.containers(container)).filter((c) => c.State === 'running').sort((a, b) => b.Created - a.Created);
      if (!running[0]) throw new Error(`no running container ${container} on node ${options.nodeName}`);
      return running[0].Id;
    },
    async exec(container, command) {
      return dockerExec(await harness.containerId(container), command);
    },
    stop: () => kubelet.stop(),
    async restart(changed = {}) {
      await node.stop();
      running.delete(node);
      return launch({ ...setup, options: { ...setup.options, ...changed } });
    },
  };
  return harness;
}

/** Status helpers. */
export function containerStatus(pod: Pod, name: string) {
  return [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])].find((c) => c.name === name);
}

export function condition(pod: Pod, type: string): string | undefined {
  return pod.status?.conditions?.find((c) => c.type === type)?.status;
}

export function isReady(pod: Pod): boolean {
  return condition(pod, 'Ready') === 'True';
}

/** A one-container pod manifest running `script` in the busybox image. */
export function busyboxPod(name: string, script: string, extra: { spec?: string; container?: string } = {}): string {
  return `apiVersion: v1
kind: Pod
metadata:
  name: ${name}
spec:
  terminationGracePeriodSeconds: 2
${extra.spec ?? ''}  containers:
    - name: main
      image: dockerlet.local/busybox:1.35
      command: ["sh", "-c", ${JSON.stringify(script)}]
${extra.container ?? ''}`;
}
