import type { IncomingMessage } from 'node:http';
import { describe, expect, test } from 'vitest';
import { UnionAuthenticator, type Authentication, type RequestAuthenticator } from '../../../../../agent/server/auth/authenticator.js';
import { AlwaysAllow, SubjectAccessReviewAuthorizer, type Authorizer } from '../../../../../agent/server/auth/authorizer.js';
import { KubeletAuth } from '../../../../../agent/server/auth/kubelet-auth.js';
import { requestAttributes } from '../../../../../agent/server/auth/request-attributes.js';
import { TokenReviewAuthenticator } from '../../../../../agent/server/auth/token-authenticator.js';
import type { KubeApi } from '../../../../../common/kube-api/kube-client.js';
import { memoryLogger } from '../../../../helpers/memory-logger.js';

const request = (method: string, url: string, headers: Record<string, string> = {}): IncomingMessage => ({ method, url, headers, socket: {} }) as unknown as IncomingMessage;
const fixed = (result: Authentication): RequestAuthenticator => ({ authenticate: () => Promise.resolve(result) });
const alice = { name: 'alice', groups: ['devs'] };

/** An API server that answers TokenReviews and SubjectAccessReviews with `answer`, counting the calls. */
function fakeApi(answer: (path: string, body: { spec: Record<string, unknown> }) => unknown): KubeApi & { calls: Array<{ path: string; body: { spec: Record<string, unknown> } }> } {
  const calls: Array<{ path: string; body: { spec: Record<string, unknown> } }> = [];
  return {
    calls,
    create: <T>(path: string, body: T) => {
      calls.push({ path, body: body as { spec: Record<string, unknown> } });
      const result = answer(path, body as { spec: Record<string, unknown> });
      return result instanceof Error ? Promise.reject(result) : Promise.resolve(result as T);
    },
  } as unknown as KubeApi & { calls: typeof calls };
}

describe('requestAttributes: the kubelet path -> nodes subresource mapping', () => {
  test.each([
    ['GET', '/stats/summary', 'get', 'stats'],
    ['GET', '/stats', 'get', 'stats'],
    ['GET', '/metrics', 'get', 'metrics'],
    ['GET', '/metrics/resource', 'get', 'metrics'],
    ['GET', '/metrics/probes', 'get', 'metrics'],
    ['GET', '/logs/syslog', 'get', 'log'],
    ['GET', '/spec/', 'get', 'spec'],
    ['GET', '/containerLogs/default/web/app', 'get', 'proxy'],
    ['POST', '/exec/default/web/app', 'create', 'proxy'],
    ['GET', '/exec/default/web/app', 'get', 'proxy'],
    ['POST', '/portForward/default/web', 'create', 'proxy'],
    ['GET', '/pods', 'get', 'proxy'],
    ['GET', '/statsfoo', 'get', 'proxy'],
    ['PUT', '/pods', 'update', 'proxy'],
    ['PATCH', '/pods', 'patch', 'proxy'],
    ['DELETE', '/pods', 'delete', 'proxy'],
    ['HEAD', '/pods', '', 'proxy'],
  ])('%s %s is %s nodes/%s', (method, path, verb, subresource) => {
    expect(requestAttributes(alice, method, path, 'node-1')).toEqual({ user: alice, verb, resource: 'nodes', subresource, name: 'node-1', apiVersion: 'v1', path });
  });
});

describe('KubeletAuth', () => {
  const gate = (authenticators: RequestAuthenticator[], anonymous: boolean, authorizer: Authorizer = AlwaysAllow): KubeletAuth =>
    new KubeletAuth({ authenticator: new UnionAuthenticator(authenticators, { anonymous }), authorizer, nodeName: 'node-1', logger: memoryLogger().logger });

  test('no credentials: 401 Unauthorized, or system:anonymous when anonymous requests are enabled', async () => {
    expect(await gate([fixed(undefined)], false).admit(request('GET', '/pods'))).toEqual({ admitted: false, status: 401, message: 'Unauthorized' });
    expect(await gate([fixed(undefined)], true).admit(request('GET', '/pods'))).toEqual({ admitted: true, user: { name: 'system:anonymous', groups: ['system:unauthenticated'] }, path: '/pods' });
  });

  test('wrong credentials are refused even when anonymous requests are enabled; a later authenticator may still know the user', async () => {
    expect(await gate([fixed({ error: 'bad cert' })], true).admit(request('GET', '/pods'))).toMatchObject({ admitted: false, status: 401 });
    expect(await gate([fixed({ error: 'bad cert' }), fixed({ user: alice })], false).admit(request('GET', '/pods?x=1'))).toEqual({
      admitted: true,
      user: { name: 'alice', groups: ['devs', 'system:authenticated'] },
      path: '/pods',
    });
  });

  test('a request target the router and a URL parser could read differently is a 400, never authorized as another path', async () => {
    const everyone = gate([fixed({ user: alice })], false);
    for (const target of ['/stats/../containerLogs/a/b/c', '//containerLogs/a/b/c', '/containerLogs/a/b/c;/../../stats', '/stats/%2E%2E/pods', '/stats%2fsummary', 'http://kubelet/pods', '/stats/.']) {
      expect.soft(await everyone.admit(request('GET', target)), target).toMatchObject({ admitted: false, status: 400 });
    }
    expect(await everyone.admit(request('GET', '/containerLogs/default/web%2Dx/app'))).toMatchObject({ admitted: true, path: '/containerLogs/default/web%2Dx/app' });
  });

  test("denied: 403 with the kubelet's message; an authorizer that cannot answer: 500", async () => {
    const deny: Authorizer = { authorize: () => Promise.resolve({ allowed: false, reason: 'no' }) };
    expect(await gate([fixed({ user: alice })], false, deny).admit(request('POST', '/exec/default/web/app?command=ls'))).toEqual({
      admitted: false,
      status: 403,
      message: 'Forbidden (user=alice, verb=create, resource=nodes, subresource=proxy)',
    });
    const broken: Authorizer = { authorize: () => Promise.resolve({ error: 'connection refused' }) };
    expect(await gate([fixed({ user: alice })], false, broken).admit(request('GET', '/stats/summary'))).toEqual({
      admitted: false,
      status: 500,
      message: 'Authorization error (user=alice, verb=get, resource=nodes, subresource=stats)',
    });
  });
});

describe('TokenReviewAuthenticator', () => {
  const review = (authenticated: boolean) => ({
    apiVersion: 'authentication.k8s.io/v1',
    kind: 'TokenReview',
    status: authenticated ? { authenticated: true, user: { username: 'bob', uid: 'u1', groups: ['system:authenticated'] } } : { authenticated: false, error: 'token expired' },
  });

  test('a bearer token is reviewed once per cache TTL; the answer names the user', async () => {
    let now = 0;
    const api = fakeApi(() => review(true));
    const tokens = new TokenReviewAuthenticator({ client: api, cacheTtlMs: 1000, now: () => now });
    const bearer = request('GET', '/pods', { authorization: 'Bearer secret-1' });
    expect(await tokens.authenticate(bearer)).toEqual({ user: { name: 'bob', uid: 'u1', groups: ['system:authenticated'] } });
    expect(await tokens.authenticate(bearer)).toMatchObject({ user: { name: 'bob' } });
    expect(api.calls).toHaveLength(1);
    expect(api.calls[0]).toEqual({ path: '/apis/authentication.k8s.io/v1/tokenreviews', body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token: 'secret-1' } } });
    now = 1001;
    await tokens.authenticate(bearer);
    expect(api.calls).toHaveLength(2);
  });

  test('a refused token is an error (never anonymous); a failure to ask is not cached; no token is no answer', async () => {
    let fail = true;
    const api = fakeApi(() => (fail ? new Error('connection refused') : review(false)));
    const tokens = new TokenReviewAuthenticator({ client: api, cacheTtlMs: 60_000 });
    const bearer = request('GET', '/pods', { authorization: 'Bearer secret-2' });
    expect(await tokens.authenticate(bearer)).toEqual({ error: 'token review: connection refused' });
    fail = false;
    expect(await tokens.authenticate(bearer)).toEqual({ error: 'invalid bearer token: token expired' });
    expect(api.calls).toHaveLength(2);
    expect(await tokens.authenticate(bearer)).toEqual({ error: 'invalid bearer token: token expired' });
    expect(api.calls).toHaveLength(3);
    expect(await tokens.authenticate(request('GET', '/pods', { authorization: 'Basic abc' }))).toBeUndefined();
    expect(await tokens.authenticate(request('GET', '/pods'))).toBeUndefined();
  });

  test('a token carried as a WebSocket subprotocol is read and removed from the offered protocols', async () => {
    const api = fakeApi(() => review(true));
    const tokens = new TokenReviewAuthenticator({ client: api, cacheTtlMs: 0 });
    const carrier = `base64url.bearer.authorization.k8s.io.${Buffer.from('ws-token').toString('base64url')}`;
    const upgrade = request('GET', '/exec/default/web/app', { upgrade: 'websocket', connection: 'Upgrade', 'sec-websocket-protocol': `v4.channel.k8s.io, ${carrier}` });
    expect(await tokens.authenticate(upgrade)).toMatchObject({ user: { name: 'bob' } });
    expect(api.calls[0]!.body.spec).toEqual({ token: 'ws-token' });
    expect(upgrade.headers['sec-websocket-protocol']).toBe('v4.channel.k8s.io');
  });

  test('a WebSocket token protocol that is malformed is refused, never taken for no credentials; outside WebSocket it is not read', async () => {
    const api = fakeApi(() => review(true));
    const tokens = new TokenReviewAuthenticator({ client: api, cacheTtlMs: 0 });
    const token = (value: string) => `base64url.bearer.authorization.k8s.io.${value}`;
    const ws = (protocols: string) => request('GET', '/exec/default/web/app', { upgrade: 'websocket', connection: 'Upgrade', 'sec-websocket-protocol': protocols });
    const good = Buffer.from('t').toString('base64url');
    expect(await tokens.authenticate(ws(`v4.channel.k8s.io, ${token('%%')}`))).toEqual({ error: 'invalid base64.bearer.authorization token encoding' });
    expect(await tokens.authenticate(ws(`v4.channel.k8s.io, ${token(Buffer.from([0xff, 0xfe]).toString('base64url'))}`))).toEqual({ error: 'invalid base64.bearer.authorization token' });
    expect(await tokens.authenticate(ws(`v4.channel.k8s.io, ${token(good)}, ${token(good)}`))).toEqual({ error: 'multiple base64.bearer.authorization tokens specified' });
    expect(await tokens.authenticate(ws(token(good)))).toEqual({ error: 'missing additional subprotocol' });
    expect(await tokens.authenticate(request('GET', '/pods', { 'sec-websocket-protocol': `v4.channel.k8s.io, ${token(good)}` }))).toBeUndefined();
    expect(api.calls).toEqual([]);
  });

  test('a review that reports an error is not kept', async () => {
    const api = fakeApi(() => ({ status: { authenticated: false, error: 'the token webhook is down' } }));
    const tokens = new TokenReviewAuthenticator({ client: api, cacheTtlMs: 60_000 });
    const bearer = request('GET', '/pods', { authorization: 'Bearer flaky' });
    await tokens.authenticate(bearer);
    expect(await tokens.authenticate(bearer)).toEqual({ error: 'invalid bearer token: the token webhook is down' });
    expect(api.calls).toHaveLength(2);
  });
});

describe('SubjectAccessReviewAuthorizer', () => {
  test('asks with the user and the node attributes; keeps allowed and denied answers for their own TTLs', async () => {
    let now = 0;
    const allowed = new Set(['alice']);
    const api = fakeApi((_path, body) => ({ status: { allowed: allowed.has(body.spec['user'] as string), reason: 'rbac' } }));
    const authorizer = new SubjectAccessReviewAuthorizer({ client: api, allowedTtlMs: 300_000, deniedTtlMs: 30_000, now: () => now });
    const attributes = (name: string) => requestAttributes({ name, groups: ['g'], uid: 'u' }, 'GET', '/stats/summary', 'node-1');
    expect(await authorizer.authorize(attributes('alice'))).toEqual({ allowed: true });
    expect(await authorizer.authorize(attributes('eve'))).toEqual({ allowed: false, reason: 'rbac' });
    expect(api.calls[0]).toEqual({
      path: '/apis/authorization.k8s.io/v1/subjectaccessreviews',
      body: {
        apiVersion: 'authorization.k8s.io/v1',
        kind: 'SubjectAccessReview',
        spec: { user: 'alice', uid: 'u', groups: ['g'], resourceAttributes: { verb: 'get', group: '', version: 'v1', resource: 'nodes', subresource: 'stats', name: 'node-1' } },
      },
    });
    now = 60_000;
    allowed.add('eve');
    await authorizer.authorize(attributes('alice'));
    expect(await authorizer.authorize(attributes('eve'))).toEqual({ allowed: true });
    expect(api.calls).toHaveLength(3);
  });

  test('a failure to ask is an error and is not kept', async () => {
    const api = fakeApi(() => new Error('503 Service Unavailable'));
    const authorizer = new SubjectAccessReviewAuthorizer({ client: api, allowedTtlMs: 1000, deniedTtlMs: 1000 });
    const attributes = requestAttributes(alice, 'GET', '/pods', 'node-1');
    expect(await authorizer.authorize(attributes)).toEqual({ error: 'subject access review: 503 Service Unavailable' });
    await authorizer.authorize(attributes);
    expect(api.calls).toHaveLength(2);
  });
});
