import { createServer, type Server } from 'node:http';
import { pino } from 'pino';
import { Counter, Registry } from 'prom-client';
import { afterEach, describe, expect, test } from 'vitest';
import type { Service } from '../../../common/api/types.js';
import { buildProxyServer, splitSchemeNamePort } from '../../../proxy/server/app.js';

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
});

/** A loopback HTTP server standing in for a Service's ClusterIP. */
async function backend(): Promise<number> {
  const server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => response.end(JSON.stringify({ method: request.method, url: request.url, body })));
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as { port: number }).port;
}

function app(options: { lastSyncedAt?: number; services?: Service[]; now?: number; remoteServiceProxy?: boolean } = {}) {
  const metrics = new Registry();
  new Counter({ name: 'dockerlet_proxy_syncs_total', help: 'syncs', registers: [metrics] }).inc();
  return buildProxyServer({
    lastSyncedAt: () => options.lastSyncedAt,
    syncPeriodMs: 30_000,
    metrics,
    services: () => options.services ?? [],
    remoteServiceProxy: options.remoteServiceProxy ?? false,
    logger: pino({ level: 'silent' }),
    now: () => options.now ?? 100_000,
  });
}

describe('/healthz', () => {
  test('200 with the last sync and the time while syncs are recent; 503 before the first or after two periods', async () => {
    const fresh = await app({ lastSyncedAt: 90_000 }).inject('/healthz');
    expect(fresh.statusCode).toBe(200);
    expect(fresh.json()).toEqual({ lastUpdated: new Date(90_000).toISOString(), currentTime: new Date(100_000).toISOString() });
    expect((await app({}).inject('/healthz')).statusCode).toBe(503);
    expect((await app({ lastSyncedAt: 30_000 }).inject('/healthz')).statusCode).toBe(503);
  });
});

test('/metrics serves the registry as Prometheus text', async () => {
  const response = await app().inject('/metrics');
  expect(response.body).toContain('dockerlet_proxy_syncs_total 1');
});

describe('the service proxy', () => {
  const web = (port: number): Service => ({
    metadata: { name: 'web', namespace: 'default' },
    spec: { clusterIP: '127.0.0.1', ports: [{ name: 'http', port, protocol: 'TCP' }, { name: 'other', port: 1, protocol: 'TCP' }] },
  });

  test('forwards the API server\'s proxy verbs, the path and the query to the ClusterIP and port named', async () => {
    const port = await backend();
    const server = app({ services: [web(port)] });
    await server.listen({ port: 0, host: '127.0.0.1' });
    const base = `http://127.0.0.1:${(server.server.address() as { port: number }).port}`;
    try {
      const get = await fetch(`${base}/proxy/namespaces/default/services/web:http/a/b?x=1`);
      expect(await get.json()).toEqual({ method: 'GET', url: '/a/b?x=1', body: '' });
      const post = await fetch(`${base}/proxy/namespaces/default/services/web/submit`, { method: 'POST', body: 'payload', headers: { 'content-type': 'text/plain' } });
      expect(await post.json()).toEqual({ method: 'POST', url: '/submit', body: 'payload' });
    } finally {
      await server.close();
    }
  });

  test('an unknown Service is 404; a port it does not have is 503; a refused connection is 503', async () => {
    const server = app({ services: [web(1)] });
    expect((await server.inject('/proxy/namespaces/default/services/nope/')).json()).toMatchObject({ code: 404, message: 'services "nope" not found' });
    expect((await server.inject('/proxy/namespaces/default/services/web:9999/')).statusCode).toBe(503);
    const refused = await server.inject('/proxy/namespaces/default/services/web:http/');
    expect(refused.statusCode).toBe(503);
    expect(refused.json().message).toMatch(/^error trying to reach service: connect ECONNREFUSED 127\.0\.0\.1:1/);
  });
});

test('splitSchemeNamePort', () => {
  expect(splitSchemeNamePort('web')).toEqual({ scheme: 'http', name: 'web', port: '' });
  expect(splitSchemeNamePort('web:8080')).toEqual({ scheme: 'http', name: 'web', port: '8080' });
  expect(splitSchemeNamePort('https:web:tls')).toEqual({ scheme: 'https', name: 'web', port: 'tls' });
  expect(splitSchemeNamePort('ftp:web:1')).toBeUndefined();
});

describe('who may use the service proxy', () => {
  const path = '/proxy/namespaces/default/services/nope/';

  test('a client that is not on loopback is refused, saying how to allow it; allowed, it is served', async () => {
    const refused = await app().inject({ url: path, remoteAddress: '10.0.0.7' });
    expect(refused.statusCode).toBe(403);
    expect(refused.json().message).toBe(
      'the service proxy answers clients on this host only (10.0.0.7 is not on loopback); start the proxy with --remote-service-proxy to serve it to other hosts',
    );
    expect((await app({ remoteServiceProxy: true }).inject({ url: path, remoteAddress: '10.0.0.7' })).statusCode).toBe(404);
    for (const client of ['127.0.0.1', '127.3.0.9', '::1', '::ffff:127.0.0.1']) {
      expect((await app().inject({ url: path, remoteAddress: client })).statusCode, client).toBe(404);
    }
  });

  test('a Host header naming anything but localhost or an IP address is refused (DNS rebinding)', async () => {
    const server = app({ remoteServiceProxy: true });
    const refused = await server.inject({ url: path, headers: { host: 'attacker.example:10256' } });
    expect(refused.statusCode).toBe(403);
    expect(refused.json().message).toBe('Host "attacker.example:10256" refused: the service proxy answers requests for localhost or an IP address only');
    expect((await server.inject({ url: path, headers: { host: 'localhost.attacker.example' } })).statusCode).toBe(403);
    for (const host of ['localhost:10256', 'localhost', '127.0.0.1:10256', '[::1]:10256', '10.0.0.5:10256']) {
      expect((await server.inject({ url: path, headers: { host } })).statusCode, host).toBe(404);
    }
  });

  test('a request another site\'s page made is refused (an Origin not its own, a cross-site Sec-Fetch-Site); its own pages and typed URLs are served', async () => {
    const message = "requests made by other sites' web pages are refused: the service proxy is for clients on this host";
    const host = '127.0.0.1:10256';
    for (const headers of [{ origin: 'https://attacker.example' }, { origin: 'null' }, { 'sec-fetch-site': 'cross-site' }, { 'sec-fetch-site': 'same-site' }]) {
      const response = await app().inject({ method: 'POST', url: path, headers: { host, ...headers } });
      expect([response.statusCode, response.json().message], JSON.stringify(headers)).toEqual([403, message]);
    }
    for (const headers of [{ 'sec-fetch-site': 'none' }, { 'sec-fetch-site': 'same-origin', origin: `http://${host}` }]) {
      expect((await app().inject({ method: 'POST', url: path, headers: { host, ...headers } })).statusCode, JSON.stringify(headers)).toBe(404);
    }
  });

  test('methods other than the API server\'s proxy verbs are 405 with Allow', async () => {
    // light-my-request's method type leaves TRACE out; the server gets it as sent.
    const response = await app().inject({ method: 'TRACE' as 'GET', url: path });
    expect(response.statusCode).toBe(405);
    expect(response.headers['allow']).toBe('GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS');
    for (const method of ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const) {
      expect((await app().inject({ method, url: path })).statusCode, method).toBe(404);
    }
  });

  test('/healthz and /metrics answer any client, as kube-proxy\'s do', async () => {
    expect((await app({ lastSyncedAt: 90_000 }).inject({ url: '/healthz', remoteAddress: '10.0.0.7', headers: { host: 'node.example:10256' } })).statusCode).toBe(200);
    expect((await app().inject({ url: '/metrics', remoteAddress: '10.0.0.7' })).statusCode).toBe(200);
  });
});
