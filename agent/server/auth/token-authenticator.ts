/**
 * Bearer tokens checked by the API server (the webhook token authenticator the kubelet builds
 * with --authentication-token-webhook): the token from `Authorization: Bearer`, or from a
 * WebSocket subprotocol `base64url.bearer.authorization.k8s.io.<token>` (browsers cannot set
 * headers), is sent in a TokenReview. Answers, accepted or refused, are kept for the cache TTL;
 * a failure to ask is not kept.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { errorMessage } from '../../../common/api/errors.js';
import type { KubeApi } from '../../../common/kube-api/kube-client.js';
import { TtlCache } from '../../../common/util/ttl-cache.js';
import { isWebSocketRequest } from '../streaming/upgrade-socket.js';
import type { Authentication, RequestAuthenticator } from './authenticator.js';
import type { UserInfo } from './user.js';

const TokenReviews = '/apis/authentication.k8s.io/v1/tokenreviews';
const WebSocketTokenProtocol = 'base64url.bearer.authorization.k8s.io.';
const MaxCachedTokens = 4096;

interface TokenReview {
  apiVersion: 'authentication.k8s.io/v1';
  kind: 'TokenReview';
  spec: { token: string };
  status?: { authenticated?: boolean; user?: { username?: string; uid?: string; groups?: string[]; extra?: Record<string, string[]> }; error?: string };
}

export class TokenReviewAuthenticator implements RequestAuthenticator {
  readonly #client: KubeApi;
  readonly #cacheTtlMs: number;
  readonly #cache: TtlCache<{ user: UserInfo } | { error: string }>;

  constructor(options: { client: KubeApi; cacheTtlMs: number; now?: () => number }) {
    this.#client = options.client;
    this.#cacheTtlMs = options.cacheTtlMs;
    this.#cache = new TtlCache({ maxEntries: MaxCachedTokens, ...(options.now ? { now: options.now } : {}) });
  }

  async authenticate(request: IncomingMessage): Promise<Authentication> {
    const carried = bearerToken(request) ?? webSocketToken(request);
    if (carried === undefined) return undefined;
    if ('error' in carried) return carried;
    const result = await this.#review(carried.token);
    // Only a token that named a user leaves the request's subprotocols without it, as upstream.
    if ('user' in result) carried.accepted?.();
    return result;
  }

  async #review(token: string): Promise<{ user: UserInfo } | { error: string }> {
    const key = createHash('sha256').update(token).digest('hex');
    const cached = this.#cache.get(key);
    if (cached) return cached;
    let review: TokenReview;
    try {
      review = await this.#client.create<TokenReview>(TokenReviews, { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token } });
    } catch (err) {
      return { error: `token review: ${errorMessage(err)}` };
    }
    const result = reviewed(review);
    // An answer that reports an error is not kept: the next request asks again.
    if (!review.status?.error) this.#cache.set(key, result, this.#cacheTtlMs);
    return result;
  }
}

function reviewed(review: TokenReview): { user: UserInfo } | { error: string } {
  const status = review.status;
  if (!status?.authenticated || !status.user?.username) return { error: `invalid bearer token${status?.error ? `: ${status.error}` : ''}` };
  const user: UserInfo = { name: status.user.username, groups: status.user.groups ?? [] };
  if (status.user.uid) user.uid = status.user.uid;
  if (status.user.extra) user.extra = status.user.extra;
  return { user };
}

type CarriedToken = { token: string; accepted?: () => void } | { error: string };

/** The token of `Authorization: Bearer <token>`; undefined for no header or another scheme. */
function bearerToken(request: IncomingMessage): CarriedToken | undefined {
  const [scheme, token] = (request.headers.authorization ?? '').trim().split(/\s+/, 2);
  return scheme?.toLowerCase() === 'bearer' && token ? { token } : undefined;
}

/**
 * A token carried as a WebSocket subprotocol, read as the API server's protocol authenticator
 * reads it: one such protocol at most, strict base64url of UTF-8, and another subprotocol beside
 * it; anything else is refused. Once the token is accepted, its protocol is removed from the
 * request, so that only real subprotocols are negotiated.
 */
function webSocketToken(request: IncomingMessage): CarriedToken | undefined {
  if (!isWebSocketRequest(request)) return undefined;
  const header = request.headers['sec-websocket-protocol'];
  if (!header) return undefined;
  const protocols = header.split(',').map((protocol) => protocol.trim());
  const carriers = protocols.filter((protocol) => protocol.startsWith(WebSocketTokenProtocol));
  if (carriers.length === 0) return undefined;
  if (carriers.length > 1) return { error: 'multiple base64.bearer.authorization tokens specified' };
  const encoded = carriers[0]!.slice(WebSocketTokenProtocol.length);
  if (!/^[A-Za-z0-9_-]*$/.test(encoded) || encoded.length % 4 === 1) return { error: 'invalid base64.bearer.authorization token encoding' };
  let token: string;
  try {
    token = new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(encoded, 'base64url'));
  } catch {
    return { error: 'invalid base64.bearer.authorization token' };
  }
  if (token === '') return undefined;
  const rest = protocols.filter((protocol) => !protocol.startsWith(WebSocketTokenProtocol));
  if (rest.length === 0) return { error: 'missing additional subprotocol' };
  return { token, accepted: () => void (request.headers['sec-websocket-protocol'] = rest.join(', ')) };
}
