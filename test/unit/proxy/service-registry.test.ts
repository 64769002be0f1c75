import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { describe, expect, test } from 'vitest';
import type { Service } from '../../../common/api/types.js';
import { ServiceAllocator } from '../../../proxy/config/allocator.js';
import { parseIpv4Cidr } from '../../../common/util/ipv4.js';
import { ServiceRegistry } from '../../../proxy/config/service-registry.js';
import { memoryLogger } from '../../helpers/memory-logger.js';

function registry(sources: Array<'file' | 'http'> = ['file'], logger = pino({ level: 'silent' })): ServiceRegistry {
  const allocator = new ServiceAllocator({ serviceCIDR: parseIpv4Cidr('10.96.0.0/16')!, nodePortRange: { min: 30000, max: 32767 } });
  return new ServiceRegistry({ allocator, sources, logger });
}

const svc = (name: string, spec: Service['spec'] = {}): Service => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name, namespace: 'default' },
  spec: { type: 'ClusterIP', ports: [{ name: 'http', port: 80, protocol: 'TCP' }], ...spec },
});

describe('ServiceRegistry', () => {
  test('every Service gets a ClusterIP; NodePort services get node ports; listeners hear the result', async () => {
    const r = registry();
    const seen: string[][] = [];
    r.onChange((services) => seen.push(services.map((s) => `${s.metadata!.name} ${s.spec!.clusterIP} ${s.spec!.ports?.[0]?.nodePort ?? '-'}`)));
    await r.set('file', [svc('b', { type: 'NodePort' }), svc('a')]);
    expect(seen).toEqual([['a 10.96.1.0 -', 'b 10.96.1.1 30086']]);
    expect(r.services().map((s) => s.spec!.clusterIPs)).toEqual([['10.96.1.0'], ['10.96.1.1']]);
  });

  test('a new registry reads the saved allocations before it resolves anything, however soon set() comes', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dockerlet-registry-'));
    try {
      const statePath = join(dir, 'allocations.json');
      await writeFile(statePath, JSON.stringify({ clusterIPs: { 'default/b': '10.96.7.7' }, nodePorts: {} }));
      const allocator = new ServiceAllocator({ serviceCIDR: parseIpv4Cidr('10.96.0.0/16')!, nodePortRange: { min: 30000, max: 32767 }, statePath });
      const r = new ServiceRegistry({ allocator, sources: ['file'], logger: pino({ level: 'silent' }) });
      await r.set('file', [svc('a'), svc('b')]);
      expect(r.services().map((s) => s.spec!.clusterIP)).toEqual(['10.96.1.0', '10.96.7.7']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('a requested ClusterIP is honoured even when a dynamic one would come first by name', async () => {
    const r = registry();
    await r.set('file', [svc('a'), svc('z', { clusterIP: '10.96.1.0' })]);
    expect(r.services().map((s) => [s.metadata!.name, s.spec!.clusterIP])).toEqual([
      ['a', '10.96.1.1'],
      ['z', '10.96.1.0'],
    ]);
  });

  test('a conflicting nodePort refuses that Service alone, once in the log, naming the field', async () => {
    const log = memoryLogger();
    const r = registry(['file'], log.logger);
    const one = svc('one', { type: 'NodePort', ports: [{ port: 80, nodePort: 30080, protocol: 'TCP' }] });
    const two = svc('two', { type: 'NodePort', ports: [{ port: 81, nodePort: 30080, protocol: 'TCP' }] });
    await r.set('file', [one, two]);
    await r.set('file', [one, two]);
    expect(r.services().map((s) => s.metadata!.name)).toEqual(['one']);
    expect(log.lines.filter((l) => l.level === 50).map((l) => l.msg)).toEqual([
      'Service default/two is not served: spec.ports[0].nodePort: Invalid value: 30080: provided port is already allocated',
    ]);
  });

  test('headless and ExternalName Services are kept without a ClusterIP', async () => {
    const r = registry();
    await r.set('file', [svc('headless', { clusterIP: 'None' }), svc('ext', { type: 'ExternalName', externalName: 'example.com', ports: [] })]);
    expect(r.services().map((s) => [s.metadata!.name, s.spec!.clusterIP])).toEqual([
      ['ext', undefined],
      ['headless', 'None'],
    ]);
  });

  test('a name in two sources keeps the file source', async () => {
    const r = registry(['file', 'http']);
    await r.set('http', [svc('web', { clusterIP: '10.96.0.20' })]);
    await r.set('file', [svc('web', { clusterIP: '10.96.0.10' })]);
    expect(r.services().map((s) => s.spec!.clusterIP)).toEqual(['10.96.0.10']);
  });
});

describe('ServiceRegistry.synced', () => {
  test('false until a source has reported and its Services are resolved; true at once without sources', async () => {
    const r = registry(['file', 'http']);
    expect(r.synced()).toBe(false);
    const round = r.set('file', [svc('a')]);
    expect(r.synced()).toBe(false);
    await round;
    expect(r.synced()).toBe(true);
    expect(registry([]).synced()).toBe(true);
  });
});
