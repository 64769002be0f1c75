import { describe, expect, test } from 'vitest';
import type { Node } from '../../../../common/api/types.js';
import { KubeApiError } from '../../../../common/kube-api/kube-client.js';
import { NodeLeaseController, type Lease } from '../../../../agent/node/node-lease.js';
import { NodeStatusManager } from '../../../../agent/node/node-status-manager.js';
import type { NodeObservation, NodeStatusSettings } from '../../../../agent/node/node-status.js';
import { memoryLogger } from '../../../helpers/memory-logger.js';
import { FakeKubeApi } from './fake-kube-api.js';

const settings: NodeStatusSettings = {
  nodeName: 'n1',
  hostname: 'n1',
  nodeIPs: ['10.0.0.5'],
  kubeletPort: 10250,
  arch: 'amd64',
  evictionReserve: {},
};

const healthy: NodeObservation = {
  capacity: { milliCpu: 2000, memoryBytes: 2 ** 34, ephemeralStorageBytes: 2 ** 36, pods: 110 },
  pressure: new Set(),
  notReadyReasons: [],
  system: {
    machineID: 'm',
    systemUUID: 'u',
    bootID: 'b',
    kernelVersion: 'k',
    osImage: 'o',
    containerRuntimeVersion: 'docker://20.10.24',
    kubeletVersion: 'v1.32.0',
    operatingSystem: 'linux',
    architecture: 'amd64',
  },
};

function setup(observations: NodeObservation[] = [healthy]) {
  const api = new FakeKubeApi();
  let now = Date.parse('2026-11-23T10:00:00Z');
  const clock = { now: () => now };
  let observed = 0;
  const events: string[] = [];
  const manager = new NodeStatusManager({
    client: api,
    settings,
    nodeLabels: { zone: 'a' },
    taints: [],
    observe: async () => observations[Math.min(observed++, observations.length - 1)]!,
    updateFrequencyMs: 10_000,
    reportFrequencyMs: 300_000,
    recorder: { event: (object, type, reason, message) => events.push(`${object.kind}/${object.name}/${object.uid} ${type} ${reason}: ${message}`) },
    clock,
    logger: memoryLogger().logger,
  });
  return { api, manager, events, advance: (ms: number) => (now += ms) };
}

describe('NodeStatusManager: registration', () => {
  test('creates the Node with its labels and a status; the UID is known after', async () => {
    const { api, manager } = setup();
    await manager.register();
    const node = api.objects.get('/api/v1/nodes/n1') as Node;
    expect(node.metadata?.labels).toMatchObject({ 'kubernetes.io/hostname': 'n1', zone: 'a' });
    expect(node.status?.conditions?.at(-1)).toMatchObject({ type: 'Ready', status: 'True' });
    expect(manager.uid).toBe('uid-n1');
  });

  test('adopts a Node already there: only the default labels that differ are patched', async () => {
    const { api, manager } = setup();
    api.objects.set('/api/v1/nodes/n1', { metadata: { name: 'n1', uid: 'old', labels: { 'kubernetes.io/hostname': 'stale', keep: 'me' } } });
    await manager.register();
    const patches = api.callsOf('patch', '/api/v1/nodes/n1');
    expect(patches).toHaveLength(1);
    expect((patches[0]!.body as Node).metadata?.labels).toEqual({
      'beta.kubernetes.io/arch': 'amd64',
      'beta.kubernetes.io/os': 'linux',
      'kubernetes.io/arch': 'amd64',
      'kubernetes.io/hostname': 'n1',
      'kubernetes.io/os': 'linux',
    });
    expect(manager.uid).toBe('old');
  });

  test('an adopted Node whose labels are right is not patched', async () => {
    const { api, manager } = setup();
    await manager.register();
    const fresh = setup();
    fresh.api.objects.set('/api/v1/nodes/n1', api.objects.get('/api/v1/nodes/n1')!);
    await fresh.manager.register();
    expect(fresh.api.callsOf('patch')).toEqual([]);
  });

  test('another error is thrown (the loop retries it)', async () => {
    const { api, manager } = setup();
    api.failures.push(new KubeApiError('POST', '/api/v1/nodes', 403, JSON.stringify({ kind: 'Status', reason: 'Forbidden', message: 'no' })));
    await expect(manager.register()).rejects.toThrow('POST /api/v1/nodes: 403 Forbidden: no');
    expect(manager.uid).toBeUndefined();
  });
});

describe('NodeStatusManager: node events', () => {
  test('Starting once registered; each condition as first reported, then as it changes', async () => {
    const { manager, events, advance } = setup([healthy, healthy, healthy, { ...healthy, notReadyReasons: ['x'] }]);
    await manager.register();
    expect(events).toEqual(['Node/n1/n1 Normal Starting: Starting kubelet.']);
    await manager.update();
    expect(events.slice(1)).toEqual([
      'Node/n1/n1 Normal NodeHasSufficientMemory: Node n1 status is now: NodeHasSufficientMemory',
      'Node/n1/n1 Normal NodeHasNoDiskPressure: Node n1 status is now: NodeHasNoDiskPressure',
      'Node/n1/n1 Normal NodeHasSufficientPID: Node n1 status is now: NodeHasSufficientPID',
      'Node/n1/n1 Normal NodeReady: Node n1 status is now: NodeReady',
    ]);
    advance(300_000);
    await manager.update();
    expect(events).toHaveLength(5);
    advance(10_000);
    await manager.update();
    expect(events.at(-1)).toBe('Node/n1/n1 Normal NodeNotReady: Node n1 status is now: NodeNotReady');
  });
});

describe('NodeStatusManager: status updates', () => {
  test('unchanged, the status is not sent again until the report frequency has passed', async () => {
    const { api, manager, advance } = setup();
    await manager.register();
    expect(await manager.update()).toBe(true);
    advance(10_000);
    expect(await manager.update()).toBe(false);
    advance(289_999);
    expect(await manager.update()).toBe(false);
    advance(1);
    expect(await manager.update()).toBe(true);
    expect(api.callsOf('patch', '/api/v1/nodes/n1/status')).toHaveLength(2);
  });

  test('a change is sent at once, with the transition time moved and addresses replaced whole', async () => {
    const { api, manager, advance } = setup([healthy, healthy, { ...healthy, notReadyReasons: ['container runtime is down: x'] }]);
    await manager.register();
    await manager.update();
    advance(10_000);
    expect(await manager.update()).toBe(true);
    const patch = api.callsOf('patch', '/api/v1/nodes/n1/status').at(-1)!.body as { status: { conditions: Array<Record<string, string>>; addresses: unknown[] } };
    expect(patch.status.conditions.at(-1)).toMatchObject({
      type: 'Ready',
      status: 'False',
      reason: 'KubeletNotReady',
      message: 'container runtime is down: x',
      lastTransitionTime: '2026-11-23T10:00:10Z',
    });
    expect(patch.status.addresses).toEqual([{ $patch: 'replace' }, { type: 'InternalIP', address: '10.0.0.5' }, { type: 'Hostname', address: 'n1' }]);
  });

  test("conditions someone else changed in the API server (the node controller's Unknown) are put right at the next update, not at the next report", async () => {
    const { api, manager, events, advance } = setup();
    await manager.register();
    await manager.update();
    const node = api.objects.get('/api/v1/nodes/n1') as Node;
    const ready = node.status!.conditions!.find((condition) => condition.type === 'Ready')!;
    Object.assign(ready, { status: 'Unknown', reason: 'NodeStatusUnknown', message: 'Kubelet stopped posting node status.', lastTransitionTime: '2026-11-23T10:00:05Z' });
    advance(10_000);
    expect(await manager.update()).toBe(true);
    const sent = (api.callsOf('patch', '/api/v1/nodes/n1/status').at(-1)!.body as Node).status!.conditions!;
    expect(sent.find((condition) => condition.type === 'Ready')).toMatchObject({ status: 'True', reason: 'KubeletReady', lastTransitionTime: '2026-11-23T10:00:10Z' });
    expect(sent.find((condition) => condition.type === 'MemoryPressure')!.lastTransitionTime).toBe('2026-11-23T10:00:00Z');
    expect(events.at(-1)).toBe('Node/n1/n1 Normal NodeReady: Node n1 status is now: NodeReady');
    // The Node is read from the API server's cache, as the kubelet reads it.
    expect(api.callsOf('get', '/api/v1/nodes/n1').at(-1)!.query).toEqual({ resourceVersion: '0' });
    advance(10_000);
    expect(await manager.update()).toBe(false);
  });

  test('a failed PATCH is tried five times in all, then thrown; the next update sends again', async () => {
    const { api, manager } = setup();
    await manager.register();
    const failure = new KubeApiError('PATCH', '/api/v1/nodes/n1/status', 500, 'boom');
    api.failuresOf.set('patch', [failure, failure, failure, failure, failure]);
    await expect(manager.update()).rejects.toThrow('500');
    expect(api.callsOf('patch', '/api/v1/nodes/n1/status')).toHaveLength(5);
    // Each try reads the Node again: from the cache first, from storage after a failure.
    expect(api.callsOf('get', '/api/v1/nodes/n1').slice(-5).map((call) => call.query ?? {})).toEqual([{ resourceVersion: '0' }, {}, {}, {}, {}]);
    expect(await manager.update()).toBe(true);
  });

  test("the API server's conditions as it sends them (Go's field order, another's condition among them) are no change: no PATCH before the report is due", async () => {
    const { api, manager, advance } = setup();
    await manager.register();
    await manager.update();
    const node = api.objects.get('/api/v1/nodes/n1') as Node;
    const apiOrder = node.status!.conditions!.map(({ type, status, lastHeartbeatTime, lastTransitionTime, reason, message }) => ({ type, status, lastHeartbeatTime, lastTransitionTime, reason, message }));
    const network = { type: 'NetworkUnavailable', status: 'False', lastHeartbeatTime: '2026-11-23T09:00:00Z', lastTransitionTime: '2026-11-23T09:00:00Z', reason: 'RouteCreated', message: 'set by the cloud' };
    node.status!.conditions = [network, ...apiOrder.reverse()];
    const patches = api.callsOf('patch', '/api/v1/nodes/n1/status').length;
    advance(10_000);
    expect(await manager.update()).toBe(false);
    expect(api.callsOf('patch', '/api/v1/nodes/n1/status')).toHaveLength(patches);
  });
});

describe('NodeStatusManager: what the node takes from its Node', () => {
  test('each update gives the Node just read to applyNodeSpec before the status is computed, so a pod subnet found there is in that status', async () => {
    const api = new FakeKubeApi();
    const seen: Array<string | undefined> = [];
    let networkReady = false;
    const manager = new NodeStatusManager({
      client: api,
      settings,
      nodeLabels: {},
      taints: [],
      observe: async () => ({ ...healthy, notReadyReasons: networkReady ? [] : ['container runtime network not ready'] }),
      applyNodeSpec: async (node) => {
        seen.push(node.spec?.podCIDR);
        networkReady ||= node.spec?.podCIDR !== undefined;
      },
      updateFrequencyMs: 10_000,
      reportFrequencyMs: 300_000,
      recorder: { event: () => undefined },
      clock: { now: () => 0 },
      logger: memoryLogger().logger,
    });
    api.objects.set('/api/v1/nodes/n1', { metadata: { name: 'n1', uid: 'u1' }, spec: { podCIDR: '10.244.3.0/24' } });
    await manager.register();
    await manager.update();
    expect(seen).toEqual(['10.244.3.0/24']);
    const patch = api.callsOf('patch', '/api/v1/nodes/n1/status').at(-1)!.body as { status: Node['status'] };
    expect(patch.status?.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'True' });
  });
});

describe('NodeLeaseController', () => {
  function lease(api: FakeKubeApi, uid?: string) {
    let now = Date.parse('2026-11-23T10:00:00.123Z');
    const controller = new NodeLeaseController({
      client: api,
      nodeName: 'n1',
      nodeUid: () => uid,
      leaseDurationSeconds: 40,
      clock: { now: () => now },
      logger: memoryLogger().logger,
    });
    return { controller, advance: (ms: number) => (now += ms) };
  }
  const path = '/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/n1';

  test('renews every quarter of the lease duration', () => {
    expect(lease(new FakeKubeApi()).controller.renewIntervalMs).toBe(10_000);
  });

  test('creates the Lease held by the node, owned by its Node, with a MicroTime renewTime', async () => {
    const api = new FakeKubeApi();
    await lease(api, 'node-uid').controller.renew();
    const created = api.objects.get(path) as unknown as Lease;
    expect(created.spec).toEqual({ holderIdentity: 'n1', leaseDurationSeconds: 40, renewTime: '2026-11-23T10:00:00.123000Z' });
    expect(created.metadata.ownerReferences).toEqual([{ apiVersion: 'v1', kind: 'Node', name: 'n1', uid: 'node-uid' }]);
  });

  test('later renewals replace it from the last one written, with no GET', async () => {
    const api = new FakeKubeApi();
    const { controller, advance } = lease(api, 'node-uid');
    await controller.renew();
    advance(10_000);
    await controller.renew();
    expect(api.calls.map((call) => call.verb)).toEqual(['get', 'create', 'replace']);
    expect((api.objects.get(path) as unknown as Lease).spec.renewTime).toBe('2026-11-23T10:00:10.123000Z');
  });

  test('the owner reference is added once the Node is known', async () => {
    const api = new FakeKubeApi();
    let uid: string | undefined;
    const controller = new NodeLeaseController({ client: api, nodeName: 'n1', nodeUid: () => uid, leaseDurationSeconds: 40, clock: { now: () => 0 }, logger: memoryLogger().logger });
    await controller.renew();
    expect((api.objects.get(path) as unknown as Lease).metadata.ownerReferences).toBeUndefined();
    uid = 'node-uid';
    await controller.renew();
    expect((api.objects.get(path) as unknown as Lease).metadata.ownerReferences).toEqual([expect.objectContaining({ uid: 'node-uid' })]);
  });

  test('after a conflict the Lease is read afresh', async () => {
    const api = new FakeKubeApi();
    const { controller } = lease(api, 'node-uid');
    await controller.renew();
    // Someone else renewed it meanwhile.
    const current = api.objects.get(path)!;
    api.objects.set(path, { ...current, metadata: { ...current.metadata, resourceVersion: '99' } });
    await expect(controller.renew()).rejects.toThrow('409');
    await controller.renew();
    expect(api.calls.map((call) => call.verb)).toEqual(['get', 'create', 'replace', 'get', 'replace']);
  });
});
