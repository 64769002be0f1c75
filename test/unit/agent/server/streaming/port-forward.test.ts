import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Server } from 'node:net';
import { afterEach, describe, expect, test } from 'vitest';
import { isDockerletError } from '../../../../../common/api/errors.js';
import { portForwardOptions, servePortForward, type PortForwardOptions } from '../../../../../agent/server/streaming/port-forward.js';
import { memoryLogger } from '../../../../helpers/memory-logger.js';
import { waitFor } from '../../../../helpers/wait-for.js';
import { ChannelClient, closeAll, GoLikeSpdyClient, track, upgradeServer } from './harness.js';

const echoServers: Server[] = [];
afterEach(async () => {
  await closeAll();
  await Promise.all(echoServers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
});

/** A TCP server on 127.0.0.1 that echoes what it gets and closes when its client is done. */
async function echoServer(): Promise<number> {
  const server = createServer((socket) => {
    track(socket);
    socket.pipe(socket);
  });
  echoServers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

/**
 * A port-forward server whose connect() reaches the echo server for `echoPort` and fails with
 * "connection refused" for any other port.
 */
async function forwardServer(echoPort: number, overrides: Partial<PortForwardOptions> = {}): Promise<{ port: number; connects: number[] }> {
  const connects: number[] = [];
  const port = await upgradeServer((req, socket, head) => {
    void servePortForward(req, socket, head, {
      ...portForwardOptions(req),
      podName: 'web',
      podUid: 'u1',
      logger: memoryLogger().logger,
      connect: async (target) => {
        connects.push(target);
        if (target !== 80) throw new Error('connection refused');
        const connection = track(connect(echoPort, '127.0.0.1'));
        await once(connection, 'connect');
        return connection;
      },
      ...overrides,
    });
  });
  return { port, connects };
}

describe('port forwarding over SPDY', () => {
  test('a data/error pair carries bytes both ways and ends cleanly', async () => {
    const { port } = await forwardServer(await echoServer());
    const client = await GoLikeSpdyClient.connect(port, '/portForward/default/web', ['portforward.k8s.io']);
    expect(client.answer.headers['x-stream-protocol-version']).toBe('portforward.k8s.io');
    const error = await client.openStream({ streamType: 'error', port: '80', requestID: '0' });
    const data = await client.openStream({ streamType: 'data', port: '80', requestID: '0' });
    data.stream.write('GET / HTTP/1.0\r\n\r\n');
    data.stream.end();
    expect((await data.received).toString()).toBe('GET / HTTP/1.0\r\n\r\n');
    expect((await error.received).toString()).toBe('');
  });

  test('two pairs on one connection are forwarded apart', async () => {
    const { port, connects } = await forwardServer(await echoServer());
    const client = await GoLikeSpdyClient.connect(port, '/portForward/default/web', ['portforward.k8s.io']);
    const pairs = [];
    for (const requestID of ['0', '1']) {
      await client.openStream({ streamType: 'error', port: '80', requestID });
      pairs.push(await client.openStream({ streamType: 'data', port: '80', requestID }));
    }
    pairs[0]!.stream.end('first');
    pairs[1]!.stream.end('second');
    expect((await pairs[0]!.received).toString()).toBe('first');
    expect((await pairs[1]!.received).toString()).toBe('second');
    expect(connects).toEqual([80, 80]);
  });

  test('a connection that fails is reported on the error stream as upstream words it', async () => {
    const { port } = await forwardServer(await echoServer());
    const client = await GoLikeSpdyClient.connect(port, '/portForward/default/web', ['portforward.k8s.io']);
    const error = await client.openStream({ streamType: 'error', port: '81', requestID: '0' });
    await client.openStream({ streamType: 'data', port: '81', requestID: '0' });
    expect((await error.received).toString()).toBe('error forwarding port 81 to pod web, uid u1: connection refused');
  });

  test('a pair that stays incomplete is reported on its error stream after the creation timeout', async () => {
    const { port, connects } = await forwardServer(await echoServer(), { streamCreationTimeoutMs: 100 });
    const client = await GoLikeSpdyClient.connect(port, '/portForward/default/web', ['portforward.k8s.io']);
    const error = await client.openStream({ streamType: 'error', port: '80', requestID: '7' });
    expect((await error.received).toString()).toMatch(/^\(conn=127\.0\.0\.1, request=7\) timed out waiting for streams$/);
    expect(connects).toEqual([]);
  });

  test('a stream without a port header is reset', async () => {
    const { port } = await forwardServer(await echoServer());
    const client = await GoLikeSpdyClient.connect(port, '/portForward/default/web', ['portforward.k8s.io']);
    const stream = client.connection.request({ method: 'POST', path: '/', headers: { streamType: 'data', requestID: '0' } }, () => undefined);
    stream.on('error', () => undefined);
    let replied = false;
    stream.once('response', () => (replied = true));
    await once(stream, 'close');
    expect(replied).toBe(false);
  });

  test('a client that offers only remotecommand versions is refused with 403', async () => {
    const { port } = await forwardServer(await echoServer());
    await expect(GoLikeSpdyClient.connect(port, '/portForward/default/web', ['v4.channel.k8s.io'])).rejects.toThrow(/^upgrade refused: 403 unable to upgrade: unable to negotiate protocol/);
  });
});

describe.each(['v4.channel.k8s.io', 'v4.base64.channel.k8s.io'])('port forwarding over WebSocket "%s"', (protocol) => {
  test('each port first gets its number on both channels, then data flows on 2i and failures come on 2i+1', async () => {
    const { port } = await forwardServer(await echoServer());
    const client = await ChannelClient.connect(port, '/portForward/default/web?port=80&port=81', [protocol]);
    const portBytes = (value: number): Buffer => Buffer.of(value & 0xff, value >> 8);
    await waitFor('the port frames', () => [0, 1, 2, 3].every((channel) => client.channel(channel).length >= 2));
    expect([0, 1, 2, 3].map((channel) => client.channel(channel).subarray(0, 2))).toEqual([portBytes(80), portBytes(80), portBytes(81), portBytes(81)]);

    client.send(0, 'hello');
    await waitFor('the echo', () => client.channel(0).subarray(2).toString() === 'hello');
    await waitFor('the failure', () => client.channel(3).length > 2);
    expect(client.channel(3).subarray(2).toString()).toBe('error forwarding port 81 to pod web, uid u1: connection refused');
    expect(client.channel(2).length).toBe(2);
  });
});

describe('port forwarding over WebSocket', () => {
  test('the WebSocket closes normally once every forwarded connection is over', async () => {
    const { port } = await forwardServer(await echoServer());
    const client = await ChannelClient.connect(port, '/portForward/default/web?port=81', ['v4.channel.k8s.io']);
    expect(await client.closed).toEqual({ code: 1000 });
    expect(client.channel(1).subarray(2).toString()).toBe('error forwarding port 81 to pod web, uid u1: connection refused');
  });
});

describe('portForwardOptions', () => {
  const wsRequest = (query: string) => ({ url: `/portForward/default/web${query}`, headers: { upgrade: 'websocket', connection: 'Upgrade' } }) as never;
  const message = (query: string): string => {
    try {
      portForwardOptions(wsRequest(query));
      return 'accepted';
    } catch (err) {
      expect(isDockerletError(err, 'DKL_ERR_BAD_REQUEST')).toBe(true);
      return (err as Error).message;
    }
  };

  test('reads every port parameter, comma-separated lists included', () => {
    expect(portForwardOptions(wsRequest('?port=80,443&port=8080'))).toEqual({ ports: [80, 443, 8080] });
  });

  test('a SPDY request names its ports per stream', () => {
    expect(portForwardOptions({ url: '/portForward/default/web', headers: { upgrade: 'SPDY/3.1', connection: 'Upgrade' } } as never)).toEqual({ ports: [] });
  });

  test('refuses what upstream refuses, with its messages', () => {
    expect(message('')).toBe('query parameter "port" is required');
    expect(message('?port=')).toBe('query parameter "port" cannot be empty');
    expect(message('?port=http')).toBe('unable to parse "http" as a port: strconv.ParseUint: parsing "http": invalid syntax');
    expect(message('?port=70000')).toBe('unable to parse "70000" as a port: strconv.ParseUint: parsing "70000": value out of range');
    expect(message('?port=0')).toBe('port "0" must be > 0');
  });
});
