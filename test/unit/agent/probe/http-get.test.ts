import { afterEach, describe, expect, test, vi } from 'vitest';
import { doHttpGet, httpGetUrl } from '../../../../agent/probe/http-get.js';
import { action, closedPort, closeServers, httpServer, httpsServer } from '../../loopback.js';

afterEach(async () => {
  vi.useRealTimers();
  vi.restoreAllMocks();
  await closeServers();
});


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
