import { pino } from 'pino';
import { describe, expect, test } from 'vitest';
import type { DefaultedPod } from '../../../../common/api/types.js';
import { KubeApiError } from '../../../../common/kube-api/kube-client.js';
import { requiresRefresh, TokenManager } from '../../../../agent/token/token-manager.js';
import { FakeKubeApi } from '../node/fake-kube-api.js';

const Hour = 3600_000;
const T0 = Date.parse('2026-11-23T10:00:00Z');

describe('requiresRefresh (the kubelet token manager rule)', () => {
  const oneHour = { issuedAt: T0, expiresAt: T0 + Hour };
  test('a token is renewed once older than 80% of its lifetime, less the jitter', () => {
    expect(requiresRefresh(oneHour, T0 + 0.8 * Hour - 1, 0)).toBe(false);
    expect(requiresRefresh(oneHour, T0 + 0.8 * Hour + 1, 0)).toBe(true);
    expect(requiresRefresh(oneHour, T0 + 0.8 * Hour - 5_000, 9_999)).toBe(true);
  });

  test('and in any case once older than 24 hours', () => {
    const year = { issuedAt: T0, expiresAt: T0 + 365 * 24 * Hour };
    expect(requiresRefresh(year, T0 + 24 * Hour - 1, 0)).toBe(false);
    expect(requiresRefresh(year, T0 + 24 * Hour + 1, 0)).toBe(true);
  });
});

/** An API whose TokenRequests are answered with numbered tokens expiring `lifetimeSeconds` after `now()`. */
class TokenApi extends FakeKubeApi {
  issued = 0;
  lifetimeSeconds: number | undefined;
  constructor(readonly now: () => number) {
    super();
  }
  override async create<T>(path: string, body: T): Promise<T> {
    this.calls.push({ verb: 'create', path, body });
    const failure = this.failures.shift();
    if (failure) throw failure;
    this.issued += 1;
    const request = body as { spec: { expirationSeconds: number } };
    const seconds = this.lifetimeSeconds ?? request.spec.expirationSeconds;
    return { ...body, spec: { ...request.spec, expirationSeconds: seconds }, status: { token: `token-${this.issued}`, expirationTimestamp: new Date(this.now() + seconds * 1000).toISOString() } } as T;
  }
}

const pod = (uid = 'uid-1'): DefaultedPod => ({ metadata: { name: 'app', namespace: 'shop', uid }, spec: { serviceAccountName: 'robot', containers: [] } });

function manager() {
  let now = T0;
  const api = new TokenApi(() => now);
  const tokens = new TokenManager({ client: api, clock: { now: () => now }, logger: pino({ level: 'silent' }), random: () => 0 });
  return { api, tokens, advance: (ms: number) => (now += ms) };
}

describe('TokenManager', () => {
  test("a TokenRequest for the pod's service account, bound to the pod, with the projection's audience and lifetime", async () => {
    const { api, tokens } = manager();
    expect(await tokens.token(pod(), { path: 'token', audience: 'vault', expirationSeconds: 7200 })).toEqual({ ok: true, token: 'token-1' });
    expect(api.calls[0]).toEqual({
      verb: 'create',
      path: '/api/v1/namespaces/shop/serviceaccounts/robot/token',
      body: {
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'TokenRequest',
        spec: { audiences: ['vault'], expirationSeconds: 7200, boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: 'app', uid: 'uid-1' } },
      },
    });
  });

  test('no audience asks for the API server\'s own; the lifetime defaults to an hour; the account to default', async () => {
    const { api, tokens } = manager();
    const bare = pod();
    delete bare.spec.serviceAccountName;
    await tokens.token(bare, { path: 'token' });
    expect(api.calls[0]).toMatchObject({ path: '/api/v1/namespaces/shop/serviceaccounts/default/token', body: { spec: { audiences: [], expirationSeconds: 3600 } } });
  });

  test('the same token until 80% of its lifetime, then a new one', async () => {
    const { api, tokens, advance } = manager();
    const projection = { path: 'token', expirationSeconds: 3600 };
    expect(await tokens.token(pod(), projection)).toEqual({ ok: true, token: 'token-1' });
    advance(0.8 * Hour - 1_000);
    expect(await tokens.token(pod(), projection)).toEqual({ ok: true, token: 'token-1' });
    advance(2_000);
    expect(await tokens.token(pod(), projection)).toEqual({ ok: true, token: 'token-2' });
    expect(api.issued).toBe(2);
  });

  test('the lifetime the server granted is the one refreshed on', async () => {
    const { api, tokens, advance } = manager();
    api.lifetimeSeconds = 1000;
    await tokens.token(pod(), { path: 'token', expirationSeconds: 3600 });
    advance(801_000);
    expect(await tokens.token(pod(), { path: 'token', expirationSeconds: 3600 })).toEqual({ ok: true, token: 'token-2' });
  });

  test('a failed renewal keeps the token while it is valid; a failed first request fails with the reason', async () => {
    const { api, tokens, advance } = manager();
    const projection = { path: 'token', expirationSeconds: 3600 };
    await tokens.token(pod(), projection);
    advance(0.9 * Hour);
    api.failures.push(new KubeApiError('POST', '/token', 503, ''));
    expect(await tokens.token(pod(), projection)).toEqual({ ok: true, token: 'token-1' });
    advance(0.2 * Hour);
    api.failures.push(new KubeApiError('POST', '/api/v1/namespaces/shop/serviceaccounts/robot/token', 403, '{"kind":"Status","reason":"Forbidden","message":"not bound to this node"}'));
    expect(await tokens.token(pod(), projection)).toEqual({
      ok: false,
      message: 'failed to fetch token: POST /api/v1/namespaces/shop/serviceaccounts/robot/token: 403 Forbidden: not bound to this node',
    });
  });

  test("tokens are per pod, and a forgotten pod's are gone", async () => {
    const { api, tokens } = manager();
    const projection = { path: 'token' };
    await tokens.token(pod('uid-1'), projection);
    await tokens.token(pod('uid-2'), projection);
    expect(api.issued).toBe(2);
    tokens.forget('uid-1');
    await tokens.token(pod('uid-2'), projection);
    expect(api.issued).toBe(2);
    await tokens.token(pod('uid-1'), projection);
    expect(api.issued).toBe(3);
  });
});
