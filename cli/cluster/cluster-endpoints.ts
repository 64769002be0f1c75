/**
 * The checks `up` waits on and `status` reports, made as a client of the cluster with the
 * admin's certificate: etcd's /health, the API server's /readyz, a node's Ready condition,
 * a further node's Docker engine's /_ping, and the default ServiceAccount's token (until the controller manager has made it, the
 * API server refuses pods in the namespace); and the objects `up` creates as the admin.
 */
import { readFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request } from 'node:https';
import { errorMessage } from '../../common/api/errors.js';
import type { ClusterLayout } from './cluster-layout.js';
import type { ClusterObject } from './components.js';

interface HttpsAnswer {
  status: number;
  body: string;
}

/** How long one check may take: a component that does not answer within it is not ready. */
const CheckTimeoutMs = 5_000;

export class ClusterEndpoints {
  readonly apiServer: string;
  readonly etcd: string;
  readonly #layout: ClusterLayout;
  readonly #credentials = new Map<string, Promise<{ cert: Buffer; key: Buffer; ca: Buffer }>>();

  constructor(layout: ClusterLayout, ports: { apiServer: number; etcdClient: number }) {
    this.#layout = layout;
    this.apiServer = `https://127.0.0.1:${ports.apiServer}`;
    this.etcd = `https://127.0.0.1:${ports.etcdClient}`;
  }

  /** etcd answers its health check healthy. */
  async etcdHealthy(): Promise<boolean> {
    const answer = await this.#get(`${this.etcd}/health`, 'apiserver-etcd-client', 'etcd-ca').catch(() => undefined);
    return answer?.status === 200 && /"health":\s*"true"/.test(answer.body);
  }

  /** The API server's /readyz: undefined when ready, else why not. */
  async apiServerNotReady(): Promise<string | undefined> {
    try {
      const answer = await this.#get(`${this.apiServer}/readyz`, 'admin');
      return answer.status === 200 ? undefined : `/readyz answered ${answer.status}`;
    } catch (err) {
      return errorMessage(err);
    }
  }

  /** The node's Ready condition: True, False, Unknown, or undefined when the node is not registered. */
  async nodeReady(name: string): Promise<string | undefined> {
    return (await this.#readyCondition(name))?.status;
  }

  /**
   * Whether the node's agent has reported it Ready since `since`: undefined when it has, else why
   * not. A resumed cluster's Node is still Ready, from before the stop, until its lease runs out.
   */
  async nodeReadySince(name: string, since: Date): Promise<string | undefined> {
    const condition = await this.#readyCondition(name);
    if (condition === undefined) return 'not registered yet';
    if (condition.status !== 'True') return `Ready is ${condition.status}`;
    // The API has it to the second.
    const heartbeat = Date.parse(condition.lastHeartbeatTime ?? '');
    return heartbeat >= Math.floor(since.getTime() / 1000) * 1000 ? undefined : 'no status from its agent yet';
  }

  async #readyCondition(name: string): Promise<{ status: string; lastHeartbeatTime?: string } | undefined> {
    const answer = await this.#get(`${this.apiServer}/api/v1/nodes/${name}`, 'admin').catch(() => undefined);
    if (answer?.status !== 200) return undefined;
    const node = JSON.parse(answer.body) as { status?: { conditions?: Array<{ type: string; status: string; lastHeartbeatTime?: string }> } };
    return node.status?.conditions?.find((condition) => condition.type === 'Ready');
  }

  /** The Docker engine on the unix socket answers its /_ping: undefined when it does, else why not. */
  async engineNotAnswering(socketPath: string): Promise<string | undefined> {
    return new Promise((resolve) => {
      const ping = httpRequest({ socketPath, path: '/_ping', timeout: CheckTimeoutMs }, (response) => {
        response.resume();
        resolve(response.statusCode === 200 ? undefined : `/_ping answered ${response.statusCode}`);
      });
      ping.on('timeout', () => ping.destroy(new Error(`no answer within ${CheckTimeoutMs / 1000}s`)));
      ping.on('error', (err) => resolve(errorMessage(err)));
      ping.end();
    });
  }

  /** The default namespace's ServiceAccount has its token: pods may be created. */
  async serviceAccountsReady(): Promise<boolean> {
    const answer = await this.#get(`${this.apiServer}/api/v1/namespaces/default/serviceaccounts/default`, 'admin').catch(() => undefined);
    return answer?.status === 200 && ((JSON.parse(answer.body) as { secrets?: unknown[] }).secrets?.length ?? 0) > 0;
  }

  /** Creates each object as the admin unless it exists: a resumed cluster keeps what it has (a StorageClass the user changed included). */
  async ensureObjects(objects: readonly ClusterObject[]): Promise<void> {
    for (const { collection, object } of objects) {
      const answer = await this.#request('POST', `${this.apiServer}${collection}`, 'admin', 'ca', JSON.stringify(object));
      if (answer.status !== 201 && answer.status !== 409) {
        throw new Error(`creating ${object.kind} ${object.metadata?.name} failed: ${answer.status} ${answer.body.slice(0, 300)}`);
      }
    }
  }

  /** The files of `identity` and `authority`, read once: `up` polls every 250 ms, and the PKI is made before it starts. */
  #tls(identity: string, authority: string): Promise<{ cert: Buffer; key: Buffer; ca: Buffer }> {
    const cacheKey = `${identity}/${authority}`;
    let tls = this.#credentials.get(cacheKey);
    if (!tls) {
      const credentials = this.#layout.pki(identity);
      tls = Promise.all([readFile(credentials.cert), readFile(credentials.key), readFile(this.#layout.pki(authority).cert)]).then(([cert, key, ca]) => ({ cert, key, ca }));
      // A failed read is tried again next time.
      tls.catch(() => this.#credentials.delete(cacheKey));
      this.#credentials.set(cacheKey, tls);
    }
    return tls;
  }

  /** A GET as `identity` (a certificate under pki/), the server checked against `authority`. */
  #get(url: string, identity: string, authority = 'ca'): Promise<HttpsAnswer> {
    return this.#request('GET', url, identity, authority);
  }

  async #request(method: 'GET' | 'POST', url: string, identity: string, authority: string, body?: string): Promise<HttpsAnswer> {
    const { cert, key, ca } = await this.#tls(identity, authority);
    const headers = body === undefined ? {} : { 'content-type': 'application/json' };
    return new Promise((resolve, reject) => {
      const req = request(url, { method, headers, cert, key, ca, timeout: CheckTimeoutMs }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`${url}: no answer in ${CheckTimeoutMs} ms`)));
      req.on('error', reject);
      req.end(body);
    });
  }
}
