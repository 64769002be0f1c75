import { once } from 'node:events';
import { afterEach, describe, expect, test } from 'vitest';
import type { EndpointInfo } from '../../../proxy/datapath/proxier.js';
import { LoadBalancer } from '../../../proxy/datapath/userspace/load-balancer.js';
import { UdpProxy, type ForgetReason } from '../../../proxy/datapath/userspace/udp-proxy.js';
import { closeAll, closeUdp, onCleanup, silentLogger, udpAsk, udpBackend, udpClient } from './userspace-fixtures.js';

afterEach(closeAll);

/** A UdpProxy on 127.0.0.1 (a free port) in front of `endpoints`. */
async function proxyTo(endpoints: EndpointInfo[], idleTimeoutMs = 60_000): Promise<{ proxy: UdpProxy; port: number; balancer: LoadBalancer }> {
  const balancer = new LoadBalancer();
  balancer.setEndpoints(endpoints);
  const proxy = new UdpProxy({ host: '127.0.0.1', port: 0, picker: balancer, logger: silentLogger, idleTimeoutMs });
  onCleanup(() => proxy.close());
  const { port } = await proxy.listen();
  return { proxy, port, balancer };
}

describe('UdpProxy', () => {
  test('a datagram goes to an endpoint and its reply comes back from the service socket', async () => {
    const backend = await udpBackend('a');
    const { port } = await proxyTo([backend.endpoint]);
    const client = await udpClient();
    const reply = once(client, 'message');
    client.send('ping', port, '127.0.0.1');
    const [message, from] = (await reply) as [Buffer, { address: string; port: number }];
    expect(message.toString()).toBe('a:ping');
    expect(from).toMatchObject({ address: '127.0.0.1', port });
  });

  test('a client keeps its endpoint and its upstream socket across datagrams', async () => {
    const backends = await Promise.all(['a', 'b'].map((name) => udpBackend(name)));
    const { port } = await proxyTo(backends.map((backend) => backend.endpoint));
    const client = await udpClient();
    expect(await udpAsk(client, port, '1')).toBe('a:1');
    expect(await udpAsk(client, port, '2')).toBe('a:2');
    expect(backends[0]!.senders).toHaveLength(2);
    expect(new Set(backends[0]!.senders).size).toBe(1);
  });

  test('each client gets its own upstream socket and the next endpoint in turn', async () => {
    const backends = await Promise.all(['a', 'b'].map((name) => udpBackend(name)));
    const { proxy, port } = await proxyTo(backends.map((backend) => backend.endpoint));
    const first = await udpClient();
    const second = await udpClient();
    const third = await udpClient();
    expect(await udpAsk(first, port, 'x')).toBe('a:x');
    expect(await udpAsk(second, port, 'y')).toBe('b:y');
    expect(await udpAsk(third, port, 'z')).toBe('a:z');
    expect(new Set(backends[0]!.senders).size).toBe(2);
    expect(proxy.clients.size).toBe(3);
  });

  test('an idle client is forgotten and its next datagram picks an endpoint again', async () => {
    const backends = await Promise.all(['a', 'b'].map((name) => udpBackend(name)));
    const { proxy, port } = await proxyTo(
      backends.map((backend) => backend.endpoint),
      20,
    );
    const client = await udpClient();
    const forgotten = once(proxy, 'forget') as Promise<[string, ForgetReason]>;
    expect(await udpAsk(client, port, '1')).toBe('a:1');
    expect((await forgotten)[1]).toBe('idle');
    expect(proxy.clients.size).toBe(0);
    expect(await udpAsk(client, port, '2')).toBe('b:2');
  });

  test('a client whose endpoint was removed is forgotten and re-picks a live endpoint', async () => {
    const backends = await Promise.all(['a', 'b'].map((name) => udpBackend(name)));
    const { proxy, port, balancer } = await proxyTo(backends.map((backend) => backend.endpoint));
    const client = await udpClient();
    expect(await udpAsk(client, port, '1')).toBe('a:1');
    balancer.setEndpoints([backends[1]!.endpoint]);
    expect(proxy.forgetClientsNotIn((endpoint) => balancer.has(endpoint))).toBe(1);
    expect(await udpAsk(client, port, '2')).toBe('b:2');
  });

  test('clients of endpoints still there are kept on a sync', async () => {
    const backends = await Promise.all(['a', 'b'].map((name) => udpBackend(name)));
    const { proxy, port, balancer } = await proxyTo(backends.map((backend) => backend.endpoint));
    const client = await udpClient();
    expect(await udpAsk(client, port, '1')).toBe('a:1');
    balancer.setEndpoints([backends[0]!.endpoint]);
    expect(proxy.forgetClientsNotIn((endpoint) => balancer.has(endpoint))).toBe(0);
    expect(proxy.clients.size).toBe(1);
  });

  test('an endpoint that refuses (ICMP port unreachable) makes the client be forgotten', async () => {
    const backend = await udpBackend('a');
    const dead = await udpBackend('dead');
    const { proxy, port } = await proxyTo([dead.endpoint, backend.endpoint]);
    await closeUdp(dead.socket);
    const client = await udpClient();
    const forgotten = once(proxy, 'forget') as Promise<[string, ForgetReason]>;
    client.send('lost', port, '127.0.0.1');
    expect((await forgotten)[1]).toBe('upstream-error');
    expect(await udpAsk(client, port, 'again')).toBe('a:again');
  });

  test('with no endpoint a datagram is dropped and no client is kept', async () => {
    const { proxy, port, balancer } = await proxyTo([]);
    const backend = await udpBackend('late');
    const client = await udpClient();
    const dropped = once(proxy, 'drop');
    client.send('dropped', port, '127.0.0.1');
    await dropped;
    expect(proxy.clients.size).toBe(0);
    balancer.setEndpoints([backend.endpoint]);
    expect(await udpAsk(client, port, 'kept')).toBe('late:kept');
    expect(backend.senders).toHaveLength(1);
    expect(proxy.clients.size).toBe(1);
  });

  test('close forgets every client', async () => {
    const backend = await udpBackend('a');
    const { proxy, port } = await proxyTo([backend.endpoint]);
    const client = await udpClient();
    await udpAsk(client, port, '1');
    const reasons: ForgetReason[] = [];
    proxy.on('forget', (_client, reason) => reasons.push(reason));
    await proxy.close();
    await proxy.close();
    expect(reasons).toEqual(['closed']);
    expect(proxy.clients.size).toBe(0);
  });
});
