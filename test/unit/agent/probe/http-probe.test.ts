import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { httpProbe } from '../../../../agent/probe/http-probe.js';
import { action, closedPort, closeServers, httpServer, httpsServer } from '../../loopback.js';

const rawServers: Array<{ server: Server; sockets: Socket[] }> = [];

afterEach(async () => {
  vi.useRealTimers();
  vi.restoreAllMocks();
  await closeServers();
  for (const { sockets } of rawServers) for (const socket of sockets) socket.destroy();
  await Promise.all(rawServers.splice(0).map(({ server }) => new Promise((resolve) => server.close(resolve))));
});

/** A TCP server that answers every request with `response`, then closes (or, with `hang`, never does). */
async function rawServer(response: string, hang = false): Promise<number> {
  const sockets: Socket[] = [];
  const server = createServer((socket) => {
    sockets.push(socket);
    socket.on('error', () => undefined);
    socket.once('data', () => {
      socket.write(response);
      if (!hang) socket.end();
    });
  });
  rawServers.push({ server, sockets });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}


/** A server that answers every request with `status` and `body`. */
const answering = (status: number, body: string, headers: Record<string, string> = {}) =>
  httpServer((_, res) => res.writeHead(status, headers).end(body));

describe('httpProbe: status codes', () => {
  test('200 is Success, with the body as output', async () => {
    const { port } = await answering(200, 'ok');
    await expect(httpProbe(action(port), 1000)).resolves.toEqual({ result: 'Success', output: 'ok' });
  });

  test('299 is Success', async () => {
    const { port } = await answering(299, 'fine');
    await expect(httpProbe(action(port), 1000)).resolves.toEqual({ result: 'Success', output: 'fine' });
  });

  test('399 succeeds with a Warning (a 3xx that was not followed)', async () => {
    const { port } = await answering(399, 'odd');
    await expect(httpProbe(action(port), 1000)).resolves.toEqual({ result: 'Warning', output: 'Probe terminated redirects, Response body: odd' });
  });

  test('a redirect to another host is not followed: Warning with its body', async () => {
    const { port, requests } = await httpServer((_, res) => res.writeHead(302, { Location: `http://localhost:${port}/` }).end('moved'));
    await expect(httpProbe(action(port), 1000)).resolves.toEqual({ result: 'Warning', output: 'Probe terminated redirects, Response body: moved' });
    expect(requests).toHaveLength(1);
  });

  test('400 is Failure: "HTTP probe failed with statuscode: 400", without the body', async () => {
    const { port } = await answering(400, 'secret detail');
    await expect(httpProbe(action(port), 1000)).resolves.toEqual({ result: 'Failure', output: 'HTTP probe failed with statuscode: 400' });
  });

  test('503 is Failure', async () => {
    const { port } = await answering(503, '');
    await expect(httpProbe(action(port), 1000)).resolves.toEqual({ result: 'Failure', output: 'HTTP probe failed with statuscode: 503' });
  });

  test('a same-host redirect is followed: its target decides (200)', async () => {
    const { port } = await httpServer((req, res) => (req.url === '/' ? res.writeHead(301, { Location: '/ready' }).end() : res.end('ready')));
    await expect(httpProbe(action(port), 1000)).resolves.toEqual({ result: 'Success', output: 'ready' });
  });

  test('a same-host redirect is followed: its target decides (500)', async () => {
    const { port } = await httpServer((req, res) => (req.url === '/' ? res.writeHead(302, { Location: '/broken' }).end() : res.writeHead(500).end()));
    await expect(httpProbe(action(port), 1000)).resolves.toEqual({ result: 'Failure', output: 'HTTP probe failed with statuscode: 500' });
  });

  test('more than 10 redirects is Failure: "stopped after 10 redirects"', async () => {
    const { port } = await httpServer((req, res) => res.writeHead(302, { Location: `${req.url}x` }).end());
    await expect(httpProbe(action(port, { path: '/r' }), 1000)).resolves.toEqual({ result: 'Failure', output: 'Get "/rxxxxxxxxxx": stopped after 10 redirects' });
  });

  test('HTTPS with a self-signed certificate is Success', async () => {
    const { port } = await httpsServer((_, res) => res.end('tls ok'));
    await expect(httpProbe(action(port, { scheme: 'HTTPS' }), 1000)).resolves.toEqual({ result: 'Success', output: 'tls ok' });
  });

  test('the request says User-Agent kube-probe/1.32', async () => {
    const { port, requests } = await answering(200, '');
    await httpProbe(action(port), 1000);
    expect(requests[0]!.headers['user-agent']).toBe('kube-probe/1.32');
  });
});

describe('httpProbe: no response', () => {
  test('connection refused is Failure', async () => {
    const port = await closedPort();
    await expect(httpProbe(action(port), 1000)).resolves.toEqual({
      result: 'Failure',
      output: `Get "http://127.0.0.1:${port}/": dial tcp 127.0.0.1:${port}: connect: connection refused`,
    });
  });

  test('no answer within timeoutSeconds is Failure naming the URL', async () => {
    // Fake timers: the deadline is reached by hand once the request has arrived, no waiting.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { port } = await httpServer(() => vi.advanceTimersByTime(3000));
    await expect(httpProbe(action(port, { path: '/slow' }), 3000)).resolves.toEqual({
      result: 'Failure',
      output: `Get "http://127.0.0.1:${port}/slow": context deadline exceeded (Client.Timeout exceeded while awaiting headers)`,
    });
  });
});

describe('httpProbe: a body that cannot be read is an error (thrown: the prober discards the run)', () => {
  test('a body cut short: unexpected EOF', async () => {
    const port = await rawServer('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc');
    await expect(httpProbe(action(port), 1000)).rejects.toMatchObject({ name: 'ProbeRunError', result: 'Failure', message: 'unexpected EOF' });
  });

  test('a malformed chunk', async () => {
    const port = await rawServer('HTTP/1.1 503 Unavailable\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n');
    await expect(httpProbe(action(port), 1000)).rejects.toMatchObject({ name: 'ProbeRunError', result: 'Failure', message: 'invalid byte in chunk length' });
  });

  test('the timeout reached while reading the body', async () => {
    const port = await rawServer('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc', true);
    await expect(httpProbe(action(port), 200)).rejects.toMatchObject({ name: 'ProbeRunError', result: 'Failure', message: 'context deadline exceeded (Client.Timeout or context cancellation while reading body)' });
  });

  test('a malformed response is a Failure naming why, as any response that never came', async () => {
    const port = await rawServer('SSH-2.0-OpenSSH_9.0\r\n');
    await expect(httpProbe(action(port), 1000)).resolves.toEqual({
      result: 'Failure',
      output: `Get "http://127.0.0.1:${port}/": net/http: HTTP/1.x transport connection broken: malformed HTTP response "SSH-2.0-OpenSSH_9.0"`,
    });
  });
});
