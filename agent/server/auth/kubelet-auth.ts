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

export type Admission = { admitted: true; user: UserInfo; path: string } | { admitted: false; status: 400 | 401 | 403 | 500; message: string };

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
    const path = requestPath(request.url ?? '');
    if (path === undefined) return { admitted: false, status: 400, message: `the request path ${JSON.stringify(request.url)} is not in canonical form` };
    const authentication = await this.#authenticator.authenticate(request);
    if (!authentication || 'error' in authentication) {
      if (authentication) this.#log.info({ err: authentication.error, url: request.url }, 'unable to authenticate the request');
      return { admitted: false, status: 401, message: 'Unauthorized' };
    }
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
    return { admitted: true, user: authentication.user, path };
  }
}

/**
 * The path a request names, exactly as the router will match it: the target up to its query.
 * The authorizer must judge the path that is served, so a target the router and a URL parser
 * could read differently (dot segments, empty segments, `;` parameters, encoded `.` or `/`, or
 * no leading `/`) is refused rather than normalised one way here and another way there.
 */
export function requestPath(target: string): string | undefined {
  const path = target.split('?', 1)[0]!;
  if (!path.startsWith('/') || path.includes('//') || path.includes(';') || /%2e|%2f|%5c/i.test(path)) return undefined;
  if (path.split('/').some((segment) => segment === '.' || segment === '..')) return undefined;
  return path;
}

const described = (a: RequestAttributes): Record<string, string> => ({ user: a.user.name, verb: a.verb, resource: a.resource, subresource: a.subresource });
const describe = (a: RequestAttributes): string =>
  Object.entries(described(a))
    .map(([key, value]) => `${key}=${value}`)
    .join(', ');
