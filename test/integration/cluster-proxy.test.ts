/**
 * The service proxy in cluster mode, against a real kube-apiserver and kube-controller-manager:
 * Services created through the API (ClusterIPs and node ports the API server allocated) reach the
 * pods the agent runs for them, through the endpoints the controller-manager published:
 * EndpointSlices (discovery.k8s.io/v1beta1 on this 1.20 server) with the iptables datapath, and v1
 * Endpoints, as on a server without EndpointSlices, with the userspace one. The proxy uses
 * kube-proxy's credentials (system:kube-proxy), as `dockerlet up --proxy-kubeconfig` does. Traffic
 * goes only to ClusterIPs in the guarded range, to loopback and to the pods these tests started.
 */
import { get as httpGet } from 'node:http';
import { expect, onTestFinished, test } from 'vitest';
import type { Pod, Service } from '../../common/api/types.js';
import { KubeApiError, KubeClient, type KubeApi } from '../../common/kube-api/kube-client.js';
import { startAgent, type AgentHarness } from '../helpers/agent-harness.js';
import { clusterOptions, useControlPlane } from '../helpers/cluster.js';
import { uniqueNodeName } from '../helpers/test-node.js';
import { waitFor } from '../helpers/wait-for.js';

const plane = useControlPlane();

/** One HTTP GET on a connection of its own, so that each request is balanced anew. */
function fetchOnce(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const request = httpGet(url, { agent: false, timeout: 3_000 }, (response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk.toString()));
      response.on('end', () => resolve(body.trim()));
      response.on('error', reject);
    });
    request.on('timeout', () => request.destroy(new Error(`no answer from ${url}`)));
    request.on('error', reject);
  });
}

/** An httpd replica bound to `nodeName`, answering its own name on its port named http. */
function replica(name: string, app: string, nodeName: string): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default', labels: { app } },
    spec: {
      nodeName,
      terminationGracePeriodSeconds: 1,
      containers: [
        {
          name: 'main',
          image: 'dockerlet.local/busybox:1.35',
          imagePullPolicy: 'Never',
          command: ['sh', '-c', `mkdir -p /www && echo ${name} > /www/index.html && exec httpd -f -p 8080 -h /www`],
          ports: [{ name: 'http', containerPort: 8080 }],
        },
      ],
    },
  };
}

/** Creates the objects as cluster admin, and deletes them when the test ends. */
async function create<T extends Pod | Service>(collection: 'pods' | 'services', object: T): Promise<T> {
  const { status, body } = await plane().request('POST', `/api/v1/namespaces/default/${collection}`, object);
  if (status !== 201) throw new Error(`creating ${collection}/${object.metadata?.name}: ${status} ${JSON.stringify(body)}`);
  onTestFinished(async () => {
    await plane().request('DELETE', `/api/v1/namespaces/default/${collection}/${object.metadata!.name!}?gracePeriodSeconds=0`);
  });
  return body as T;
}

/** The names that answer `url` over `tries` connections. */
async function answers(url: string, tries: number): Promise<Set<string>> {
  const names = new Set<string>();
  for (let i = 0; i < tries; i++) names.add(await fetchOnce(url));
  return names;
}

/** The proxy's endpoints of the service port `id`, as a sorted list of ip:port. */
function proxiedEndpoints(agent: AgentHarness, id: string): string[] {
  return (agent.proxy!.config.state().endpoints.get(id) ?? []).map((endpoint) => `${endpoint.ip}:${endpoint.port}`);
}

/** `client` as a server without the discovery.k8s.io group would answer it (before EndpointSlices). */
function withoutEndpointSlices(client: KubeApi): KubeApi {
  return {
    get: <T,>(path: string, settings?: Parameters<KubeApi['get']>[1]) =>
      path === '/apis/discovery.k8s.io' ? Promise.reject(new KubeApiError('GET', path, 404, '{"kind":"Status","reason":"NotFound"}')) : client.get<T>(path, settings),
    create: (path, body, settings) => client.create(path, body, settings),
    replace: (path, body, settings) => client.replace(path, body, settings),
    patch: (path, patch, settings) => client.patch(path, patch, settings),
    delete: (path, options, settings) => client.delete(path, options, settings),
    watch: (path, query, onEvent, signal) => client.watch(path, query, onEvent, signal),
  };
}

test('a Service made through the API reaches its pods through EndpointSlices, ClusterIP and NodePort (iptables)', async () => {
  const nodeName = uniqueNodeName('p');
  const proxyClient = await KubeClient.fromKubeconfig(await plane().proxyKubeconfig(), 'dockerlet-test');
  const agent = await startAgent({ nodeName, options: { cluster: await clusterOptions(plane(), nodeName) }, proxy: 'iptables', proxyApi: proxyClient });
  const app = `web-${nodeName}`;
  await create('pods', replica(`${app}-a`, app, nodeName));
  await create('pods', replica(`${app}-b`, app, nodeName));
  const service = await create<Service>('services', {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: app, namespace: 'default' },
    spec: { type: 'NodePort', selector: { app }, ports: [{ name: 'http', port: 80, targetPort: 'http' }] },
  });
  const clusterIP = service.spec!.clusterIP!;
  const nodePort = service.spec!.ports![0]!.nodePort!;
  expect(clusterIP).toMatch(/^10\.96\./);

  const id = `default/${app}:http`;
  await waitFor('both pods as endpoints of the proxy', () => proxiedEndpoints(agent, id).length === 2, { timeoutMs: 60_000 });
  expect(proxiedEndpoints(agent, id).every((endpoint) => /^10\.244\.\d+\.\d+:8080$/.test(endpoint))).toBe(true);
  expect(agent.log.lines.some((line) => line.msg === 'endpoints from EndpointSlice objects' && line['path'] === '/apis/discovery.k8s.io/v1beta1/endpointslices')).toBe(true);
  await agent.proxy!.synced();
  expect(await answers(`http://${clusterIP}/`, 20)).toEqual(new Set([`${app}-a`, `${app}-b`]));
  expect([`${app}-a`, `${app}-b`]).toContain(await fetchOnce(`http://127.0.0.1:${nodePort}/`));

  // A pod deleted through the API leaves the EndpointSlice, and the proxy follows.
  await plane().kubectl('delete', 'pod', `${app}-a`, '--grace-period=1', '--wait=false');
  await waitFor('the deleted pod to leave the endpoints', () => proxiedEndpoints(agent, id).length === 1, { timeoutMs: 30_000 });
  await agent.proxy!.synced();
  expect(await answers(`http://${clusterIP}/`, 10)).toEqual(new Set([`${app}-b`]));
});

test('on a server without EndpointSlices the proxy serves v1 Endpoints (userspace)', async () => {
  const nodeName = uniqueNodeName('p');
  const proxyClient = await KubeClient.fromKubeconfig(await plane().proxyKubeconfig(), 'dockerlet-test');
  const agent = await startAgent({ nodeName, options: { cluster: await clusterOptions(plane(), nodeName) }, proxy: 'userspace', proxyApi: withoutEndpointSlices(proxyClient) });
  const app = `old-${nodeName}`;
  await create('pods', replica(`${app}-a`, app, nodeName));
  const service = await create<Service>('services', {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: app, namespace: 'default' },
    spec: { selector: { app }, ports: [{ port: 8000, targetPort: 8080 }] },
  });
  const id = `default/${app}:`;
  await waitFor('the pod as the endpoint of the proxy', () => proxiedEndpoints(agent, id).length === 1, { timeoutMs: 60_000 });
  expect(agent.log.lines.some((line) => line.msg === 'endpoints from Endpoints objects' && line['path'] === '/api/v1/endpoints')).toBe(true);
  await agent.proxy!.synced();
  expect(await fetchOnce(`http://${service.spec!.clusterIP!}:8000/`)).toBe(`${app}-a`);
});
