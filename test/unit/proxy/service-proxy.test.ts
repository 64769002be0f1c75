import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import type { Pod, Service } from '../../../common/api/types.js';
import { systemClock } from '../../../common/util/clock.js';
import { podEndpoints } from '../../../proxy/config/pod-endpoints.js';
import type { EndpointAddress, ProxyConfig } from '../../../proxy/config/proxy-config.js';
import { buildProxyState } from '../../../proxy/config/proxy-state.js';
import type { Proxier, ProxyState } from '../../../proxy/datapath/proxier.js';
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

/** Pods set by the test; every set() tells the listeners, as the agent does on any status change. Not synced until `synced` is set. */
class TestConfig implements ProxyConfig {
  #pods: Pod[] = [];
  readonly #listeners: Array<() => void> = [];
  isSynced = true;
  services(): readonly Service[] {
    return [web];
  }
  endpointAddresses(): readonly EndpointAddress[] {
    return [];
  }
  state(): ProxyState {
    return buildProxyState([web], podEndpoints(this.#pods.map((pod) => ({ pod, status: pod.status }))));
  }
  synced(): boolean {
    return this.isSynced;
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
  spec: { type: 'ClusterIP', clusterIP: '10.96.0.10', selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' }] },
};

let proxier: RecordingProxier;
let pods: TestConfig;
let proxy: ServiceProxy;

beforeEach(async () => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
  proxier = new RecordingProxier();
  pods = new TestConfig();
  proxy = new ServiceProxy({ config: pods, proxier, syncPeriodMs: SyncPeriodMs, clock: systemClock, logger: silent });
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
    expect(endpoints(proxier.states.at(-1))).toEqual([{ ip: '10.244.0.2', port: 8080, isLocal: true }]);
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

  test('a failed sync is tried again after 1 s, though nothing changed; changes meanwhile wait for that retry', async () => {
    proxier.failing = true;
    pods.set([pod('a', '10.244.0.2', true)]);
    await vi.advanceTimersByTimeAsync(0);
    const failed = proxier.states.length;
    proxier.failing = false;
    pods.set([pod('a', '10.244.0.2', false)]);
    pods.set([pod('a', '10.244.0.2', true)]);
    await vi.advanceTimersByTimeAsync(999);
    expect(proxier.states).toHaveLength(failed);
    await vi.advanceTimersByTimeAsync(1);
    await vi.waitFor(() => expect(proxier.states).toHaveLength(failed + 1));
    expect(endpoints(proxier.states.at(-1))).toEqual([{ ip: '10.244.0.2', port: 8080, isLocal: true }]);
    await proxy.requestSync();
    expect(proxier.states).toHaveLength(failed + 1);
  });

  test('failures in a row wait 1, 2, 4 ... s up to the sync period, and a success starts over', async () => {
    proxier.failing = true;
    pods.set([pod('a', '10.244.0.2', true)]);
    await vi.advanceTimersByTimeAsync(0);
    const retries: number[] = [];
    for (let i = 0; i < 7; i++) {
      const before = proxier.states.length;
      let waited = 0;
      while (proxier.states.length === before && waited < 2 * SyncPeriodMs) {
        await vi.advanceTimersByTimeAsync(500);
        waited += 500;
      }
      retries.push(waited);
    }
    expect(retries).toEqual([1000, 2000, 4000, 8000, 16_000, 30_000, 30_000]);
    proxier.failing = false;
    await vi.advanceTimersByTimeAsync(30_000);
    proxier.failing = true;
    const before = proxier.states.length;
    pods.set([pod('b', '10.244.0.9', true)]);
    await vi.advanceTimersByTimeAsync(0);
    expect(proxier.states).toHaveLength(before + 1);
    await vi.advanceTimersByTimeAsync(1000);
    expect(proxier.states).toHaveLength(before + 2);
  });

  test('nothing is synced before the config is, so that rules a previous process left stay', async () => {
    await proxy.stop();
    proxier = new RecordingProxier();
    pods = new TestConfig();
    pods.isSynced = false;
    proxy = new ServiceProxy({ config: pods, proxier, syncPeriodMs: SyncPeriodMs, clock: systemClock, logger: silent });
    await proxy.start();
    await vi.advanceTimersByTimeAsync(SyncPeriodMs);
    expect(proxier.states).toHaveLength(0);
    pods.isSynced = true;
    pods.set([pod('a', '10.244.0.2', true)]);
    await proxy.requestSync();
    expect(proxier.states).toHaveLength(1);
    expect(endpoints(proxier.states[0])).toEqual([{ ip: '10.244.0.2', port: 8080, isLocal: true }]);
  });

  test('the periodic resync runs even when nothing changed, to repair what went missing', async () => {
    const syncs = proxier.states.length;
    await vi.advanceTimersByTimeAsync(SyncPeriodMs);
    expect(proxier.states).toHaveLength(syncs + 1);
    await vi.advanceTimersByTimeAsync(SyncPeriodMs);
    expect(proxier.states).toHaveLength(syncs + 2);
  });
});
