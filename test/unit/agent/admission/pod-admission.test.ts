import { describe, expect, test } from 'vitest';
import { PodAdmission } from '../../../../agent/admission/pod-admission.js';
import { SysctlAllowlist } from '../../../../agent/admission/sysctls.js';
import { ctr, FakeRecorder, pod } from '../../fixtures.js';

const named = (name: string, sysctls: Array<{ name: string; value: string }> = []) => pod({ securityContext: { sysctls } }, { name, uid: `uid-${name}` });

function admission(maxPods = 110, unsafe: string[] = [], pressure: string[] = [], running: string[] = []) {
  const recorder = new FakeRecorder();
  return { admission: new PodAdmission({ maxPods, sysctls: new SysctlAllowlist(unsafe), pressure: () => new Set(pressure), running: (uid) => running.includes(uid), recorder }), recorder };
}

const burstable = (name: string) => pod({ containers: [ctr('main', { resources: { requests: { memory: '10Mi' } } })] }, { name, uid: `uid-${name}` });

describe('PodAdmission', () => {
  test("a pod beyond maxPods is OutOfpods, with the predicate's message and an event", () => {
    const { admission: a, recorder } = admission(2);
    const running = [named('a'), named('b')];
    expect(a.admit(named('c'), running)).toBe(false);
    expect(a.rejection('uid-c')).toEqual({ reason: 'OutOfpods', message: "Pod was rejected: Node didn't have enough resource: pods, requested: 1, used: 2, capacity: 2" });
    expect(recorder.events.map((e) => `${e.type} ${e.reason}: ${e.message}`)).toEqual(["Warning OutOfpods: Node didn't have enough resource: pods, requested: 1, used: 2, capacity: 2"]);
    expect(a.admit(named('b'), running)).toBe(true);
  });

  test('a sysctl the node does not allow is SysctlForbidden; an allowed one passes', () => {
    const { admission: a } = admission(110, ['kernel.msgmax']);
    expect(a.admit(named('ok', [{ name: 'kernel.msgmax', value: '65536' }, { name: 'net.ipv4.ip_local_port_range', value: '1024 65535' }]), [])).toBe(true);
    expect(a.admit(named('bad', [{ name: 'kernel.msgmnb', value: '1' }]), [])).toBe(false);
    expect(a.rejection('uid-bad')).toEqual({ reason: 'SysctlForbidden', message: 'Pod was rejected: forbidden sysctl: "kernel.msgmnb" not allowlisted' });
  });

  test('a rejection holds until the pod is forgotten', () => {
    const { admission: a } = admission(1);
    expect(a.admit(named('late'), [named('first')])).toBe(false);
    expect(a.admit(named('late'), [])).toBe(false);
    a.forget('uid-late');
    expect([a.rejection('uid-late'), a.admit(named('late'), [])]).toEqual([undefined, true]);
  });

  test('under memory pressure only BestEffort pods are refused, and not those tolerating the memory-pressure taint', () => {
    const { admission: a, recorder } = admission(110, [], ['MemoryPressure']);
    expect(a.admit(burstable('burst'), [])).toBe(true);
    expect(a.admit(named('besteffort'), [])).toBe(false);
    expect(a.rejection('uid-besteffort')).toEqual({ reason: 'Evicted', message: 'Pod was rejected: The node had condition: [MemoryPressure]. ' });
    expect(recorder.events.map((e) => `${e.type} ${e.reason}: ${e.message}`)).toEqual(['Warning Evicted: The node had condition: [MemoryPressure]. ']);
    const tolerant = pod({ tolerations: [{ key: 'node.kubernetes.io/memory-pressure', operator: 'Exists', effect: 'NoSchedule' }] }, { name: 'tolerant', uid: 'uid-tolerant' });
    expect(a.admit(tolerant, [])).toBe(true);
  });

  test('under disk pressure every pod is refused but a critical one', () => {
    const { admission: a } = admission(110, [], ['MemoryPressure', 'DiskPressure']);
    expect(a.admit(burstable('burst'), [])).toBe(false);
    expect(a.rejection('uid-burst')?.message).toBe('Pod was rejected: The node had condition: [DiskPressure MemoryPressure]. ');
    const critical = pod({ priorityClassName: 'system-node-critical', priority: 2_000_001_000 }, { name: 'critical', uid: 'uid-critical' });
    expect(a.admit(critical, [])).toBe(true);
  });

  test('a pod whose containers already run here keeps its place whatever the pressure', () => {
    const { admission: a } = admission(110, [], ['DiskPressure'], ['uid-adopted']);
    expect(a.admit(named('adopted'), [])).toBe(true);
    expect(a.admit(named('new'), [])).toBe(false);
  });
});
