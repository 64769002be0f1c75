/**
 * A client of a kubelet's secure port for tests: HTTPS with a client certificate, a bearer
 * token or no credentials at all. The serving certificate is checked against `ca` when given;
 * a self-signed one is accepted otherwise (what `curl -k` does).
 */
import { readFile } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { request } from 'node:https';
import type { Credentials } from './pki.js';

export interface KubeletClientOptions {
  /** https://host:port */
  base: string;
  cert?: Credentials;
  token?: string;
  ca?: string;
}

export interface KubeletResponse {
  status: number;
  body: string;
  contentType: string | undefined;
}

/** The response once its body has ended. */
export async function kubeletRequest(options: KubeletClientOptions, method: string, path: string): Promise<KubeletResponse> {
  const res = await kubeletStream(options, method, path);
  let body = '';
  res.setEncoding('utf8');
  for await (const chunk of res) body += chunk as string;
  return { status: res.statusCode ?? 0, body, contentType: res.headers['content-type'] };
}

/** The response as soon as its headers come, its body to read (a follow of logs); `signal` ends it. */
export async function kubeletStream(options: KubeletClientOptions, method: string, path: string, signal?: AbortSignal): Promise<IncomingMessage> {
  const credentials = options.cert ? { cert: await readFile(options.cert.cert), key: await readFile(options.cert.key) } : {};
  const ca = options.ca ? { ca: await readFile(options.ca) } : { rejectUnauthorized: false };
  const headers = options.token ? { Authorization: `Bearer ${options.token}` } : {};
  return new Promise((resolve, reject) => {
    request(`${options.base}${path}`, { method, headers, ...credentials, ...ca, ...(signal ? { signal } : {}) }, resolve)
      .on('error', reject)
      .end();
  });
}
