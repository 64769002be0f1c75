import { describe, expect, test } from 'vitest';
import { PodAdmission } from '../../../../agent/admission/pod-admission.js';
import { SysctlAllowlist } from '../../../../agent/admission/sysctls.js';
import { FakeRecorder, pod } from '../../fixtures.js';

const named = (name: string, sysctls: Array<{ name: string; value: string }> = []) => pod({ securityContext: { sysctls } }, { name, uid: `uid-${name}` });

function admission(maxPods = 110, unsafe: string[] = []) {
  const recorder = new FakeRecorder();
  return { admission: new PodAdmission({ maxPods, sysctls: new SysctlAllowlist(unsafe), recorder }), recorder };
}

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
});
