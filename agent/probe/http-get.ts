/**
 * An httpGet action, as the kubelet performs it for probes and lifecycle hooks (pkg/probe/http
 * on Go's http.Client): each request on a connection of its own, no proxy, TLS certificates not
 * checked, at most 10 KiB of body read, a `kube-<purpose>/<version>` User-Agent and an Accept of
 * any type unless the action sets them (set to "", they are not sent). Redirects to the same
 * host are followed (at most 10) as Go's client follows them: a Referer naming the previous URL,
 * the action's Host header kept only for a Location without a scheme, a little of the
 * redirect's body read first. A redirect to another host is not followed: its 3xx is returned.
 *
 * The request goes out as Go writes it: Host (the URL's host:port unless the action set one),
 * User-Agent, the other headers sorted by canonical name with each value on a line of its own,
 * then what the transport adds: `Connection: close` for a probe (its transport disables
 * keep-alives and compression), `Accept-Encoding: gzip` for a hook (the kubelet's lifecycle
 * client is a plain http.Transport). Errors say what Go's client says, `Get "<url>": <why>`; a
 * failure while reading the body is not one of them: it comes back as the response's
 * `bodyError`, as Go returns it from reading the body (a probe that meets one errors; a hook
 * ignores it).
 */
import { errorMessage } from '../../common/api/errors.js';
import { KubernetesMinorVersion } from '../../common/version.js';
import { exchange, goQuoteBytes, hostPort, trimSpace, type Endpoint, type PendingExchange, type ResponseHead } from './http-client.js';
import { MaxProbeOutputBytes } from './probe-run.js';

export interface HttpGetAction {
  scheme: 'HTTP' | 'HTTPS';
  host: string;
  port: number;
  path: string;
  headers: ReadonlyArray<{ name: string; value: string }>;
}

export interface HttpGetResponse {
  statusCode: number;
  /** The first 10 KiB of the body. */
  body: string;
  /** Where the response came from, after the redirects that were followed. */
  url: URL;
  /** Why the body could not be read to its end or to 10 KiB, as Go says it ("unexpected EOF"). */
  bodyError?: string;
}

export interface HttpGetOptions {
  timeoutMs?: number;
  /** Gives up when it aborts ("context canceled", as Go says of a canceled request). */
  signal?: AbortSignal;
  /** "probe" or "lifecycle": the User-Agent is kube-<purpose>/<major.minor>. */
  purpose: 'probe' | 'lifecycle';
}

const MaxRedirects = 10;
const RedirectCodes = new Set([301, 302, 303, 307, 308]);
/** What Go's client reads of a redirect's body before following it (maxBodySlurpSize). */
const RedirectBodySlurp = 2 << 10;

/** Why a GET was given up, as Go says it before the response head came and while reading the body. */
const Stopped = {
  timeout: {
    beforeHead: 'context deadline exceeded (Client.Timeout exceeded while awaiting headers)',
    whileReadingBody: 'context deadline exceeded (Client.Timeout or context cancellation while reading body)',
  },
  canceled: { beforeHead: 'context canceled', whileReadingBody: 'context canceled' },
} as const;

export function httpGetUrl(action: HttpGetAction): URL {
  const path = action.path.startsWith('/') ? action.path : `/${action.path}`;
  const host = action.host.includes(':') ? `[${action.host}]` : action.host;
  return new URL(`${action.scheme.toLowerCase()}://${host}:${action.port}${path}`);
}

/** Where one request goes, and its URL as Go keeps it. */
interface Target extends Endpoint {
  scheme: string;
  /** The URL's host as written (the port included when it was): the Host header unless the action set one. */
  authority: string;
  /** The hostname to compare redirects with. */
  hostname: string;
  /** Path and query. */
  requestTarget: string;
  /** The URL as Go prints it (the port kept even when it is the scheme's default). */
  href: string;
}

/** The headers of the action, as Go's http.Header holds them once newProbeRequest made them. */
interface RequestHeaders {
  /** The action's Host header (Go's req.Host), or "". */
  host: string;
  /** As the action gave it (its first value): none is sent when it is "". */
  userAgent: string;
  /** The action's first Referer, which Go keeps on redirects. */
  referer: string;
  /** Every other header, canonical names sorted, each value trimmed. */
  fields: ReadonlyArray<readonly [string, readonly string[]]>;
  /** What the transport adds after them: `Connection: close` or `Accept-Encoding: gzip`, or nothing. */
  extra: string;
}

/** Performs the GET; rejects, with a message that names the URL, when no response came back. */
export async function doHttpGet(action: HttpGetAction, options: HttpGetOptions): Promise<HttpGetResponse> {
  const first = initialTarget(action);
  const headers = requestHeaders(action, options.purpose, first);
  // One timer for the whole GET (Go's Client.Timeout covers redirects and the body), cleared as
  // soon as the GET is done: probes run many times a second, and nothing may outlive one.
  let stopped: keyof typeof Stopped | undefined;
  let pending: PendingExchange | undefined;
  const stop = (why: keyof typeof Stopped): void => {
    if (stopped !== undefined) return;
    stopped = why;
    pending?.cancel(Stopped[why].beforeHead, Stopped[why].whileReadingBody);
  };
  const timer = options.timeoutMs === undefined ? undefined : setTimeout(() => stop('timeout'), options.timeoutMs);
  const cancel = (): void => stop('canceled');
  if (options.signal?.aborted) cancel();
  options.signal?.addEventListener('abort', cancel, { once: true });
  try {
    let target = first;
    let host = headers.host;
    let fields = headers.fields;
    for (let requests = 1; ; requests++) {
      if (stopped !== undefined) throw new Error(`Get "${target.href}": ${Stopped[stopped].beforeHead}`);
      let next: Target | undefined;
      let location = '';
      let unparsable = false;
      // Decided once the head is there: how much of the body to read.
      const bodyLimit = (head: ResponseHead): number => {
        if (!RedirectCodes.has(head.statusCode) || !head.location) return MaxProbeOutputBytes;
        location = head.location;
        const resolved = redirectTarget(target, location);
        if (resolved === undefined) {
          unparsable = true;
          return 0;
        }
        // Another host: the 3xx itself is the response (Go's ErrUseLastResponse).
        if (resolved.hostname !== first.hostname) return MaxProbeOutputBytes;
        next = resolved;
        return head.contentLength === -1 || head.contentLength <= RedirectBodySlurp ? RedirectBodySlurp : 0;
      };
      pending = exchange(target, Buffer.from(requestHead(target, host, headers, fields), 'utf8'), bodyLimit);
      let response;
      try {
        response = await pending.response;
      } catch (err) {
        throw new Error(`Get "${target.href}": ${errorMessage(err)}`);
      } finally {
        pending = undefined;
      }
      if (unparsable) throw new Error(`Get "${target.href}": failed to parse Location header ${goQuoteBytes(location)}: invalid URL`);
      if (next === undefined) {
        const { statusCode, body, bodyError } = response;
        return { statusCode, body: body.toString('utf8'), url: new URL(target.href), ...(bodyError !== undefined ? { bodyError } : {}) };
      }
      // Go's client names the Location as the server wrote it.
      if (requests >= MaxRedirects) throw new Error(`Get "${location}": stopped after ${MaxRedirects} redirects`);
      if (next.scheme !== 'http' && next.scheme !== 'https') throw new Error(`Get "${next.href}": unsupported protocol scheme ${goQuoteBytes(next.scheme)}`);
      // The action's Host goes along only to a Location without a scheme, a `//host/...` one included (as Go's client).
      host = headers.host !== '' && headers.host !== first.authority && !HasScheme.test(location) ? headers.host : '';
      // A Referer naming the previous URL, unless going from HTTPS to HTTP.
      fields = target.scheme === 'https' && next.scheme === 'http' ? headers.fields : withField(headers.fields, 'Referer', headers.referer || target.href);
      target = next;
    }
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', cancel);
  }
}

/** The head of the first request the GET sends, byte for byte. */
export function httpGetRequestHead(action: HttpGetAction, purpose: HttpGetOptions['purpose']): string {
  const target = initialTarget(action);
  const headers = requestHeaders(action, purpose, target);
  return requestHead(target, headers.host, headers, headers.fields);
}

function initialTarget(action: HttpGetAction): Target {
  const scheme = action.scheme === 'HTTPS' ? 'https' : 'http';
  // net.JoinHostPort: the kubelet's URL always has the port, 80 and 443 too.
  const authority = hostPort(action.host, action.port);
  const path = action.path.startsWith('/') ? action.path : `/${action.path}`;
  const url = new URL(`${scheme}://${authority}${path}`);
  const requestTarget = `${url.pathname}${url.search}`;
  return {
    secure: scheme === 'https',
    host: action.host,
    port: action.port,
    scheme,
    authority,
    hostname: url.hostname,
    requestTarget,
    href: `${scheme}://${authority}${requestTarget}${url.hash}`,
  };
}

const HasScheme = /^[A-Za-z][A-Za-z0-9+.-]*:/;
const Authority = /^(?:[A-Za-z][A-Za-z0-9+.-]*:)?\/\/([^/?#]*)/;

/** Where a Location leads from `from` (resolved as Go's URL.Parse does); undefined when it cannot be parsed. */
function redirectTarget(from: Target, location: string): Target | undefined {
  let url: URL;
  try {
    url = new URL(location, from.href);
  } catch {
    return undefined;
  }
  const scheme = url.protocol.slice(0, -1);
  // The host as the Location wrote it; a relative Location keeps the previous one.
  const written = Authority.exec(location)?.[1];
  const authority = written !== undefined ? written.slice(written.lastIndexOf('@') + 1) : HasScheme.test(location) ? url.host : from.authority;
  const requestTarget = `${url.pathname}${url.search}`;
  const hostname = url.hostname;
  return {
    secure: scheme === 'https',
    host: hostname.startsWith('[') ? hostname.slice(1, -1) : hostname,
    port: url.port !== '' ? Number(url.port) : scheme === 'https' ? 443 : 80,
    scheme,
    authority,
    hostname,
    requestTarget,
    href: `${scheme}://${authority}${requestTarget}${url.hash}`,
  };
}

const FieldName = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** No control character but HTAB (httpguts.ValidHeaderFieldValue). */
const FieldValue = /^[^\x00-\x08\x0a-\x1f\x7f]*$/;
/** httpguts.ValidHostHeader's characters. */
const HostHeader = /^[A-Za-z0-9!$%&'()*+,\-.:;=[\]_~]*$/;
/** Headers Go never writes from req.Header (reqWriteExcludeHeader). */
const NotWritten = new Set(['Host', 'User-Agent', 'Content-Length', 'Transfer-Encoding', 'Trailer']);

/** Go's CanonicalMIMEHeaderKey: "x-token" is "X-Token"; a name that is not a token stays as it is. */
function canonicalName(name: string): string {
  if (!FieldName.test(name)) return name;
  return name.toLowerCase().replace(/(^|-)([a-z])/g, (_, dash: string, letter: string) => dash + letter.toUpperCase());
}


/** Whether a comma- or space-separated header value holds `token` (any case). */
const hasToken = (value: string, token: string): boolean => value.toLowerCase().split(/[ ,\t]/).includes(token);

/** newProbeRequest's headers, checked as Go's Transport checks them before it sends anything. */
function requestHeaders(action: HttpGetAction, purpose: HttpGetOptions['purpose'], target: Target): RequestHeaders {
  const header = new Map<string, string[]>();
  for (const { name, value } of action.headers) {
    const key = canonicalName(name);
    const values = header.get(key);
    if (values) values.push(value);
    else header.set(key, [value]);
  }
  if (!header.has('User-Agent')) header.set('User-Agent', [`kube-${purpose}/${KubernetesMinorVersion}`]);
  // An Accept set to "" means none at all (newProbeRequest); a User-Agent set to "" too (Request.write).
  if (!header.has('Accept')) header.set('Accept', ['*/*']);
  else if (header.get('Accept')![0] === '') header.delete('Accept');
  for (const [key, values] of header) {
    if (!FieldName.test(key)) throw new Error(`Get "${target.href}": net/http: invalid header field name ${goQuoteBytes(key)}`);
    if (!values.every((value) => FieldValue.test(value))) throw new Error(`Get "${target.href}": net/http: invalid header field value for ${goQuoteBytes(key)}`);
  }
  const first = (key: string): string => header.get(key)?.[0] ?? '';
  const upgrading = first('Upgrade') !== '' && (header.get('Connection') ?? []).some((value) => hasToken(value, 'upgrade'));
  // The probe transport disables keep-alives (unless the action said close already); the
  // lifecycle client's transport asks for gzip unless the action chose an encoding or a range.
  const extra =
    purpose === 'probe'
      ? hasToken(first('Connection'), 'close') || upgrading
        ? ''
        : 'Connection: close\r\n'
      : first('Accept-Encoding') === '' && first('Range') === ''
        ? 'Accept-Encoding: gzip\r\n'
        : '';
  return {
    host: header.get('Host')?.[0] ?? '',
    userAgent: header.get('User-Agent')![0]!,
    referer: header.get('Referer')?.[0] ?? '',
    fields: [...header]
      .filter(([key]) => !NotWritten.has(key))
      .map(([key, values]) => [key, values.map(trimSpace)] as const)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
    extra,
  };
}

/** `fields` with `name` set to one value, in its sorted place. */
function withField(fields: RequestHeaders['fields'], name: string, value: string): RequestHeaders['fields'] {
  return [...fields.filter(([key]) => key !== name), [name, [value]] as const].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** The request head, as Go's Request.write and the transport write it. */
function requestHead(target: Target, host: string, headers: RequestHeaders, fields: RequestHeaders['fields']): string {
  // An invalid Host is sent empty rather than altered (Go 1.21 on).
  const hostHeader = host || target.authority;
  let head = `GET ${target.requestTarget} HTTP/1.1\r\nHost: ${HostHeader.test(hostHeader) ? hostHeader : ''}\r\n`;
  if (headers.userAgent !== '') head += `User-Agent: ${trimSpace(headers.userAgent)}\r\n`;
  for (const [name, values] of fields) {
    for (const value of values) head += `${name}: ${value}\r\n`;
  }
  return `${head}${headers.extra}\r\n`;
}
