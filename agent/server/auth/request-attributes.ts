/**
 * What a request to the kubelet asks to do, in the API's terms, for the authorizer (the kubelet's
 * nodeAuthorizerAttributesGetter, pkg/kubelet/server/auth.go): every path is the node's `proxy`
 * subresource, except /stats, /metrics, /logs and /spec, which have subresources of their own so
 * that access to them can be granted alone; the HTTP method is the verb.
 */
import type { UserInfo } from './user.js';

export interface RequestAttributes {
  user: UserInfo;
  verb: string;
  resource: 'nodes';
  subresource: 'proxy' | 'stats' | 'metrics' | 'log' | 'spec';
  /** The node's name. */
  name: string;
  apiVersion: 'v1';
  path: string;
}

const Verbs: Readonly<Record<string, string>> = { POST: 'create', GET: 'get', PUT: 'update', PATCH: 'patch', DELETE: 'delete' };

const Subresources: ReadonlyArray<[prefix: string, subresource: RequestAttributes['subresource']]> = [
  ['/stats', 'stats'],
  ['/metrics', 'metrics'],
  ['/logs', 'log'],
  ['/spec', 'spec'],
];

export function requestAttributes(user: UserInfo, method: string, path: string, nodeName: string): RequestAttributes {
  const subresource = Subresources.find(([prefix]) => isSubpath(path, prefix))?.[1] ?? 'proxy';
  // A method the API has no verb for (HEAD, OPTIONS) is the empty verb, as upstream: no role grants it.
  return { user, verb: Verbs[method] ?? '', resource: 'nodes', subresource, name: nodeName, apiVersion: 'v1', path };
}

/** `path` is `prefix` or lies under it (/stats, /stats/summary; not /statsfoo). */
export function isSubpath(path: string, prefix: string): boolean {
  return path === prefix || path.startsWith(`${prefix}/`);
}
