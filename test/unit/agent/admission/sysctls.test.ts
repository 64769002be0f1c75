import { describe, expect, test } from 'vitest';
import { dotSeparated, namespacedBy, SafeSysctls, SysctlAllowlist } from '../../../../agent/admission/sysctls.js';

describe('SysctlAllowlist', () => {
  const safeOnly = new SysctlAllowlist([]);

  test.each(SafeSysctls)('the safe sysctl %s is always allowed', (name) => {
    expect(safeOnly.refusal(name, false, false)).toBeUndefined();
  });

  test('anything else is refused as the kubelet words it', () => {
    expect(safeOnly.refusal('kernel.msgmax', false, false)).toBe('"kernel.msgmax" not allowlisted');
  });

  test('allowed unsafe names and prefixes', () => {
    const list = new SysctlAllowlist(['kernel.msgmax', 'net.core.*']);
    expect([list.refusal('kernel.msgmax', false, false), list.refusal('net.core.somaxconn', false, false), list.refusal('kernel.msgmnb', false, false)]).toEqual([
      undefined,
      undefined,
      '"kernel.msgmnb" not allowlisted',
    ]);
  });

  test('a network sysctl is refused to a hostNetwork pod, an IPC one to a hostIPC pod', () => {
    const list = new SysctlAllowlist(['kernel.msgmax']);
    expect(list.refusal('net.ipv4.tcp_syncookies', true, false)).toBe('"net.ipv4.tcp_syncookies" not allowed with host net enabled');
    expect(list.refusal('kernel.msgmax', false, true)).toBe('"kernel.msgmax" not allowed with host ipc enabled');
  });

  test('slash-separated names are the same sysctls', () => {
    expect(dotSeparated('net/ipv4/conf/eth0.100/forwarding')).toBe('net.ipv4.conf.eth0/100.forwarding');
    expect(safeOnly.refusal('net/ipv4/tcp_syncookies', false, false)).toBeUndefined();
  });

  test('an unsafe pattern that is not namespaced, or malformed, is refused when the node starts', () => {
    expect(() => new SysctlAllowlist(['vm.swappiness'])).toThrow('sysctl "vm.swappiness" is not known to be namespaced: it cannot be set for one pod');
    expect(() => new SysctlAllowlist(['Net.*'])).toThrow('sysctl "Net.*" must have at most 253 characters and be a sysctl name, or a prefix ending in *');
  });

  test('namespacedBy', () => {
    expect([namespacedBy('kernel.sem'), namespacedBy('kernel.shmmax'), namespacedBy('fs.mqueue.msg_max'), namespacedBy('net.core.somaxconn'), namespacedBy('vm.swappiness')]).toEqual(['ipc', 'ipc', 'ipc', 'net', undefined]);
  });
});
