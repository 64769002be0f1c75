/**
 * Service account tokens for projected volumes, as the kubelet's token manager gets them: a
 * TokenRequest (POST .../serviceaccounts/<name>/token) for the pod's service account, with the
 * projection's audience (none: the API server's own) and expirationSeconds, bound to the pod so
 * that the token dies with it. A token is kept and handed out again until it needs a refresh:
 * once it is older than 80% of its lifetime or than 24 hours (less a jitter of up to 10 s, so
 * that a node's tokens do not all renew at once). Volumes are set up again at each pod sync, so
 * a token is renewed at the first sync after that point; if the renewal fails while the old
 * token is still valid, the old one is kept. A pod's tokens are forgotten when the pod goes.
 */
import type { Logger } from 'pino';
import type { DefaultedPod, ServiceAccountTokenProjection } from '../../common/api/types.js';
import { errorMessage } from '../../common/api/errors.js';
import type { Clock } from '../../common/util/clock.js';
import type { ServiceAccountTokenSource, TokenResult } from '../volumes/plugins/volume-plugin.js';
import type { KubeApi } from '../../common/kube-api/kube-client.js';

interface TokenRequest {
  apiVersion: 'authentication.k8s.io/v1';
  kind: 'TokenRequest';
  spec: { audiences: string[]; expirationSeconds: number; boundObjectRef: { apiVersion: 'v1'; kind: 'Pod'; name: string; uid: string } };
  status?: { token: string; expirationTimestamp: string };
}

interface Issued {
  token: string;
  podUID: string;
  /** When it expires and when it was issued, ms. */
  expiresAt: number;
  issuedAt: number;
}

/** ServiceAccountTokenProjection's default lifetime. */
const DefaultExpirationSeconds = 3600;
const MaxTtlMs = 24 * 3600_000;
const MaxJitterMs = 10_000;

/** Whether `issued` must be renewed at `now` (the kubelet's requiresRefresh), given a jitter in [0, MaxJitterMs). */
export function requiresRefresh(issued: Pick<Issued, 'expiresAt' | 'issuedAt'>, now: number, jitterMs: number): boolean {
  if (now > issued.issuedAt + MaxTtlMs - jitterMs) return true;
  const ttl = issued.expiresAt - issued.issuedAt;
  return now > issued.expiresAt - ttl / 5 - jitterMs;
}

export class TokenManager implements ServiceAccountTokenSource {
  readonly #client: KubeApi;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #random: () => number;
  readonly #issued = new Map<string, Issued>();

  constructor(options: { client: KubeApi; clock: Clock; logger: Logger; random?: () => number }) {
    this.#client = options.client;
    this.#clock = options.clock;
    this.#log = options.logger;
    this.#random = options.random ?? Math.random;
  }

  async token(pod: DefaultedPod, projection: ServiceAccountTokenProjection): Promise<TokenResult> {
    const namespace = pod.metadata.namespace;
    const serviceAccount = pod.spec.serviceAccountName || 'default';
    const expirationSeconds = projection.expirationSeconds ?? DefaultExpirationSeconds;
    const audiences = projection.audience ? [projection.audience] : [];
    const key = JSON.stringify([namespace, serviceAccount, audiences, expirationSeconds, pod.metadata.name, pod.metadata.uid]);
    const now = this.#clock.now();
    const cached = this.#issued.get(key);
    if (cached && !requiresRefresh(cached, now, this.#random() * MaxJitterMs)) return { ok: true, token: cached.token };
    const request: TokenRequest = {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenRequest',
      spec: { audiences, expirationSeconds, boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: pod.metadata.name, uid: pod.metadata.uid } },
    };
    try {
      const answer = await this.#client.create<TokenRequest>(`/api/v1/namespaces/${namespace}/serviceaccounts/${serviceAccount}/token`, request);
      const expiresAt = Date.parse(answer.status?.expirationTimestamp ?? '');
      if (!answer.status?.token || Number.isNaN(expiresAt)) throw new Error('the TokenRequest came back without a token and its expiry');
      // The server may shorten or lengthen the lifetime: the one it granted is the one refreshed on.
      const seconds = answer.spec.expirationSeconds || expirationSeconds;
      this.#issued.set(key, { token: answer.status.token, podUID: pod.metadata.uid, expiresAt, issuedAt: expiresAt - seconds * 1000 });
      return { ok: true, token: answer.status.token };
    } catch (err) {
      if (cached && now < cached.expiresAt) {
        this.#log.warn({ pod: `${namespace}/${pod.metadata.name}`, serviceAccount, err: errorMessage(err) }, 'renewing a service account token failed; the current one is still valid and kept');
        return { ok: true, token: cached.token };
      }
      return { ok: false, message: `failed to fetch token: ${errorMessage(err)}` };
    }
  }

  /** Drops the tokens of the pod `uid`. */
  forget(uid: string): void {
    for (const [key, issued] of this.#issued) if (issued.podUID === uid) this.#issued.delete(key);
  }
}
