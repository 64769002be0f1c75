import { describe, expect, test } from 'vitest';
import {
  computeNodeStatus,
  defaultNodeLabels,
  nodeStatusChanged,
  registrationNode,
  type NodeObservation,
  type NodeStatusSettings,
} from '../../../../agent/node/node-status.js';
import { osImage } from '../../../../agent/node/node-system-info.js';

const GiB = 2 ** 30;

const settings: NodeStatusSettings = {
  nodeName: 'node-1',
  hostname: 'node-1',
  nodeIPs: ['192.168.1.10'],
  evictionReserve: { memory: { quantity: 100 * 2 ** 20 }, ephemeralStorage: { percentage: 0.1 } },
  kubeletPort: 10250,
  arch: 'amd64',
};

const healthy: NodeObservation = {
  capacity: { milliCpu: 2000, memoryBytes: 24 * GiB, ephemeralStorageBytes: 100 * GiB, pods: 110 },
  pressure: new Set(),
  notReadyReasons: [],
  system: {
    machineID: 'm1',
    systemUUID: 'u1',
    bootID: 'b1',
    kernelVersion: '6.1.0-18-amd64',
    osImage: 'Debian GNU/Linux 12 (bookworm)',
    containerRuntimeVersion: 'docker://20.10.24',
    kubeletVersion: 'v1.32.0',
    operatingSystem: 'linux',
    architecture: 'amd64',
  },
};

const t0 = new Date('2026-11-23T10:00:00.250Z');
const t1 = new Date('2026-11-23T10:00:10.000Z');
const condition = (status: ReturnType<typeof computeNodeStatus>, type: string) => status.conditions!.find((c) => c.type === type)!;

describe('defaultNodeLabels', () => {
  test('hostname, os and arch (with the beta ones), then --node-labels over them', () => {
    expect(defaultNodeLabels(settings, { 'node-role.kubernetes.io/edge': '', 'kubernetes.io/os': 'linux' })).toEqual({
      'beta.kubernetes.io/arch': 'amd64',
      'beta.kubernetes.io/os': 'linux',
      'kubernetes.io/arch': 'amd64',
      'kubernetes.io/hostname': 'node-1',
      'kubernetes.io/os': 'linux',
      'node-role.kubernetes.io/edge': '',
    });
  });
});

describe('computeNodeStatus', () => {
  test('capacity in the kubelet units; allocatable less the hard eviction thresholds', () => {
    const status = computeNodeStatus(settings, healthy, [], t0);
    expect(status.capacity).toEqual({ cpu: '2', memory: `${24 * 1024 * 1024}Ki`, 'ephemeral-storage': `${100 * 1024 * 1024}Ki`, pods: '110', 'hugepages-1Gi': '0', 'hugepages-2Mi': '0' });
    expect(status.allocatable).toMatchObject({ cpu: '2', memory: `${24 * 1024 * 1024 - 100 * 1024}Ki`, 'ephemeral-storage': `${90 * 1024 * 1024}Ki`, pods: '110' });
  });

  test('allocatable leaves out what the hard eviction thresholds configured keep, and nothing without them', () => {
    const reserved = computeNodeStatus({ ...settings, evictionReserve: { memory: { percentage: 0.5 }, ephemeralStorage: { quantity: GiB } } }, healthy, [], t0);
    expect(reserved.allocatable).toMatchObject({ memory: `${12 * 1024 * 1024}Ki`, 'ephemeral-storage': `${99 * 1024 * 1024}Ki` });
    const none = computeNodeStatus({ ...settings, evictionReserve: {} }, healthy, [], t0);
    expect(none.allocatable).toMatchObject({ memory: `${24 * 1024 * 1024}Ki`, 'ephemeral-storage': `${100 * 1024 * 1024}Ki` });
  });

  test('a fractional CPU count is in millicores', () => {
    expect(computeNodeStatus(settings, { ...healthy, capacity: { ...healthy.capacity, milliCpu: 1500 } }, [], t0).capacity!['cpu']).toBe('1500m');
  });

  test('addresses, daemon endpoint and nodeInfo', () => {
    const status = computeNodeStatus(settings, healthy, [], t0);
    expect(status.addresses).toEqual([
      { type: 'InternalIP', address: '192.168.1.10' },
      { type: 'Hostname', address: 'node-1' },
    ]);
    expect(status.daemonEndpoints).toEqual({ kubeletEndpoint: { Port: 10250 } });
    expect(status.nodeInfo).toMatchObject({ containerRuntimeVersion: 'docker://20.10.24', kubeletVersion: 'v1.32.0', kubeProxyVersion: 'v1.32.0', osImage: 'Debian GNU/Linux 12 (bookworm)' });
  });

  test('a healthy node: three pressures False and Ready True, Ready last, with the kubelet reasons', () => {
    const status = computeNodeStatus(settings, healthy, [], t0);
    expect(status.conditions!.map((c) => [c.type, c.status, c.reason])).toEqual([
      ['MemoryPressure', 'False', 'KubeletHasSufficientMemory'],
      ['DiskPressure', 'False', 'KubeletHasNoDiskPressure'],
      ['PIDPressure', 'False', 'KubeletHasSufficientPID'],
      ['Ready', 'True', 'KubeletReady'],
    ]);
    expect(condition(status, 'Ready').message).toBe('kubelet is posting ready status');
    expect(condition(status, 'Ready').lastHeartbeatTime).toBe('2026-11-23T10:00:00Z');
  });

  test('the pressure node-pressure eviction raises is in the conditions', () => {
    const status = computeNodeStatus(settings, { ...healthy, pressure: new Set(['MemoryPressure', 'DiskPressure', 'PIDPressure']) }, [], t0);
    expect(condition(status, 'MemoryPressure')).toMatchObject({ status: 'True', reason: 'KubeletHasInsufficientMemory' });
    expect(condition(status, 'DiskPressure')).toMatchObject({ status: 'True', reason: 'KubeletHasDiskPressure' });
    expect(condition(status, 'PIDPressure')).toMatchObject({ status: 'True', reason: 'KubeletHasInsufficientPID', message: 'kubelet has insufficient PID available' });
  });

  test('not ready says why', () => {
    const status = computeNodeStatus(settings, { ...healthy, notReadyReasons: ['container runtime is down'] }, [], t0);
    expect(condition(status, 'Ready')).toMatchObject({ status: 'False', reason: 'KubeletNotReady', message: 'container runtime is down' });
  });

  test('the transition time is kept while a status holds, and moves when it changes', () => {
    const first = computeNodeStatus(settings, healthy, [], t0);
    const same = computeNodeStatus(settings, healthy, first.conditions!, t1);
    expect(condition(same, 'Ready').lastTransitionTime).toBe('2026-11-23T10:00:00Z');
    expect(condition(same, 'Ready').lastHeartbeatTime).toBe('2026-11-23T10:00:10Z');
    const down = computeNodeStatus(settings, { ...healthy, notReadyReasons: ['x'] }, first.conditions!, t1);
    expect(condition(down, 'Ready').lastTransitionTime).toBe('2026-11-23T10:00:10Z');
    expect(condition(down, 'MemoryPressure').lastTransitionTime).toBe('2026-11-23T10:00:00Z');
  });
});

describe('nodeStatusChanged', () => {
  test('a new heartbeat alone is no change; anything else is', () => {
    const first = computeNodeStatus(settings, healthy, [], t0);
    expect(nodeStatusChanged(first, computeNodeStatus(settings, healthy, first.conditions!, t1))).toBe(false);
    expect(nodeStatusChanged(first, computeNodeStatus(settings, { ...healthy, notReadyReasons: ['x'] }, first.conditions!, t1))).toBe(true);
    expect(nodeStatusChanged(first, computeNodeStatus(settings, { ...healthy, capacity: { ...healthy.capacity, pods: 10 } }, first.conditions!, t1))).toBe(true);
    expect(nodeStatusChanged(undefined, first)).toBe(true);
  });

  test('a new runtime version is a change, and nodeInfo carries it', () => {
    const first = computeNodeStatus(settings, healthy, [], t0);
    const upgraded = computeNodeStatus(settings, { ...healthy, system: { ...healthy.system, containerRuntimeVersion: 'docker://26.1.5' } }, first.conditions!, t1);
    expect(upgraded.nodeInfo?.containerRuntimeVersion).toBe('docker://26.1.5');
    expect(nodeStatusChanged(first, upgraded)).toBe(true);
  });
});

describe('registrationNode', () => {
  test('labels, the attach-detach annotation, taints and status', () => {
    const status = computeNodeStatus(settings, healthy, [], t0);
    const node = registrationNode(settings, { zone: 'a' }, [{ key: 'dedicated', value: 'edge', effect: 'NoSchedule' }], status);
    expect(node.metadata).toEqual({
      name: 'node-1',
      labels: expect.objectContaining({ 'kubernetes.io/hostname': 'node-1', zone: 'a' }),
      annotations: { 'volumes.kubernetes.io/controller-managed-attach-detach': 'true' },
    });
    expect(node.spec).toEqual({ taints: [{ key: 'dedicated', value: 'edge', effect: 'NoSchedule' }] });
    expect(node.status).toBe(status);
    expect(registrationNode(settings, {}, [], status).spec).toEqual({});
  });
});

describe('osImage', () => {
  test("PRETTY_NAME, quotes removed; 'Linux' without one", () => {
    expect(osImage('NAME="Debian GNU/Linux"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\n')).toBe('Debian GNU/Linux 12 (bookworm)');
    expect(osImage('ID=alpine\n')).toBe('Linux');
  });
});
