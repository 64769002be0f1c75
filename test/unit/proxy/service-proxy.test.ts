import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import type { Pod, Service } from '../../../agent/api/types.js';
import { systemClock } from '../../../agent/util/clock.js';
import { ServiceAllocator } from '../../../proxy/config/allocator.js';
import type { PodFeed } from '../../../proxy/config/pod-feed.js';
import { ServiceRegistry } from '../../../proxy/config/service-registry.js';
import type { Proxier, ProxyState } from '../../../proxy/datapath/proxier.js';
import { parseIpv4Cidr } from '../../../proxy/ipv4.js';
import { ServiceProxy } from '../../../proxy/service-proxy.js';

const silent = pino({ level: 'silent' });
const SyncPeriodMs = 30_000;

/** A proxier that records each state it is given, failing while `failing` is set. */
class RecordingProxier implements Proxier {
  readonly mode = 'iptables';
  readonly states: ProxyState[] = [];
  failing = false;

  async sync(state: ProxyState): Promise<void> {
    this.states.push(state);
    if (this.failing) throw new Error('iptables-restore failed');
  }
  async cleanup(): Promise<void> {}
  async stop(): Promise<void> {}
}

/** Pods set by the test; every set() tells the listeners, as the agent does on any status change. */
class TestPodFeed implements PodFeed {
  #pods: Pod[] = [];
  readonly #listeners: Array<() => void> = [];
  pods() {
    return this.#pods.map((pod) => ({ pod, status: pod.status }));
  }
  onChange(listener: () => void): void {
    this.#listeners.push(listener);
  }
  set(pods: Pod[]): void {
    this.#pods = pods;
    for (const listener of this.#listeners) listener();
  }
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
}

const pod = (name: string, ip: string, ready: boolean, labels: Record<string, string> = { app: 'web' }): Pod => ({
  metadata: { name, namespace: 'default', labels },
  spec: { containers: [{ name: 'c', image: 'i' }] },
  status: { phase: 'Running', podIP: ip, conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
});

const web: Service = {
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name: 'web', namespace: 'default' },
  spec: { type: 'ClusterIP', selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' }] },
};

let proxier: RecordingProxier;
let pods: TestPodFeed;
let registry: ServiceRegistry;
let proxy: ServiceProxy;

beforeEach(async () => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
  proxier = new RecordingProxier();
  pods = new TestPodFeed();
  const allocator = new ServiceAllocator({ serviceCIDR: parseIpv4Cidr('10.96.0.0/16')!, nodePortRange: { min: 30000, max: 32767 } });
  registry = new ServiceRegistry({ allocator, sources: ['file'], logger: silent });
  await registry.set('file', [web]);
  proxy = new ServiceProxy({ registry, pods, proxier, syncPeriodMs: SyncPeriodMs, clock: systemClock, logger: silent });
  await proxy.start();
});

afterEach(async () => {
  await proxy.stop();
  vi.useRealTimers();
});

const endpoints = (state: ProxyState | undefined) => state?.endpoints.get('default/web:http');

describe('ServiceProxy', () => {
  test('syncs once at start, and again only when the state changes', async () => {
    expect(proxier.states).toHaveLength(1);
    pods.set([pod('a', '10.244.0.2', true)]);
    await proxy.requestSync();
    expect(endpoints(proxier.states.at(-1))).toEqual([{ ip: '10.244.0.2', port: 8080 }]);
    const syncs = proxier.states.length;
    // A pod no Service selects, and a status change that leaves the endpoints as they were.
    pods.set([pod('a', '10.244.0.2', true), pod('other', '10.244.0.3', false, { app: 'other' })]);
    await proxy.requestSync();
    expect(proxier.states).toHaveLength(syncs);
    pods.set([pod('a', '10.244.0.2', false)]);
    await proxy.requestSync();
    expect(proxier.states).toHaveLength(syncs + 1);
    expect(endpoints(proxier.states.at(-1)) ?? []).toEqual([]);
  });

  test('a failed sync is tried again on the next request, though nothing changed', async () => {
    proxier.failing = true;
    pods.set([pod('a', '10.244.0.2', true)]);
    await proxy.requestSync();
    const failed = proxier.states.length;
    proxier.failing = false;
    await proxy.requestSync();
    expect(proxier.states).toHaveLength(failed + 1);
    await proxy.requestSync();
    expect(proxier.states).toHaveLength(failed + 1);
  });

  test('the periodic resync runs even when nothing changed, to repair what went missing', async () => {
    const syncs = proxier.states.length;
    await vi.advanceTimersByTimeAsync(SyncPeriodMs);
    expect(proxier.states).toHaveLength(syncs + 1);
    await vi.advanceTimersByTimeAsync(SyncPeriodMs);
    expect(proxier.states).toHaveLength(syncs + 2);
  });
});
