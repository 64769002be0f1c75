/**
 * Who sent a request to the kubelet's secure server (the API server's delegating authenticator
 * as the kubelet builds it, cmd/kubelet/app/auth.go BuildAuthn): a client certificate signed by
 * the client CA, else a bearer token the API server's TokenReview accepts, else, when anonymous
 * requests are enabled, system:anonymous. Credentials that are present but wrong fail the request
 * even when anonymous requests are enabled; only a request with none is anonymous. Every user an
 * authenticator names is also in system:authenticated, as the API server's group adder puts it.
 */
import type { IncomingMessage } from 'node:http';
import { AnonymousUser, AuthenticatedGroup, type UserInfo } from './user.js';

/** A user, or why the credentials were refused; undefined when the request carries none this authenticator reads. */
export type Authentication = { user: UserInfo } | { error: string } | undefined;

export interface RequestAuthenticator {
  authenticate(request: IncomingMessage): Promise<Authentication>;
}

/** Tries each in turn: the first user wins; errors are kept only if no one knows the user. */
export class UnionAuthenticator implements RequestAuthenticator {
  readonly #authenticators: readonly RequestAuthenticator[];
  readonly #anonymous: boolean;

  constructor(authenticators: readonly RequestAuthenticator[], options: { anonymous: boolean }) {
    this.#authenticators = authenticators;
    this.#anonymous = options.anonymous;
  }

  async authenticate(request: IncomingMessage): Promise<Authentication> {
    const errors: string[] = [];
    for (const authenticator of this.#authenticators) {
      const result = await authenticator.authenticate(request);
      if (result && 'user' in result) return { user: withAuthenticatedGroup(result.user) };
      if (result) errors.push(result.error);
    }
    if (errors.length > 0) return { error: errors.join('; ') };
    return this.#anonymous ? { user: AnonymousUser } : undefined;
  }
}

function withAuthenticatedGroup(user: UserInfo): UserInfo {
  return user.groups.includes(AuthenticatedGroup) ? user : { ...user, groups: [...user.groups, AuthenticatedGroup] };
}
