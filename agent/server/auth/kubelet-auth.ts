/**
 * The secure server's gate, run before every request and every upgrade (the kubelet's
 * InstallAuthFilter): authenticate, map the request to API attributes, authorize. The refusals
 * are the kubelet's: 401 `Unauthorized`; 403 `Forbidden (user=..., verb=..., resource=...,
 * subresource=...)`; 500 `Authorization error (...)` when the authorizer could not answer.
 */
import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import type { RequestAuthenticator } from './authenticator.js';
import type { Authorizer } from './authorizer.js';
import { requestAttributes, type RequestAttributes } from './request-attributes.js';
import type { UserInfo } from './user.js';

export type Admission = { admitted: true; user: UserInfo } | { admitted: false; status: 401 | 403 | 500; message: string };

export class KubeletAuth {
  readonly #authenticator: RequestAuthenticator;
  readonly #authorizer: Authorizer;
  readonly #nodeName: string;
  readonly #log: Logger;

  constructor(options: { authenticator: RequestAuthenticator; authorizer: Authorizer; nodeName: string; logger: Logger }) {
    this.#authenticator = options.authenticator;
    this.#authorizer = options.authorizer;
    this.#nodeName = options.nodeName;
    this.#log = options.logger;
  }

  async admit(request: IncomingMessage): Promise<Admission> {
    const authentication = await this.#authenticator.authenticate(request);
    if (!authentication || 'error' in authentication) {
      if (authentication) this.#log.info({ err: authentication.error, url: request.url }, 'unable to authenticate the request');
      return { admitted: false, status: 401, message: 'Unauthorized' };
    }
    const path = new URL(request.url ?? '/', 'http://kubelet').pathname;
    const attributes = requestAttributes(authentication.user, request.method ?? '', path, this.#nodeName);
    const decision = await this.#authorizer.authorize(attributes);
    if ('error' in decision) {
      this.#log.error({ err: decision.error, ...described(attributes) }, 'authorization error');
      return { admitted: false, status: 500, message: `Authorization error (${describe(attributes)})` };
    }
    if (!decision.allowed) {
      this.#log.debug({ reason: decision.reason, ...described(attributes) }, 'forbidden');
      return { admitted: false, status: 403, message: `Forbidden (${describe(attributes)})` };
    }
    return { admitted: true, user: authentication.user };
  }
}

const described = (a: RequestAttributes): Record<string, string> => ({ user: a.user.name, verb: a.verb, resource: a.resource, subresource: a.subresource });
const describe = (a: RequestAttributes): string =>
  Object.entries(described(a))
    .map(([key, value]) => `${key}=${value}`)
    .join(', ');
