import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { parseIpv4Cidr } from '../../../common/util/ipv4.js';
import type { KubeletOptions } from '../../../agent/kubelet-options.js';
import type { NodeFacts } from '../../../agent/node/node-facts.js';
import { assembleNode, prepareNode, type NodeOptions } from '../../../cli/node.js';
import type { ProxyOptions } from '../../../proxy/proxy.js';
import { resolveAgentOptions } from '../../../cli/options.js';
import { memoryLogger } from '../../helpers/memory-logger.js';
import { FakeKubeApi } from '../agent/node/fake-kube-api.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dockerlet-node-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const facts: NodeFacts = {
  name: 'node-1',
  hostIPs: ['192.168.1.10'],
  allocatable: { milliCpu: 2000, memoryBytes: 2 ** 32, ephemeralStorageBytes: 2 ** 36 },
  clusterDns: { servers: [], domain: 'cluster.local' },
  hostResolvConf: { nameservers: [], searches: [], options: [] },
};

let defaults: KubeletOptions;
beforeEach(async () => {
  defaults = (await resolveAgentOptions({ hostnameOverride: 'node-1', rootDir: join(dir, 'root'), podManifestPath: join(dir, 'manifests'), port: '0', readOnlyPort: '0' })).options;
});

const agentOptions = (extra: Partial<KubeletOptions> = {}): KubeletOptions => ({ ...defaults, ...extra });

const proxyOptions = (): ProxyOptions => ({
  mode: 'userspace',
  nodeName: 'node-1',
  serviceCIDR: parseIpv4Cidr('10.96.0.0/16')!,
  podCIDR: parseIpv4Cidr('10.244.0.0/16')!,
  nodePortRange: { min: 30000, max: 32767 },
  stateDir: join(dir, 'proxy'),
  syncPeriodMs: 30_000,
  healthzBindAddress: { host: '127.0.0.1', port: 0 },
  remoteServiceProxy: false,
});

const cluster = (kubeconfig: string): NonNullable<KubeletOptions['cluster']> => ({
  kubeconfig,
  nodeLabels: {},
  registerWithTaints: [],
  nodeStatusUpdateFrequencyMs: 10_000,
  nodeStatusReportFrequencyMs: 300_000,
  nodeLeaseDurationSeconds: 40,
  nodeRoutes: true,
});

/** A kubeconfig with a client certificate path that need not exist: reading it checks only its shape. */
async function kubeconfigFile(server: string): Promise<string> {
  const path = join(dir, 'kubeconfig');
  await writeFile(
    path,
    `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: ${server}, insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: abc}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`,
  );
  return path;
}

describe('prepareNode', () => {
  test("makes the agent's root dir and reads the host's facts", async () => {
    const options: NodeOptions = { agent: agentOptions({ nodeIPs: ['10.1.2.3'] }) };
    const inputs = await prepareNode(options);
    expect((await stat(join(dir, 'root'))).isDirectory()).toBe(true);
    expect(inputs.node?.name).toBe('node-1');
    expect(inputs.node?.hostIPs).toEqual(['10.1.2.3']);
    expect(inputs.node?.allocatable.ephemeralStorageBytes).toBeGreaterThan(0);
    expect(inputs.agentClient).toBeUndefined();
  });

  test("reads the agent's kubeconfig in cluster mode", async () => {
    const inputs = await prepareNode({ agent: agentOptions({ cluster: cluster(await kubeconfigFile('https://127.0.0.1:6443')) }) });
    expect(inputs.agentClient).toBeDefined();
  });

  test('a kubeconfig that cannot be used is refused naming the flag and the file', async () => {
    await expect(prepareNode({ agent: agentOptions({ cluster: cluster(join(dir, 'absent')) }) })).rejects.toThrow(`--kubeconfig ${join(dir, 'absent')}: `);
    const plain = await kubeconfigFile('http://127.0.0.1:8080');
    await expect(prepareNode({ agent: agentOptions({ cluster: cluster(plain) }) })).rejects.toThrow(`--kubeconfig ${plain}: server http://127.0.0.1:8080 must be an https:// URL`);
  });

  test('clients handed in are taken as they are: no kubeconfig is read', async () => {
    const client = new FakeKubeApi();
    const options: NodeOptions = { agent: agentOptions({ cluster: cluster(join(dir, 'absent')) }), proxy: { options: proxyOptions(), feed: { from: 'api' } } };
    const inputs = await prepareNode(options, { agentClient: client, proxyClient: client });
    expect([inputs.agentClient, inputs.proxyClient]).toEqual([client, client]);
  });

  test("an unusable proxy kubeconfig is named by the flag that gave it", async () => {
    const feed = { from: 'api', kubeconfig: { path: join(dir, 'absent'), flag: '--proxy-kubeconfig' } } as const;
    await expect(prepareNode({ proxy: { options: proxyOptions(), feed } })).rejects.toThrow(`--proxy-kubeconfig ${join(dir, 'absent')}: `);
  });

  test("a proxy fed by the API server needs a client or the proxy's kubeconfig", async () => {
    await expect(prepareNode({ proxy: { options: proxyOptions(), feed: { from: 'api' } } })).rejects.toThrow("missing the proxy's kubeconfig or client");
  });
});

describe('assembleNode', () => {
  const logger = memoryLogger().logger;

  test('dockerlet agent: a kubelet and no proxy', () => {
    const node = assembleNode({ agent: agentOptions() }, { node: facts }, { logger });
    expect(node.kubelet?.options.nodeName).toBe('node-1');
    expect(node.proxy).toBeUndefined();
  });

  test('dockerlet up: the kubelet and a proxy that follows it, nothing started', () => {
    const node = assembleNode({ agent: agentOptions(), proxy: { options: proxyOptions(), feed: { from: 'agent' } } }, { node: facts }, { logger });
    expect(node.kubelet).toBeDefined();
    expect(node.proxy?.config.synced()).toBe(false);
    expect(node.proxy?.listening).toBeUndefined();
  });

  test('dockerlet proxy: a proxy alone, its Services from manifests of its own', () => {
    const sources = { nodeName: 'node-1', staticPodPath: join(dir, 'manifests'), staticPodURLHeader: {}, fileCheckFrequencyMs: 20_000, httpCheckFrequencyMs: 20_000 };
    const node = assembleNode({ proxy: { options: proxyOptions(), feed: { from: 'manifests', sources, kubeletUrl: 'http://127.0.0.1:10255' } } }, {}, { logger });
    expect(node.kubelet).toBeUndefined();
    expect(node.proxy?.config.services()).toEqual([]);
  });

  test('a cluster node joins with the client prepareNode read', () => {
    const node = assembleNode({ agent: agentOptions({ cluster: cluster('/etc/kubernetes/kubelet.conf') }) }, { node: facts, agentClient: new FakeKubeApi() }, { logger });
    expect(node.kubelet?.cluster).toBeDefined();
  });

  test('what prepareNode provides is required', () => {
    expect(() => assembleNode({ agent: agentOptions() }, {}, { logger })).toThrow('assembleNode: missing the host facts (prepareNode provides the inputs)');
    expect(() => assembleNode({ agent: agentOptions({ cluster: cluster('/k') }) }, { node: facts }, { logger })).toThrow("missing the agent's API client");
    expect(() => assembleNode({ proxy: { options: proxyOptions(), feed: { from: 'agent' } } }, {}, { logger })).toThrow('missing the agent the proxy follows');
  });

  test('stop() of a node never started returns, and a second stop() too', async () => {
    const node = assembleNode({ agent: agentOptions(), proxy: { options: proxyOptions(), feed: { from: 'agent' } } }, { node: facts }, { logger });
    await expect(node.stop()).resolves.toBeUndefined();
    await expect(node.stop()).resolves.toBeUndefined();
  });
});
