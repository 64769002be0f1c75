import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { isUsable, ServiceAllocator } from '../../../proxy/config/allocator.js';
import { parseIpv4Cidr } from '../../../common/util/ipv4.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dockerlet-alloc-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const cidr = parseIpv4Cidr('10.96.0.0/16')!;
const allocator = (statePath?: string): ServiceAllocator =>
  new ServiceAllocator({ serviceCIDR: cidr, nodePortRange: { min: 30000, max: 32767 }, ...(statePath ? { statePath } : {}) });

describe('isUsable', () => {
  test('the network and broadcast addresses are not usable', () => {
    expect(isUsable(cidr, '10.96.0.0')).toBe(false);
    expect(isUsable(cidr, '10.96.0.1')).toBe(true);
    expect(isUsable(cidr, '10.96.255.255')).toBe(false);
    expect(isUsable(cidr, '10.97.0.1')).toBe(false);
  });
});

describe('ClusterIP allocation', () => {
  test('a requested address inside the range is honoured; the same address twice is refused', () => {
    const a = allocator();
    a.beginRound();
    expect(a.clusterIP('default/one', '10.96.0.10')).toEqual({ ok: true, value: '10.96.0.10' });
    expect(a.clusterIP('default/two', '10.96.0.10')).toEqual({ ok: false, message: 'Invalid value: "10.96.0.10": provided IP is already allocated' });
  });

  test('a requested address outside the range is refused, naming the range', () => {
    const a = allocator();
    a.beginRound();
    expect(a.clusterIP('default/one', '192.168.0.10')).toEqual({
      ok: false,
      message: 'Invalid value: "192.168.0.10": provided IP is not in the valid range. The range of valid IPs is 10.96.0.0/16',
    });
  });

  test('dynamic addresses start above the static band (256 addresses for a /16), first free upwards', () => {
    const a = allocator();
    a.beginRound();
    expect(a.clusterIP('default/one', undefined)).toEqual({ ok: true, value: '10.96.1.0' });
    expect(a.clusterIP('default/two', undefined)).toEqual({ ok: true, value: '10.96.1.1' });
  });

  test('allocations are kept in the state file and given back to the same Service after a restart', async () => {
    const path = join(dir, 'allocations.json');
    const first = allocator(path);
    first.beginRound();
    first.clusterIP('default/one', undefined);
    first.clusterIP('default/two', undefined);
    await first.endRound({ release: true });
    expect(JSON.parse(await readFile(path, 'utf8'))).toEqual({ clusterIPs: { 'default/one': '10.96.1.0', 'default/two': '10.96.1.1' }, nodePorts: {} });
    const second = allocator(path);
    await second.load();
    second.beginRound();
    // In the other order this time: each still gets its own address.
    expect(second.clusterIP('default/two', undefined)).toEqual({ ok: true, value: '10.96.1.1' });
    expect(second.clusterIP('default/one', undefined)).toEqual({ ok: true, value: '10.96.1.0' });
  });

  test('a state file that does not parse is moved aside, not overwritten, and the error says where', async () => {
    const path = join(dir, 'allocations.json');
    await writeFile(path, '{"clusterIPs": {');
    const broken = allocator(path);
    await expect(broken.load()).rejects.toThrow(`${path}: `);
    await expect(broken.load()).resolves.toBeUndefined();
    expect(await readFile(`${path}.bad`, 'utf8')).toBe('{"clusterIPs": {');
  });

  test('a state file that parses but holds the wrong types is moved aside too: allocation goes on from scratch', async () => {
    const path = join(dir, 'allocations.json');
    await writeFile(path, '{"clusterIPs": ["10.96.1.0"], "nodePorts": {"default/web": "30080"}}');
    const broken = allocator(path);
    await expect(broken.load()).rejects.toThrow(`${path}: clusterIPs: `);
    broken.beginRound();
    expect(broken.clusterIP('default/web', undefined)).toEqual({ ok: true, value: '10.96.1.0' });
    expect(await readFile(`${path}.bad`, 'utf8')).toContain('"nodePorts"');
  });

  test('a round that may release forgets what was not claimed; one that may not keeps it', async () => {
    const path = join(dir, 'allocations.json');
    const a = allocator(path);
    a.beginRound();
    a.clusterIP('default/gone', undefined);
    await a.endRound({ release: true });
    a.beginRound();
    await a.endRound({ release: false });
    expect(JSON.parse(await readFile(path, 'utf8')).clusterIPs).toEqual({ 'default/gone': '10.96.1.0' });
    a.beginRound();
    await a.endRound({ release: true });
    expect(JSON.parse(await readFile(path, 'utf8')).clusterIPs).toEqual({});
  });
});

describe('NodePort allocation', () => {
  test.each([
    [{ min: 30000, max: 32767 }, 80],
    [{ min: 30000, max: 32767 }, 32768],
    [{ min: 31000, max: 31010 }, 30080],
  ])('in %j a requested %i is refused, naming the range', (nodePortRange, port) => {
    const a = new ServiceAllocator({ serviceCIDR: cidr, nodePortRange });
    a.beginRound();
    expect(a.nodePort('default/web:/TCP', port)).toEqual({
      ok: false,
      message: `Invalid value: ${port}: provided port is not in the valid range. The range of valid ports is ${nodePortRange.min}-${nodePortRange.max}`,
    });
  });

  test('a range of its own admits requests the default range would not', () => {
    const a = new ServiceAllocator({ serviceCIDR: cidr, nodePortRange: { min: 8000, max: 8100 } });
    a.beginRound();
    expect(a.nodePort('default/web:/TCP', 8080)).toEqual({ ok: true, value: 8080 });
  });

  test('a requested port is honoured once; dynamic ports start above the static band (86 ports)', () => {
    const a = allocator();
    a.beginRound();
    expect(a.nodePort('default/web:http/TCP', 30080)).toEqual({ ok: true, value: 30080 });
    expect(a.nodePort('default/other:http/TCP', 30080)).toEqual({ ok: false, message: 'Invalid value: 30080: provided port is already allocated' });
    expect(a.nodePort('default/auto:http/TCP', undefined)).toEqual({ ok: true, value: 30086 });
  });
});
