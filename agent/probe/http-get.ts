/**
 * An httpGet action, as the kubelet performs it for probes and lifecycle hooks (pkg/probe/http):
 * no keep-alive, no proxy, TLS certificates not checked, at most 10 KiB of body read, a
 * `kube-probe/<version>` User-Agent unless the action sets one. Redirects to the same host are
 * followed (at most 10); a redirect to another host is not, and its 3xx response is returned.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { errorMessage } from '../../common/api/errors.js';
import { KubernetesMinorVersion } from '../../common/version.js';
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

export function httpGetUrl(action: HttpGetAction): URL {
  const path = action.path.startsWith('/') ? action.path : `/${action.path}`;
  const host = action.host.includes(':') ? `[${action.host}]` : action.host;
  return new URL(`${action.scheme.toLowerCase()}://${host}:${action.port}${path}`);
}

/** Performs the GET; rejects, with a message that names the URL, when no response came back. */
export async function doHttpGet(action: HttpGetAction, options: HttpGetOptions): Promise<HttpGetResponse> {
  const headers = requestHeaders(action, options.purpose);
  // One controller for the timeout and the caller's cancel, its timer cleared as soon as the GET
  // is done: probes run this many times a second, and AbortSignal.timeout/any would leave a
  // timer and a listener behind for each until the timeout had passed.
  const controller = new AbortController();
  const timer = options.timeoutMs === undefined ? undefined : setTimeout(() => controller.abort(), options.timeoutMs);
  const cancel = (): void => controller.abort();
  if (options.signal?.aborted) cancel();
  options.signal?.addEventListener('abort', cancel, { once: true });
  try {
    const first = httpGetUrl(action);
    let url = first;
    for (let redirects = 0; ; redirects++) {
      const response = await getOnce(url, headers, controller.signal, options.signal);
      const location = response.location;
      if (!RedirectCodes.has(response.statusCode) || location === undefined) return { statusCode: response.statusCode, body: response.body, url };
      const next = new URL(location, url);
      if (next.hostname !== first.hostname) return { statusCode: response.statusCode, body: response.body, url };
      // Go's client names the Location as the server wrote it.
      if (redirects + 1 >= MaxRedirects) throw new Error(`Get "${location}": stopped after ${MaxRedirects} redirects`);
      url = next;
    }
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', cancel);
  }
}

function requestHeaders(action: HttpGetAction, purpose: HttpGetOptions['purpose']): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = {};
  const names = new Map<string, string>();
  for (const { name, value } of action.headers) {
    const key = name.toLowerCase();
    const existing = names.get(key);
    if (existing === undefined) {
      names.set(key, name);
      headers[name] = value;
    } else {
      headers[existing] = [headers[existing]!, value].flat();
    }
  }
  if (!names.has('user-agent')) headers['User-Agent'] = `kube-${purpose}/${KubernetesMinorVersion}`;
  if (!names.has('accept')) headers['Accept'] = '*/*';
  // An Accept or User-Agent set to "" means none at all (newProbeRequest; Go's Request.write).
  for (const key of ['accept', 'user-agent']) {
    const name = names.get(key);
    if (name !== undefined && [headers[name]].flat()[0] === '') delete headers[name];
  }
  headers['Connection'] = 'close';
  return headers;
}

function getOnce(
  url: URL,
  headers: Record<string, string | string[]>,
  signal: AbortSignal,
  canceled: AbortSignal | undefined,
): Promise<{ statusCode: number; body: string; location?: string }> {
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const fail = (err: unknown): void => {
      const reason = canceled?.aborted
        ? 'context canceled'
        : signal.aborted
          ? 'context deadline exceeded (Client.Timeout exceeded while awaiting headers)'
          : (err as NodeJS.ErrnoException).code === 'ECONNREFUSED'
            ? `dial tcp ${url.hostname}:${url.port || (url.protocol === 'https:' ? 443 : 80)}: connect: connection refused`
            : errorMessage(err);
      reject(new Error(`Get "${url.href}": ${reason}`));
    };
    const req = request(url, { method: 'GET', headers, agent: false, rejectUnauthorized: false, signal }, (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const done = (): void => {
        res.destroy();
        const location = res.headers.location;
        resolve({ statusCode: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), ...(location ? { location } : {}) });
      };
      res.on('data', (chunk: Buffer) => {
        const part = chunk.subarray(0, MaxProbeOutputBytes - size);
        chunks.push(part);
        size += part.length;
        if (size >= MaxProbeOutputBytes) done();
      });
      res.on('end', done);
      res.on('error', fail);
    });
    req.on('error', fail);
    req.end();
  });
}
