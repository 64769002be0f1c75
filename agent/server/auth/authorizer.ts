/**
 * May this user do this (the kubelet's --authorization-mode): AlwaysAllow, or Webhook, which asks
 * the API server with a SubjectAccessReview and keeps allowed answers for
 * --authorization-webhook-cache-authorized-ttl and denied ones for
 * --authorization-webhook-cache-unauthorized-ttl. A failure to ask is an error, never an answer.
 */
import { errorMessage } from '../../../common/api/errors.js';
import type { KubeApi } from '../../../common/kube-api/kube-client.js';
import { TtlCache } from '../../../common/util/ttl-cache.js';
import type { RequestAttributes } from './request-attributes.js';

export type Decision = { allowed: true } | { allowed: false; reason: string } | { error: string };

export interface Authorizer {
  authorize(attributes: RequestAttributes): Promise<Decision>;
}

export const AlwaysAllow: Authorizer = { authorize: () => Promise.resolve({ allowed: true }) };

const SubjectAccessReviews = '/apis/authorization.k8s.io/v1/subjectaccessreviews';
const MaxCachedDecisions = 4096;

interface SubjectAccessReview {
  apiVersion: 'authorization.k8s.io/v1';
  kind: 'SubjectAccessReview';
  spec: {
    user: string;
    uid?: string;
    groups: string[];
    extra?: Record<string, string[]>;
    resourceAttributes: { verb: string; group: ''; version: string; resource: string; subresource: string; name: string };
  };
  status?: { allowed?: boolean; denied?: boolean; reason?: string; evaluationError?: string };
}

export class SubjectAccessReviewAuthorizer implements Authorizer {
  readonly #client: KubeApi;
  readonly #allowedTtlMs: number;
  readonly #deniedTtlMs: number;
  readonly #cache: TtlCache<Decision>;

  constructor(options: { client: KubeApi; allowedTtlMs: number; deniedTtlMs: number; now?: () => number }) {
    this.#client = options.client;
    this.#allowedTtlMs = options.allowedTtlMs;
    this.#deniedTtlMs = options.deniedTtlMs;
    this.#cache = new TtlCache({ maxEntries: MaxCachedDecisions, ...(options.now ? { now: options.now } : {}) });
  }

  async authorize(attributes: RequestAttributes): Promise<Decision> {
    const review = reviewFor(attributes);
    const key = JSON.stringify(review.spec);
    const cached = this.#cache.get(key);
    if (cached) return cached;
    let answer: SubjectAccessReview;
    try {
      answer = await this.#client.create<SubjectAccessReview>(SubjectAccessReviews, review);
    } catch (err) {
      return { error: `subject access review: ${errorMessage(err)}` };
    }
    const decision: Decision = answer.status?.allowed === true ? { allowed: true } : { allowed: false, reason: answer.status?.reason ?? '' };
    this.#cache.set(key, decision, decision.allowed ? this.#allowedTtlMs : this.#deniedTtlMs);
    return decision;
  }
}

function reviewFor(attributes: RequestAttributes): SubjectAccessReview {
  const { user } = attributes;
  return {
    apiVersion: 'authorization.k8s.io/v1',
    kind: 'SubjectAccessReview',
    spec: {
      user: user.name,
      ...(user.uid ? { uid: user.uid } : {}),
      groups: user.groups,
      ...(user.extra ? { extra: user.extra } : {}),
      resourceAttributes: { verb: attributes.verb, group: '', version: attributes.apiVersion, resource: attributes.resource, subresource: attributes.subresource, name: attributes.name },
    },
  };
}
