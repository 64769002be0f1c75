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
  readonly #cache: TtlCache<Authentication>;

  constructor(options: { client: KubeApi; cacheTtlMs: number; now?: () => number }) {
    this.#client = options.client;
    this.#cacheTtlMs = options.cacheTtlMs;
    this.#cache = new TtlCache({ maxEntries: MaxCachedTokens, ...(options.now ? { now: options.now } : {}) });
  }

  async authenticate(request: IncomingMessage): Promise<Authentication> {
    const token = bearerToken(request) ?? webSocketToken(request);
    if (token === undefined) return undefined;
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
    this.#cache.set(key, result, this.#cacheTtlMs);
    return result;
  }
}

function reviewed(review: TokenReview): Authentication {
  const status = review.status;
  if (!status?.authenticated || !status.user?.username) return { error: `invalid bearer token${status?.error ? `: ${status.error}` : ''}` };
  const user: UserInfo = { name: status.user.username, groups: status.user.groups ?? [] };
  if (status.user.uid) user.uid = status.user.uid;
  if (status.user.extra) user.extra = status.user.extra;
  return { user };
}

/** The token of `Authorization: Bearer <token>`; undefined for no header or another scheme. */
function bearerToken(request: IncomingMessage): string | undefined {
  const [scheme, token] = (request.headers.authorization ?? '').trim().split(/\s+/, 2);
  return scheme?.toLowerCase() === 'bearer' && token ? token : undefined;
}

/**
 * A token carried as a WebSocket subprotocol; the protocol is removed from the request, as
 * upstream removes it, so that only real subprotocols are negotiated.
 */
function webSocketToken(request: IncomingMessage): string | undefined {
  const header = request.headers['sec-websocket-protocol'];
  if (!header) return undefined;
  const protocols = header.split(',').map((protocol) => protocol.trim());
  const carrier = protocols.find((protocol) => protocol.startsWith(WebSocketTokenProtocol));
  if (!carrier) return undefined;
  const rest = protocols.filter((protocol) => protocol !== carrier);
  if (rest.length > 0) request.headers['sec-websocket-protocol'] = rest.join(', ');
  else delete request.headers['sec-websocket-protocol'];
  const token = Buffer.from(carrier.slice(WebSocketTokenProtocol.length), 'base64url').toString('utf8');
  return token === '' ? undefined : token;
}
