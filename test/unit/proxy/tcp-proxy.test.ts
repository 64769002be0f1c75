import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { afterEach, describe, expect, test } from 'vitest';
import type { EndpointInfo } from '../../../proxy/datapath/proxier.js';
import { LoadBalancer } from '../../../proxy/datapath/userspace/load-balancer.js';
import { TcpProxy } from '../../../proxy/datapath/userspace/tcp-proxy.js';
import { closedPort } from '../loopback.js';
import { closeAll, onCleanup, request, silentLogger, tcpBackend, tcpClient } from './userspace-fixtures.js';

afterEach(closeAll);

/** A TcpProxy on 127.0.0.1 (a free port) in front of `endpoints`. */
async function proxyTo(endpoints: EndpointInfo[], affinityTimeoutSeconds?: number): Promise<{ proxy: TcpProxy; port: number; balancer: LoadBalancer }> {
  const balancer = new LoadBalancer(affinityTimeoutSeconds === undefined ? {} : { affinityTimeoutSeconds });
  balancer.setEndpoints(endpoints);
  const proxy = new TcpProxy({ host: '127.0.0.1', port: 0, picker: balancer, logger: silentLogger });
  onCleanup(() => proxy.close());
  const { port } = await proxy.listen();
  return { proxy, port, balancer };
}

const text = async (reply: Promise<Buffer>): Promise<string> => (await reply).toString();

describe('TcpProxy', () => {
  test('round robin reaches every endpoint over N connections', async () => {
    const backends = await Promise.all(['a', 'b', 'c'].map((name) => tcpBackend(name)));
    const { port } = await proxyTo(backends.map((backend) => backend.endpoint));
    const replies: string[] = [];
    for (let i = 0; i < 6; i++) replies.push(await text(request(port)));
    expect(replies.sort()).toEqual(['a', 'a', 'b', 'b', 'c', 'c']);
  });

  test('session affinity pins a client to one endpoint', async () => {
    const backends = await Promise.all(['a', 'b', 'c'].map((name) => tcpBackend(name)));
    const { port } = await proxyTo(
      backends.map((backend) => backend.endpoint),
      60,
    );
    const replies = new Set<string>();
    for (let i = 0; i < 5; i++) replies.add(await text(request(port)));
    expect(replies.size).toBe(1);
  });

  test('an endpoint that refuses is skipped and the connection still succeeds', async () => {
    const live = await tcpBackend('live');
    const { port } = await proxyTo([{ ip: '127.0.0.1', port: await closedPort() }, live.endpoint]);
    for (let i = 0; i < 3; i++) expect(await text(request(port))).toBe('live');
  });

  test('a client whose sticky endpoint refuses is moved to one that answers', async () => {
    const live = await tcpBackend('live');
    const dead = { ip: '127.0.0.1', port: await closedPort() };
    const { port, balancer } = await proxyTo([dead, live.endpoint], 60);
    expect(await text(request(port))).toBe('live');
    expect(balancer.affinities.get('127.0.0.1')).toBe(`127.0.0.1:${live.endpoint.port}`);
  });

  test('with no endpoint the client connection is reset', async () => {
    const { port } = await proxyTo([]);
    await expect(request(port, '127.0.0.1', 'hello')).rejects.toMatchObject({ code: 'ECONNRESET' });
  });

  test('with every endpoint refusing the client connection is reset', async () => {
    const { port } = await proxyTo([
      { ip: '127.0.0.1', port: await closedPort() },
      { ip: '127.0.0.1', port: await closedPort() },
    ]);
    await expect(request(port)).rejects.toMatchObject({ code: 'ECONNRESET' });
  });

  test('half-close: a client that ended its side still receives the whole reply', async () => {
    const backend = await tcpBackend('srv', 'reply-after-end');
    const { port } = await proxyTo([backend.endpoint]);
    expect(await text(request(port, '127.0.0.1', 'hello'))).toBe('srv:hello');
  });

  test('a large transfer arrives intact both ways (backpressure)', async () => {
    const backend = await tcpBackend('echo', 'echo');
    const { port } = await proxyTo([backend.endpoint]);
    const payload = randomBytes(8 * 1024 * 1024);
    const reply = await request(port, '127.0.0.1', payload);
    expect(reply.length).toBe(payload.length);
    expect(createHash('sha256').update(reply).digest('hex')).toBe(createHash('sha256').update(payload).digest('hex'));
  });

  test('an endpoint that resets its connection resets the client', async () => {
    const server = createServer((socket) => socket.once('data', () => socket.resetAndDestroy()));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    onCleanup(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const { port } = await proxyTo([{ ip: '127.0.0.1', port: (server.address() as AddressInfo).port }]);
    await expect(request(port, '127.0.0.1', 'boom')).rejects.toMatchObject({ code: 'ECONNRESET' });
  });

  test('drain stops accepting while open connections go on, and resolves when they end', async () => {
    const backend = await tcpBackend('echo', 'echo');
    const { proxy, port } = await proxyTo([backend.endpoint]);
    const client = await tcpClient(port);
    client.write('a');
    expect(((await once(client, 'data')) as [Buffer])[0].toString()).toBe('a');
    let drained = false;
    const draining = proxy.drain().then(() => (drained = true));
    await expect(request(port)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    client.write('b');
    expect(((await once(client, 'data')) as [Buffer])[0].toString()).toBe('b');
    expect(drained).toBe(false);
    client.end();
    await draining;
    expect(proxy.connectionCount).toBe(0);
  });

  test('close destroys open connections', async () => {
    const backend = await tcpBackend('echo', 'echo');
    const { proxy, port } = await proxyTo([backend.endpoint]);
    const client = await tcpClient(port);
    client.write('a');
    await once(client, 'data');
    client.on('error', () => {});
    const ended = once(client, 'end');
    await proxy.close();
    await ended;
    expect(proxy.connectionCount).toBe(0);
  });

  test('listening on a port in use fails with a coded error', async () => {
    const { port } = await proxyTo([]);
    const second = new TcpProxy({ host: '127.0.0.1', port, picker: new LoadBalancer(), logger: silentLogger });
    onCleanup(() => second.close());
    await expect(second.listen()).rejects.toMatchObject({ code: 'DKL_ERR_RUNTIME' });
  });
});
