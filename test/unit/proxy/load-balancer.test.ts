import { beforeEach, describe, expect, test } from 'vitest';
import { DefaultAffinityTimeoutSeconds, ExternalLocalPicker, LoadBalancer, endpointKey } from '../../../proxy/datapath/userspace/load-balancer.js';

const a = { ip: '172.18.0.2', port: 8080 };
const b = { ip: '172.18.0.3', port: 8080 };
const c = { ip: '172.18.0.4', port: 8080 };

let now: number;
const clock = { now: () => now };

beforeEach(() => {
  now = 1_000_000;
});

const picks = (lb: LoadBalancer, client: string, n: number): string[] =>
  Array.from({ length: n }, () => {
    const endpoint = lb.next(client);
    return endpoint ? endpointKey(endpoint) : 'none';
  });

describe('LoadBalancer round robin', () => {
  test('gives the endpoints in turn and starts over', () => {
    const lb = new LoadBalancer({ clock });
    lb.setEndpoints([a, b, c]);
    expect(picks(lb, '10.0.0.1', 6)).toEqual(['172.18.0.2:8080', '172.18.0.3:8080', '172.18.0.4:8080', '172.18.0.2:8080', '172.18.0.3:8080', '172.18.0.4:8080']);
  });

  test('has nothing to give without endpoints', () => {
    const lb = new LoadBalancer({ clock });
    expect(lb.next('10.0.0.1')).toBeUndefined();
    lb.setEndpoints([a]);
    lb.setEndpoints([]);
    expect(lb.next('10.0.0.1')).toBeUndefined();
  });

  test('drops duplicate endpoints', () => {
    const lb = new LoadBalancer({ clock });
    lb.setEndpoints([a, { ...a }, b]);
    expect(lb.endpoints).toEqual([a, b]);
  });

  test('the same set in another order keeps the turn', () => {
    const lb = new LoadBalancer({ clock });
    lb.setEndpoints([a, b, c]);
    lb.next('10.0.0.1');
    lb.setEndpoints([c, b, a]);
    expect(picks(lb, '10.0.0.1', 2)).toEqual(['172.18.0.3:8080', '172.18.0.4:8080']);
  });

  test('a changed set starts the turn over', () => {
    const lb = new LoadBalancer({ clock });
    lb.setEndpoints([a, b]);
    lb.next('10.0.0.1');
    lb.setEndpoints([a, c]);
    expect(picks(lb, '10.0.0.1', 2)).toEqual(['172.18.0.2:8080', '172.18.0.4:8080']);
  });
});

describe('LoadBalancer session affinity (ClientIP)', () => {
  test('pins a client to its first endpoint while others still rotate', () => {
    const lb = new LoadBalancer({ clock, affinityTimeoutSeconds: 60 });
    lb.setEndpoints([a, b, c]);
    expect(picks(lb, '10.0.0.1', 3)).toEqual(['172.18.0.2:8080', '172.18.0.2:8080', '172.18.0.2:8080']);
    expect(picks(lb, '10.0.0.2', 2)).toEqual(['172.18.0.3:8080', '172.18.0.3:8080']);
  });

  test('holds for the timeout after the last use, then the client takes the next turn', () => {
    const lb = new LoadBalancer({ clock, affinityTimeoutSeconds: 60 });
    lb.setEndpoints([a, b]);
    expect(lb.next('10.0.0.1')).toEqual(a);
    now += 59_000;
    expect(lb.next('10.0.0.1')).toEqual(a); // last use refreshed
    now += 59_000;
    expect(lb.next('10.0.0.1')).toEqual(a);
    now += 60_000;
    expect(lb.next('10.0.0.1')).toEqual(b);
  });

  test('resetAffinity gives the next endpoint and pins the client to it', () => {
    const lb = new LoadBalancer({ clock, affinityTimeoutSeconds: 60 });
    lb.setEndpoints([a, b]);
    expect(lb.next('10.0.0.1')).toEqual(a);
    expect(lb.next('10.0.0.1', true)).toEqual(b);
    expect(lb.next('10.0.0.1')).toEqual(b);
  });

  test('a sync keeps the affinities whose endpoint is still there and drops the others', () => {
    const lb = new LoadBalancer({ clock, affinityTimeoutSeconds: 60 });
    lb.setEndpoints([a, b]);
    expect(lb.next('10.0.0.1')).toEqual(a);
    expect(lb.next('10.0.0.2')).toEqual(b);
    lb.setEndpoints([b, c]);
    expect(lb.affinities).toEqual(new Map([['10.0.0.2', '172.18.0.3:8080']]));
    expect(lb.next('10.0.0.2')).toEqual(b);
    expect(lb.next('10.0.0.1')).not.toEqual(a);
  });

  test('a sync prunes expired affinities', () => {
    const lb = new LoadBalancer({ clock, affinityTimeoutSeconds: 10 });
    lb.setEndpoints([a, b]);
    lb.next('10.0.0.1');
    now += 10_000;
    lb.setEndpoints([a, b]);
    expect(lb.affinities.size).toBe(0);
  });

  test('a timeout of 0 means the 3 h default, and turning affinity off forgets every client', () => {
    const lb = new LoadBalancer({ clock, affinityTimeoutSeconds: 0 });
    expect(lb.affinityTimeoutSeconds).toBe(DefaultAffinityTimeoutSeconds);
    lb.setEndpoints([a, b]);
    lb.next('10.0.0.1');
    lb.setAffinity(undefined);
    expect(lb.affinities.size).toBe(0);
    expect(picks(lb, '10.0.0.1', 2)).toEqual(['172.18.0.3:8080', '172.18.0.2:8080']);
  });
});

describe('ExternalLocalPicker (a NodePort of externalTrafficPolicy Local)', () => {
  const picker = (): ExternalLocalPicker => {
    const cluster = new LoadBalancer({ clock });
    cluster.setEndpoints([a, b]);
    const local = new LoadBalancer({ clock });
    local.setEndpoints([a]);
    return new ExternalLocalPicker(cluster, local, (ip) => ip === '10.244.0.9');
  };

  test('a client inside the node gets every endpoint in turn; one outside only the local ones', () => {
    const p = picker();
    expect([p.next('10.244.0.9'), p.next('10.244.0.9')].map((endpoint) => endpointKey(endpoint!))).toEqual(['172.18.0.2:8080', '172.18.0.3:8080']);
    expect([p.next('192.0.2.50'), p.next('192.0.2.50')].map((endpoint) => endpointKey(endpoint!))).toEqual(['172.18.0.2:8080', '172.18.0.2:8080']);
  });

  test('an endpoint on another node is kept for a client inside and not for one outside', () => {
    const p = picker();
    expect(p.has(b, '10.244.0.9')).toBe(true);
    expect(p.has(b, '192.0.2.50')).toBe(false);
    expect(p.has(a, '192.0.2.50')).toBe(true);
  });

  test('a client outside gets nothing when no endpoint is local', () => {
    const p = picker();
    p.local.setEndpoints([]);
    expect(p.next('192.0.2.50')).toBeUndefined();
    expect(p.next('10.244.0.9')).toBeDefined();
  });
});
