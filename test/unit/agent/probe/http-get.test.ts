import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { doHttpGet, httpGetRequestHead, httpGetUrl } from '../../../../agent/probe/http-get.js';
import { action, closedPort, closeServers, httpServer, httpsServer } from '../../loopback.js';

afterEach(async () => {
  vi.useRealTimers();
  vi.restoreAllMocks();
  await closeServers();
  await closeRawServers();
});

/**
 * What a raw server does once it has read a request head: a string is written as it is (a
 * packet of its own: Nagle off, and a pause after it), a number waits that many ms, RESET
 * resets the connection, HANG leaves it open; after the last step the server closes its side.
 */
type Step = string | number | typeof RESET | typeof HANG;
const RESET = Symbol('reset');
const HANG = Symbol('hang');

interface RawServer {
  port: number;
  /** Every request head received, in order. */
  requests: string[];
  /** Connections accepted. */
  connections: number;
}

const rawServers: Array<{ server: Server; sockets: Set<Socket> }> = [];

/** A TCP server on `host` that answers each request with `script` (the same for every request, or chosen by the request). */
async function rawServer(script: readonly Step[] | ((request: string) => readonly Step[]), host = '127.0.0.1'): Promise<RawServer> {
  const sockets = new Set<Socket>();
  const raw: RawServer = { port: 0, requests: [], connections: 0 };
  const server = createServer((socket) => {
    raw.connections += 1;
    sockets.add(socket);
    socket.setNoDelay(true);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
    let head = '';
    const onData = async (chunk: Buffer): Promise<void> => {
      head += chunk.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      socket.off('data', onData);
      raw.requests.push(head);
      for (const step of typeof script === 'function' ? script(head) : script) {
        if (socket.destroyed) return;
        if (step === RESET) return void socket.resetAndDestroy();
        if (step === HANG) return;
        if (typeof step === 'number') {
          await new Promise((resolve) => setTimeout(resolve, step));
        } else {
          socket.write(Buffer.from(step, 'latin1'));
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
      }
      socket.end();
    };
    socket.on('data', (chunk: Buffer) => void onData(chunk));
  });
  rawServers.push({ server, sockets });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  raw.port = (server.address() as AddressInfo).port;
  return raw;
}

async function closeRawServers(): Promise<void> {
  const servers = rawServers.splice(0);
  await Promise.all(
    servers.map(
      ({ server, sockets }) =>
        new Promise<void>((resolve) => {
          for (const socket of sockets) socket.destroy();
          server.close(() => resolve());
        }),
    ),
  );
}

/** `text` one byte a packet. */
const byteByByte = (text: string): string[] => [...text];


describe('httpGetUrl', () => {
  test('joins scheme, host, port and path', () => {
    expect(httpGetUrl(action(8080, { scheme: 'HTTPS', path: '/healthz?full=1' })).href).toBe('https://127.0.0.1:8080/healthz?full=1');
  });

  test('a path without a leading slash gets one', () => {
    expect(httpGetUrl(action(8080, { path: 'healthz' })).href).toBe('http://127.0.0.1:8080/healthz');
  });

  test('an IPv6 host is bracketed', () => {
    expect(httpGetUrl(action(8080, { host: 'fd00::5' })).href).toBe('http://[fd00::5]:8080/');
  });
});

describe('doHttpGet: the response', () => {
  test('returns the status code, the body and the URL', async () => {
    const { port } = await httpServer((_, res) => res.end('all good'));
    const response = await doHttpGet(action(port, { path: '/healthz' }), { purpose: 'probe' });
    expect(response.statusCode).toBe(200);
    expect(response.body).toBe('all good');
    expect(response.url.href).toBe(`http://127.0.0.1:${port}/healthz`);
  });

  test('reads at most 10 KiB of the body', async () => {
    const { port } = await httpServer((_, res) => res.end('x'.repeat(20 * 1024)));
    const response = await doHttpGet(action(port), { purpose: 'probe' });
    expect(response.body).toBe('x'.repeat(10 * 1024));
  });

  test('a 500 is a response like any other (the caller judges the status)', async () => {
    const { port } = await httpServer((_, res) => {
      res.statusCode = 500;
      res.end('broken');
    });
    const response = await doHttpGet(action(port), { purpose: 'probe' });
    expect([response.statusCode, response.body]).toEqual([500, 'broken']);
  });

  test('a header value with a long run of spaces inside is read at once (no backtracking), and so is an action header', async () => {
    const spaces = ' '.repeat(200_000);
    const { port } = await rawServer([`HTTP/1.1 200 OK\r\nX-Padding: a${spaces}b  \r\nContent-Length: 2\r\n\r\nok`]);
    // A quadratic trim holds the event loop for minutes on these values: the test's timeout fails it.
    const response = await doHttpGet(action(port, { headers: [{ name: 'X-Sent', value: `c${spaces}d` }] }), { purpose: 'probe', timeoutMs: 5000 });
    expect([response.statusCode, response.body]).toEqual([200, 'ok']);
  });

  test('HTTPS to a host name sends it as the server name (SNI); to an address, none', async () => {
    const names: Array<string | false> = [];
    const { port } = await httpsServer((req, res) => {
      names.push((req.socket as unknown as { servername: string | false }).servername);
      res.end('secure');
    });
    await doHttpGet(action(port, { scheme: 'HTTPS', host: 'localhost' }), { purpose: 'probe' });
    await doHttpGet(action(port, { scheme: 'HTTPS' }), { purpose: 'probe' });
    expect(names).toEqual(['localhost', false]);
  });

  test('HTTPS with a self-signed certificate is accepted (no verification)', async () => {
    const { port } = await httpsServer((_, res) => res.end('secure'));
    const response = await doHttpGet(action(port, { scheme: 'HTTPS' }), { purpose: 'probe' });
    expect([response.statusCode, response.body, response.url.protocol]).toEqual([200, 'secure', 'https:']);
  });
});

describe('doHttpGet: the request', () => {
  test('sends Connection: close, User-Agent kube-probe/1.32 and Accept */*', async () => {
    const { port, requests } = await httpServer((_, res) => res.end());
    await doHttpGet(action(port), { purpose: 'probe' });
    expect(requests).toHaveLength(1);
    expect(requests[0]!.method).toBe('GET');
    expect(requests[0]!.headers).toMatchObject({ connection: 'close', 'user-agent': 'kube-probe/1.32', accept: '*/*' });
  });

  test('a lifecycle hook says kube-lifecycle/1.32', async () => {
    const { port, requests } = await httpServer((_, res) => res.end());
    await doHttpGet(action(port), { purpose: 'lifecycle' });
    expect(requests[0]!.headers['user-agent']).toBe('kube-lifecycle/1.32');
  });

  test('httpHeaders override User-Agent and Accept, whatever their case', async () => {
    const { port, requests } = await httpServer((_, res) => res.end());
    const headers = [
      { name: 'user-agent', value: 'my-agent' },
      { name: 'ACCEPT', value: 'application/json' },
      { name: 'X-Custom', value: 'yes' },
    ];
    await doHttpGet(action(port, { headers }), { purpose: 'probe' });
    expect(requests[0]!.headers).toMatchObject({ 'user-agent': 'my-agent', accept: 'application/json', 'x-custom': 'yes' });
    expect(requests[0]!.rawHeaders.filter((h) => h.toLowerCase() === 'user-agent')).toHaveLength(1);
  });

  test('a header given twice is sent with both values', async () => {
    const { port, requests } = await httpServer((_, res) => res.end());
    const headers = [
      { name: 'X-Token', value: 'a' },
      { name: 'x-token', value: 'b' },
    ];
    await doHttpGet(action(port, { headers }), { purpose: 'probe' });
    expect(requests[0]!.headers['x-token']).toBe('a, b');
  });

  test('an Accept header set to "" sends no Accept at all', async () => {
    const { port, requests } = await httpServer((_, res) => res.end());
    await doHttpGet(action(port, { headers: [{ name: 'Accept', value: '' }] }), { purpose: 'probe' });
    expect(requests[0]!.headers.accept).toBeUndefined();
  });

  test('a User-Agent set to "" sends no User-Agent at all', async () => {
    const { port, requests } = await httpServer((_, res) => res.end());
    await doHttpGet(action(port, { headers: [{ name: 'User-Agent', value: '' }] }), { purpose: 'probe' });
    expect(requests[0]!.headers['user-agent']).toBeUndefined();
  });

  test('a Host header is honoured', async () => {
    const { port, requests } = await httpServer((_, res) => res.end());
    await doHttpGet(action(port, { headers: [{ name: 'Host', value: 'example.test' }] }), { purpose: 'probe' });
    expect(requests[0]!.headers.host).toBe('example.test');
  });

  test('without a Host header, the host is the target', async () => {
    const { port, requests } = await httpServer((_, res) => res.end());
    await doHttpGet(action(port), { purpose: 'probe' });
    expect(requests[0]!.headers.host).toBe(`127.0.0.1:${port}`);
  });
});

describe('doHttpGet: redirects', () => {
  test.each([301, 302, 303, 307, 308])('a %i to the same host is followed, and the new target answers', async (code) => {
    const { port, requests } = await httpServer((req, res) => {
      if (req.url === '/start') {
        res.writeHead(code, { Location: '/end' }).end('moving');
      } else {
        res.writeHead(503).end('target down');
      }
    });
    const response = await doHttpGet(action(port, { path: '/start' }), { purpose: 'probe' });
    expect(requests.map((r) => r.url)).toEqual(['/start', '/end']);
    expect([response.statusCode, response.body, response.url.href]).toEqual([503, 'target down', `http://127.0.0.1:${port}/end`]);
  });

  test('an absolute Location on the same host (another port) is followed', async () => {
    const target = await httpServer((_, res) => res.end('other port'));
    const { port } = await httpServer((_, res) => res.writeHead(302, { Location: `http://127.0.0.1:${target.port}/there` }).end());
    const response = await doHttpGet(action(port), { purpose: 'probe' });
    expect([response.statusCode, response.body]).toEqual([200, 'other port']);
    expect(target.requests.map((r) => r.url)).toEqual(['/there']);
  });

  test('a redirect to another host (localhost is not 127.0.0.1) is not followed: the 3xx comes back', async () => {
    const { port, requests } = await httpServer((req, res) => {
      if (req.url === '/') res.writeHead(302, { Location: `http://localhost:${port}/elsewhere` }).end('moved away');
      else res.end('should not be asked');
    });
    const response = await doHttpGet(action(port), { purpose: 'probe' });
    expect([response.statusCode, response.body, response.url.href]).toEqual([302, 'moved away', `http://127.0.0.1:${port}/`]);
    expect(requests.map((r) => r.url)).toEqual(['/']);
  });

  test('a 3xx without a Location is returned as it is', async () => {
    const { port, requests } = await httpServer((_, res) => res.writeHead(302).end('nowhere to go'));
    const response = await doHttpGet(action(port), { purpose: 'probe' });
    expect([response.statusCode, response.body]).toEqual([302, 'nowhere to go']);
    expect(requests).toHaveLength(1);
  });

  test('9 redirects are followed (10 requests in all)', async () => {
    const { port, requests } = await httpServer((req, res) => {
      const n = Number(req.url!.slice(2));
      if (n < 9) res.writeHead(302, { Location: `/r${n + 1}` }).end();
      else res.end('made it');
    });
    const response = await doHttpGet(action(port, { path: '/r0' }), { purpose: 'probe' });
    expect([response.statusCode, response.body]).toEqual([200, 'made it']);
    expect(requests).toHaveLength(10);
  });

  test('the 10th redirect is refused: "stopped after 10 redirects", naming the Location', async () => {
    const { port, requests } = await httpServer((req, res) => {
      const n = Number(req.url!.slice(2));
      res.writeHead(302, { Location: `/r${n + 1}` }).end();
    });
    await expect(doHttpGet(action(port, { path: '/r0' }), { purpose: 'probe' })).rejects.toThrow(new Error('Get "/r10": stopped after 10 redirects'));
    expect(requests).toHaveLength(10);
  });
});

describe('doHttpGet: no response', () => {
  test('connection refused rejects, naming the URL as Go does', async () => {
    const port = await closedPort();
    await expect(doHttpGet(action(port, { path: '/healthz' }), { purpose: 'probe' })).rejects.toThrow(
      new Error(`Get "http://127.0.0.1:${port}/healthz": dial tcp 127.0.0.1:${port}: connect: connection refused`),
    );
  });

  test('the timeout gives up while the server is silent: context deadline exceeded', async () => {
    // Fake timers: the deadline is reached by hand once the request has arrived, no waiting.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { port } = await httpServer(() => vi.advanceTimersByTime(1000));
    await expect(doHttpGet(action(port), { purpose: 'probe', timeoutMs: 1000 })).rejects.toThrow(
      new Error(`Get "http://127.0.0.1:${port}/": context deadline exceeded (Client.Timeout exceeded while awaiting headers)`),
    );
  });

  test('the timeout does not fire before timeoutMs', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { port } = await httpServer((_req, res) => {
      vi.advanceTimersByTime(999);
      res.end('late but in time');
    });
    await expect(doHttpGet(action(port), { purpose: 'probe', timeoutMs: 1000 })).resolves.toMatchObject({ statusCode: 200 });
  });

  test('no timer or abort listener outlives the GET', async () => {
    // Probes run many times a second: anything left behind per GET would pile up.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const caller = new AbortController();
    const added = vi.spyOn(caller.signal, 'addEventListener');
    const removed = vi.spyOn(caller.signal, 'removeEventListener');
    const { port } = await httpServer((_req, res) => res.end('ok'));
    await doHttpGet(action(port), { purpose: 'probe', signal: caller.signal, timeoutMs: 60_000 });
    expect(vi.getTimerCount()).toBe(0);
    expect(removed.mock.calls.map(([type, listener]) => [type, listener])).toEqual(added.mock.calls.map(([type, listener]) => [type, listener]));
  });

  test("the caller's signal gives up while the server is silent: context canceled", async () => {
    const controller = new AbortController();
    const { port } = await httpServer(() => controller.abort());
    await expect(doHttpGet(action(port), { purpose: 'lifecycle', signal: controller.signal, timeoutMs: 60_000 })).rejects.toThrow(
      new Error(`Get "http://127.0.0.1:${port}/": context canceled`),
    );
  });
});

const ok = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';
const get = (port: number, extra: Parameters<typeof action>[1] = {}, timeoutMs = 5000) => doHttpGet(action(port, extra), { purpose: 'probe', timeoutMs });
const broken = (port: number, why: string, path = '/') => new Error(`Get "http://127.0.0.1:${port}${path}": net/http: HTTP/1.x transport connection broken: ${why}`);

describe('doHttpGet: the request, byte for byte', () => {
  test('Host with the port, User-Agent, the other headers sorted by canonical name, one line per value, Connection: close', async () => {
    const server = await rawServer([ok]);
    const headers = [
      { name: 'x-token', value: 'a' },
      { name: 'b-header', value: '  padded  ' },
      { name: 'X-TOKEN', value: 'b' },
    ];
    await get(server.port, { path: '/healthz?full=1', headers });
    expect(server.requests).toEqual([
      `GET /healthz?full=1 HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nUser-Agent: kube-probe/1.32\r\nAccept: */*\r\nB-Header: padded\r\nX-Token: a\r\nX-Token: b\r\nConnection: close\r\n\r\n`,
    ]);
  });

  test('the Host header names the port even when it is the scheme default (net.JoinHostPort)', () => {
    expect(httpGetRequestHead(action(80), 'probe')).toContain('\r\nHost: 127.0.0.1:80\r\n');
    expect(httpGetRequestHead(action(443, { scheme: 'HTTPS' }), 'probe')).toContain('\r\nHost: 127.0.0.1:443\r\n');
    expect(httpGetRequestHead(action(8080, { host: 'fd00::5' }), 'probe')).toContain('\r\nHost: [fd00::5]:8080\r\n');
  });

  test('a Host header of the action replaces it (its first value); an invalid one is sent empty', () => {
    expect(httpGetRequestHead(action(80, { headers: [{ name: 'host', value: 'a.test' }, { name: 'Host', value: 'b.test' }] }), 'probe')).toMatch(/\r\nHost: a\.test\r\n(?![\s\S]*b\.test)/);
    expect(httpGetRequestHead(action(80, { headers: [{ name: 'Host', value: 'bad host' }] }), 'probe')).toContain('\r\nHost: \r\n');
  });

  test("a lifecycle hook's request: no Connection: close, Accept-Encoding: gzip (the kubelet's lifecycle client is a plain http.Transport)", () => {
    expect(httpGetRequestHead(action(8080, { path: '/hook' }), 'lifecycle')).toBe(
      'GET /hook HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: kube-lifecycle/1.32\r\nAccept: */*\r\nAccept-Encoding: gzip\r\n\r\n',
    );
    expect(httpGetRequestHead(action(8080, { headers: [{ name: 'accept-encoding', value: 'identity' }] }), 'lifecycle')).toMatch(/\r\nAccept-Encoding: identity\r\n\r\n$/);
    expect(httpGetRequestHead(action(8080, { headers: [{ name: 'Range', value: 'bytes=0-1' }] }), 'lifecycle')).not.toContain('gzip');
  });

  test("a probe's request asks for no encoding (the probe transport disables compression)", () => {
    expect(httpGetRequestHead(action(8080), 'probe')).toBe('GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: kube-probe/1.32\r\nAccept: */*\r\nConnection: close\r\n\r\n');
  });

  test('a User-Agent given twice is sent once, with its first value', () => {
    const head = httpGetRequestHead(action(80, { headers: [{ name: 'User-Agent', value: 'one' }, { name: 'user-agent', value: 'two' }] }), 'probe');
    expect(head.match(/User-Agent: .*/g)).toEqual(['User-Agent: one']);
  });

  test('Content-Length, Transfer-Encoding and Trailer of the action are never sent', () => {
    const head = httpGetRequestHead(
      action(80, { headers: [{ name: 'Content-Length', value: '5' }, { name: 'Transfer-Encoding', value: 'chunked' }, { name: 'Trailer', value: 'x' }] }),
      'probe',
    );
    expect(head).not.toMatch(/Content-Length|Transfer-Encoding|Trailer/);
  });

  test('a Connection header that says close is the only one; another one gets Connection: close beside it', () => {
    expect(httpGetRequestHead(action(80, { headers: [{ name: 'connection', value: 'Close' }] }), 'probe').match(/Connection: .*/g)).toEqual(['Connection: Close']);
    expect(httpGetRequestHead(action(80, { headers: [{ name: 'Connection', value: 'keep-alive' }] }), 'probe').match(/Connection: .*/g)).toEqual([
      'Connection: keep-alive',
      'Connection: close',
    ]);
  });

  test('an Accept whose first value is "" is not sent at all; one whose later value is "" is sent as given', () => {
    expect(httpGetRequestHead(action(80, { headers: [{ name: 'Accept', value: '' }, { name: 'Accept', value: 'x' }] }), 'probe')).not.toContain('Accept');
    expect(httpGetRequestHead(action(80, { headers: [{ name: 'Accept', value: 'x' }, { name: 'Accept', value: '' }] }), 'probe')).toContain('\r\nAccept: x\r\nAccept: \r\n');
  });

  test.each([
    [{ name: 'bad name', value: 'x' }, 'net/http: invalid header field name "bad name"'],
    [{ name: '', value: 'x' }, 'net/http: invalid header field name ""'],
    [{ name: 'X-Evil', value: 'a\r\nInjected: yes' }, 'net/http: invalid header field value for "X-Evil"'],
    [{ name: 'X-Nul', value: 'a\u0000b' }, 'net/http: invalid header field value for "X-Nul"'],
  ])('an invalid header (%j) fails the GET before anything is sent', async (header, why) => {
    const server = await rawServer([ok]);
    await expect(get(server.port, { headers: [header] })).rejects.toThrow(new Error(`Get "http://127.0.0.1:${server.port}/": ${why}`));
    expect(server.connections).toBe(0);
  });

  test('a tab inside a header value is allowed', async () => {
    const server = await rawServer([ok]);
    await get(server.port, { headers: [{ name: 'X-Tab', value: 'a\tb' }] });
    expect(server.requests[0]).toContain('\r\nX-Tab: a\tb\r\n');
  });
});

describe('doHttpGet: reading the response', () => {
  test('a response split at every byte is read as one', async () => {
    const server = await rawServer(byteByByte('HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b\r\n\r\nhello'));
    await expect(get(server.port)).resolves.toMatchObject({ statusCode: 200, body: 'hello' });
  });

  test('a head split inside a line, a body in pieces', async () => {
    const server = await rawServer(['HTTP/1.1 2', '01 Created\r\nContent-Le', 'ngth: 11\r', '\n\r\nhello', ' world']);
    await expect(get(server.port)).resolves.toMatchObject({ statusCode: 201, body: 'hello world' });
  });

  test('a header line of 1 MiB in 16 pieces is read whole', async () => {
    const piece = 'v'.repeat(64 * 1024);
    const server = await rawServer(['HTTP/1.1 200 OK\r\nX-Big: ', ...Array.from({ length: 16 }, () => piece), '\r\nContent-Length: 2\r\n\r\nok']);
    await expect(get(server.port)).resolves.toMatchObject({ statusCode: 200, body: 'ok' });
  });

  test("a head past 10 MiB fails the GET (Go's MaxResponseHeaderBytes)", async () => {
    const server = await rawServer(['HTTP/1.1 200 OK\r\nX-Big: ', 'v'.repeat(11 << 20), HANG]);
    await expect(get(server.port)).rejects.toThrow(broken(server.port, 'net/http: server response headers exceeded 10485760 bytes; aborted'));
  });

  test('without a Content-Length the body runs until the server closes', async () => {
    const server = await rawServer(['HTTP/1.1 200 OK\r\n\r\nfirst ', 20, 'second']);
    await expect(get(server.port)).resolves.toMatchObject({ statusCode: 200, body: 'first second' });
  });

  test('the body stops at Content-Length, whatever follows', async () => {
    const server = await rawServer(['HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nokEXTRA', HANG]);
    await expect(get(server.port)).resolves.toMatchObject({ body: 'ok' });
  });

  test('10 KiB of a body that never ends are read, and the GET is over', async () => {
    const server = await rawServer(['HTTP/1.1 200 OK\r\n\r\n', 'x'.repeat(6000), 'y'.repeat(6000), HANG]);
    const response = await get(server.port);
    expect(response.body).toBe('x'.repeat(6000) + 'y'.repeat(4240));
    expect(response.bodyError).toBeUndefined();
  });

  test('chunked, with chunk extensions and trailer fields, across packets', async () => {
    const server = await rawServer(['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;name=value\r\nabc\r\n', '2;x\r', '\nde\r\n', '0\r\nX-Trailer: t\r\n\r\n', HANG]);
    await expect(get(server.port)).resolves.toEqual({ statusCode: 200, body: 'abcde', url: new URL(`http://127.0.0.1:${server.port}/`) });
  });

  test('chunked wins over a Content-Length beside it', async () => {
    const server = await rawServer(['HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\nContent-Length: 100\r\n\r\n3\r\nabc\r\n0\r\n\r\n']);
    await expect(get(server.port)).resolves.toMatchObject({ body: 'abc' });
  });

  test('lines ended by a bare LF are read as Go reads them', async () => {
    const server = await rawServer(['HTTP/1.1 200 OK\nContent-Length: 2\n\nok']);
    await expect(get(server.port)).resolves.toMatchObject({ statusCode: 200, body: 'ok' });
  });

  test('a folded header line continues the previous one (obsolete folding)', async () => {
    const server = await rawServer(['HTTP/1.1 200 OK\r\nX-A: a\r\n  b\r\nContent-Length: 2\r\n\r\nokEXTRA']);
    await expect(get(server.port)).resolves.toMatchObject({ statusCode: 200, body: 'ok' });
  });

  test('a header name with a space before its colon is tolerated and ignored (Go keeps it apart)', async () => {
    const server = await rawServer(['HTTP/1.1 200 OK\r\nContent-Length : 2\r\n\r\nokEXTRA']);
    await expect(get(server.port)).resolves.toMatchObject({ body: 'okEXTRA' });
  });

  test('an HTTP/1.0 response: its body until close, Transfer-Encoding ignored as Go ignores it', async () => {
    const server = await rawServer(['HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n']);
    await expect(get(server.port)).resolves.toMatchObject({ statusCode: 200, body: '2\r\nok\r\n0\r\n\r\n' });
  });

  test('100 Continue, then the response in another packet', async () => {
    const server = await rawServer(['HTTP/1.1 100 Continue\r\n\r\n', 'HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nreal']);
    await expect(get(server.port)).resolves.toMatchObject({ statusCode: 200, body: 'real' });
  });

  test('103 Early Hints and the response in one packet', async () => {
    const server = await rawServer(['HTTP/1.1 103 Early Hints\r\nLink: </style.css>\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 4\r\n\r\nreal']);
    await expect(get(server.port)).resolves.toMatchObject({ statusCode: 201, body: 'real' });
  });

  test('more than five 1xx responses fail the GET', async () => {
    const server = await rawServer(['HTTP/1.1 100 Continue\r\n\r\n'.repeat(6) + ok]);
    await expect(get(server.port)).rejects.toThrow(broken(server.port, 'net/http: too many 1xx informational responses'));
  });

  test.each([
    ['101 Switching Protocols', 'HTTP/1.1 101 Switching Protocols\r\n\r\nstuff', 101],
    ['204 No Content', 'HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\nhello', 204],
    ['304 Not Modified', 'HTTP/1.1 304 Not Modified\r\n\r\nhello', 304],
  ])('a %s has no body', async (_, response, statusCode) => {
    const server = await rawServer([response, HANG]);
    await expect(get(server.port)).resolves.toMatchObject({ statusCode, body: '' });
  });

  test('a status line without a reason phrase', async () => {
    const server = await rawServer(['HTTP/1.1 299\r\n\r\nodd']);
    await expect(get(server.port)).resolves.toMatchObject({ statusCode: 299, body: 'odd' });
  });
});

describe('doHttpGet: a malformed response fails the GET, as Go says it', () => {
  test.each([
    ['not HTTP at all', 'SSH-2.0-OpenSSH_9.0\r\n', 'malformed HTTP response "SSH-2.0-OpenSSH_9.0"'],
    ['an empty status line', '\r\nHTTP/1.1 200 OK\r\n\r\n', 'malformed HTTP response ""'],
    ['a status code that is not a number', 'HTTP/1.1 2x0 OK\r\n\r\n', 'malformed HTTP status code "2x0"'],
    ['a status code of 4 digits', 'HTTP/1.1 2000 OK\r\n\r\n', 'malformed HTTP status code "2000"'],
    ['a protocol that is not HTTP', 'HTTPS/1.1 200 OK\r\n\r\n', 'malformed HTTP version "HTTPS/1.1"'],
    ['a control character in the status line', 'HTTP/1.1 \x01200 OK\r\n\r\n', 'malformed HTTP status code "\\x01200"'],
    ['a header line without a colon', 'HTTP/1.1 200 OK\r\nBad Header\r\n\r\n', 'malformed MIME header: missing colon: "Bad Header"'],
    ['a header name with a bad character', 'HTTP/1.1 200 OK\r\nBad(Name): x\r\n\r\n', 'malformed MIME header line: Bad(Name): x'],
    ['an empty header name', 'HTTP/1.1 200 OK\r\n: x\r\n\r\n', 'malformed MIME header line: : x'],
    ['a control character in a header value', 'HTTP/1.1 200 OK\r\nX-A: a\x01b\r\n\r\n', 'malformed MIME header line: X-A: a\x01b'],
    ['a first header line that is folded', 'HTTP/1.1 200 OK\r\n  folded\r\n\r\n', 'malformed MIME header initial line:   folded'],
    ['two different Content-Lengths', 'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd', 'http: message cannot contain multiple Content-Length headers; got ["3" "4"]'],
    ['a Content-Length that is not a number', 'HTTP/1.1 200 OK\r\nContent-Length: 12abc\r\n\r\n', 'bad Content-Length "12abc"'],
    ['a negative Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n', 'bad Content-Length "-1"'],
    ['an empty Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\n', 'invalid empty Content-Length ""'],
    ['a transfer coding other than chunked', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nabc', 'unsupported transfer encoding: "gzip"'],
    ['two Transfer-Encoding fields', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n', 'too many transfer encodings: ["chunked" "chunked"]'],
    ['half a head, then the server closes', 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n', 'unexpected EOF'],
    ['half a header line, then the server closes', 'HTTP/1.1 200 OK\r\nContent-', 'malformed MIME header: missing colon: "Content-"'],
    ['half a status line, then the server closes', 'HTTP/1.1 20', 'malformed HTTP status code "20"'],
  ])('%s', async (_, response, why) => {
    const server = await rawServer([response]);
    await expect(get(server.port)).rejects.toThrow(broken(server.port, why));
  });

  test('two equal Content-Lengths are one', async () => {
    const server = await rawServer(['HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length:  3\r\n\r\nabcd']);
    await expect(get(server.port)).resolves.toMatchObject({ body: 'abc' });
  });
});

describe('doHttpGet: the body that cannot be read is the bodyError, beside the response', () => {
  test.each([
    ['a Content-Length body cut short', ['HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc'], 'abc', 'unexpected EOF'],
    ['a chunked body cut short', ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabc'], 'abc', 'unexpected EOF'],
    ['a chunk size that is not hex', ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n'], '', 'invalid byte in chunk length'],
    ['an empty chunk size', ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\nabc\r\n0\r\n\r\n'], '', 'empty hex number for chunk length'],
    ['white space before a chunk extension (Go refuses it)', ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3 ;x\r\nabc\r\n0\r\n\r\n'], '', 'invalid byte in chunk length'],
    ['a chunk not followed by CRLF', ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcXX0\r\n\r\n'], 'abc', 'malformed chunked encoding'],
    ['a chunk size line ended by a bare LF', ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\r\n0\r\n\r\n'], '', 'chunked line ends with bare LF'],
    ['the last chunk without the empty line after it', ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n'], 'abc', 'http: unexpected EOF reading trailer'],
    ['a malformed trailer field', ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nno colon\r\n\r\n'], 'abc', 'malformed MIME header: missing colon: "no colon"'],
  ])('%s', async (_, script, body, bodyError) => {
    const server = await rawServer(script);
    await expect(get(server.port)).resolves.toEqual({ statusCode: 200, body, bodyError, url: new URL(`http://127.0.0.1:${server.port}/`) });
  });

  test('a connection reset while reading the body', async () => {
    const server = await rawServer(['HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc', RESET]);
    const response = await get(server.port);
    expect(response.body).toBe('abc');
    expect(response.bodyError).toMatch(new RegExp(`^read tcp 127\\.0\\.0\\.1:\\d+->127\\.0\\.0\\.1:${server.port}: read: connection reset by peer$`));
  });

  test('the timeout reached while reading the body', async () => {
    const server = await rawServer(['HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc', HANG]);
    await expect(get(server.port, {}, 200)).resolves.toMatchObject({
      body: 'abc',
      bodyError: 'context deadline exceeded (Client.Timeout or context cancellation while reading body)',
    });
  });

  test("the caller's signal while reading the body: context canceled", async () => {
    const server = await rawServer(['HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc', HANG]);
    const controller = new AbortController();
    const response = doHttpGet(action(server.port), { purpose: 'lifecycle', signal: controller.signal, timeoutMs: 60_000 });
    await vi.waitFor(() => expect(server.requests).toHaveLength(1));
    await new Promise((resolve) => setTimeout(resolve, 30));
    controller.abort();
    await expect(response).resolves.toMatchObject({ body: 'abc', bodyError: 'context canceled' });
  });
});

describe('doHttpGet: the connection fails before a response', () => {
  test('the server closes without answering: EOF', async () => {
    const server = await rawServer([]);
    await expect(get(server.port, { path: '/healthz' })).rejects.toThrow(new Error(`Get "http://127.0.0.1:${server.port}/healthz": EOF`));
  });

  test('the server resets the connection before answering', async () => {
    const server = await rawServer([RESET]);
    await expect(get(server.port)).rejects.toThrow(
      new RegExp(`^Get "http://127\\.0\\.0\\.1:${server.port}/": read tcp 127\\.0\\.0\\.1:\\d+->127\\.0\\.0\\.1:${server.port}: read: connection reset by peer$`),
    );
  });

  test('the server resets the connection halfway through the head', async () => {
    const server = await rawServer(['HTTP/1.1 200 OK\r\n', RESET]);
    await expect(get(server.port)).rejects.toThrow(/^Get "[^"]+": net\/http: HTTP\/1\.x transport connection broken: read tcp .*: read: connection reset by peer$/);
  });

  test('HTTPS to a server that speaks plain HTTP fails with the TLS error the lifecycle fallback looks for', async () => {
    const { port } = await httpServer((_, res) => res.end('plain'));
    await expect(get(port, { scheme: 'HTTPS' })).rejects.toThrow(new RegExp(`^Get "https://127\\.0\\.0\\.1:${port}/": .*(wrong version number|EPROTO)`));
  });
});

describe('doHttpGet: IPv6', () => {
  test('a GET to [::1]: the Host header and the URL bracket the address', async () => {
    const server = await rawServer([ok], '::1');
    const response = await get(server.port, { host: '::1', path: '/healthz' });
    expect([response.statusCode, response.body, response.url.href]).toEqual([200, 'ok', `http://[::1]:${server.port}/healthz`]);
    expect(server.requests[0]).toContain(`\r\nHost: [::1]:${server.port}\r\n`);
  });

  test('connection refused on [::1] names the address as Go does', async () => {
    const server = await rawServer([], '::1');
    const { port } = server;
    await closeRawServers();
    await expect(get(port, { host: '::1' })).rejects.toThrow(new Error(`Get "http://[::1]:${port}/": dial tcp [::1]:${port}: connect: connection refused`));
  });
});

describe('doHttpGet: redirects, as Go follows them', () => {
  const redirect = (location: string, code = 302, body = '') => [`HTTP/1.1 ${code} Found\r\nLocation: ${location}\r\nContent-Length: ${body.length}\r\n\r\n${body}`];

  test('the next request has a Referer naming the previous URL', async () => {
    const server = await rawServer((request) => (request.startsWith('GET /start ') ? redirect('/end') : [ok]));
    await get(server.port, { path: '/start' });
    expect(server.requests[1]).toContain(`\r\nAccept: */*\r\nReferer: http://127.0.0.1:${server.port}/start\r\nConnection: close\r\n`);
  });

  test("the action's own Referer is kept, its first value only", async () => {
    const server = await rawServer((request) => (request.startsWith('GET /start ') ? redirect('/end') : [ok]));
    await get(server.port, { path: '/start', headers: [{ name: 'Referer', value: 'mine' }, { name: 'Referer', value: 'two' }] });
    expect(server.requests[0]).toContain('\r\nReferer: mine\r\nReferer: two\r\n');
    expect(server.requests[1]).toMatch(/\r\nReferer: mine\r\nConnection: close\r\n/);
  });

  test("the action's Host goes along to a relative Location", async () => {
    const server = await rawServer((request) => (request.startsWith('GET /start ') ? redirect('/end') : [ok]));
    await get(server.port, { path: '/start', headers: [{ name: 'Host', value: 'example.test' }] });
    expect(server.requests.map((r) => /\r\nHost: (.*)\r\n/.exec(r)![1])).toEqual(['example.test', 'example.test']);
  });

  test("the action's Host does not go to an absolute Location: its host is the Host", async () => {
    const target = await rawServer([ok]);
    const server = await rawServer(redirect(`http://127.0.0.1:${target.port}/there`));
    await get(server.port, { headers: [{ name: 'Host', value: 'example.test' }] });
    expect(/\r\nHost: (.*)\r\n/.exec(target.requests[0]!)![1]).toBe(`127.0.0.1:${target.port}`);
  });

  test('a Location that is empty is no redirect: the 3xx comes back', async () => {
    const server = await rawServer(redirect('', 302, 'nowhere'));
    await expect(get(server.port)).resolves.toMatchObject({ statusCode: 302, body: 'nowhere' });
    expect(server.requests).toHaveLength(1);
  });

  test('a 300 or a 304 with a Location is not followed', async () => {
    const server = await rawServer(redirect('/elsewhere', 300, 'choose'));
    await expect(get(server.port)).resolves.toMatchObject({ statusCode: 300, body: 'choose' });
    expect(server.requests).toHaveLength(1);
  });

  test('a Location that cannot be parsed fails the GET', async () => {
    const server = await rawServer(redirect('http://[::1/x'));
    await expect(get(server.port)).rejects.toThrow(new Error(`Get "http://127.0.0.1:${server.port}/": failed to parse Location header "http://[::1/x": invalid URL`));
  });

  test('a Location on the same host with another scheme than http(s) fails the GET, naming it', async () => {
    const server = await rawServer(redirect('ftp://127.0.0.1/file'));
    await expect(get(server.port)).rejects.toThrow(new Error('Get "ftp://127.0.0.1/file": unsupported protocol scheme "ftp"'));
  });

  test('a protocol-relative Location to the same host is followed', async () => {
    const server = await rawServer((request) => (request.startsWith('GET / ') ? redirect(`//127.0.0.1:${server.port}/there`) : [ok]));
    await expect(get(server.port)).resolves.toMatchObject({ statusCode: 200, url: new URL(`http://127.0.0.1:${server.port}/there`) });
  });

  test('a redirect whose body never ends is followed once 2 KiB of it are read', async () => {
    const server = await rawServer((request) => (request.startsWith('GET / ') ? ['HTTP/1.1 302 Found\r\nLocation: /next\r\n\r\n', 'x'.repeat(3000), HANG] : [ok]));
    await expect(get(server.port)).resolves.toMatchObject({ statusCode: 200, body: 'ok' });
  });

  test('from HTTPS to HTTP on the same host: followed, without a Referer', async () => {
    const plain = await rawServer([ok]);
    const { port } = await httpsServer((_, res) => res.writeHead(302, { Location: `http://127.0.0.1:${plain.port}/plain` }).end());
    await expect(get(port, { scheme: 'HTTPS' })).resolves.toMatchObject({ statusCode: 200, body: 'ok' });
    expect(plain.requests[0]).not.toContain('Referer');
  });

  test('the timeout covers the redirects: the URL named is the one being fetched', async () => {
    const server = await rawServer((request) => (request.startsWith('GET / ') ? redirect('/slow') : [HANG]));
    await expect(get(server.port, {}, 300)).rejects.toThrow(
      new Error(`Get "http://127.0.0.1:${server.port}/slow": context deadline exceeded (Client.Timeout exceeded while awaiting headers)`),
    );
  });
});

describe('doHttpGet: HTTPS', () => {
  test('a chunked response over TLS', async () => {
    const { port } = await httpsServer((_, res) => {
      res.write('chunk one, ');
      setTimeout(() => res.end('chunk two'), 10);
    });
    await expect(get(port, { scheme: 'HTTPS' })).resolves.toMatchObject({ statusCode: 200, body: 'chunk one, chunk two' });
  });
});
