/**
 * The service proxy in cluster mode, against a real kube-apiserver and kube-controller-manager:
 * Services created through the API (ClusterIPs and node ports the API server allocated) reach the
 * pods the agent runs for them, through the endpoints the controller-manager published:
 * EndpointSlices (discovery.k8s.io/v1beta1 on this 1.20 server) with the iptables datapath, and v1
 * Endpoints, as on a server without EndpointSlices, with the userspace one. The proxy uses
 * kube-proxy's credentials (system:kube-proxy), as `dockerlet up --proxy-kubeconfig` does. Traffic
 * goes only to ClusterIPs in the guarded range, to loopback and to the pods these tests started.
 * The cluster DNS answers the API server's Services by name from the same feed; names outside the
 * cluster go to a resolver the test runs on 127.0.0.1.
 */
import { get as httpGet } from 'node:http';
import { expect, onTestFinished, test } from 'vitest';
import type { Pod, Service } from '../../common/api/types.js';
import { KubeApiError, KubeClient, type KubeApi } from '../../common/kube-api/kube-client.js';
import { startAgent, type AgentHarness } from '../helpers/agent-harness.js';
import { clusterOptions, useControlPlane } from '../helpers/cluster.js';
import { dockerExec } from '../helpers/docker.js';
import { startFakeUpstream } from '../helpers/dns-upstream.js';
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

test("externalTrafficPolicy Local: the proxy tells this node's endpoints from another node's by the EndpointSlices a 1.20 server writes", async () => {
  const [here, there] = [uniqueNodeName('p'), uniqueNodeName('q')];
  const proxyClient = await KubeClient.fromKubeconfig(await plane().proxyKubeconfig(), 'dockerlet-test');
  const agent = await startAgent({ nodeName: here, options: { cluster: await clusterOptions(plane(), here) }, proxy: 'iptables', proxyApi: proxyClient });
  await startAgent({ nodeName: there, options: { cluster: await clusterOptions(plane(), there) } });
  const app = `local-${here}`;
  const [podHere, podThere] = await Promise.all([create('pods', replica(`${app}-a`, app, here)), create('pods', replica(`${app}-b`, app, there))]);
  const service = await create<Service>('services', {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: app, namespace: 'default' },
    spec: { type: 'NodePort', externalTrafficPolicy: 'Local', selector: { app }, ports: [{ name: 'http', port: 80, targetPort: 'http' }] },
  });
  const id = `default/${app}:http`;
  await waitFor('both pods as endpoints of the proxy', () => proxiedEndpoints(agent, id).length === 2, { timeoutMs: 60_000 });
  const ipOf = async (name: string): Promise<string> => ((await plane().get(`/api/v1/namespaces/default/pods/${name}`)).body as Pod).status!.podIP!;
  const locality = Object.fromEntries((agent.proxy!.config.state().endpoints.get(id) ?? []).map((endpoint) => [endpoint.ip, endpoint.isLocal === true]));
  expect(locality).toEqual({ [await ipOf(podHere.metadata!.name!)]: true, [await ipOf(podThere.metadata!.name!)]: false });
  expect(agent.proxy!.config.state().servicePorts.find((sp) => sp.id === id)).toMatchObject({ externalPolicyLocal: true, nodePort: service.spec!.ports![0]!.nodePort });
  // Inside the cluster the policy does not apply: the ClusterIP spreads over both nodes' pods.
  await agent.proxy!.synced();
  expect(await answers(`http://${service.spec!.clusterIP!}/`, 20)).toEqual(new Set([`${app}-a`, `${app}-b`]));
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

test('the cluster DNS: a Service made with kubectl resolves by name from a pod on the node, ClusterIP and headless alike', async () => {
  const nodeName = uniqueNodeName('p');
  const proxyClient = await KubeClient.fromKubeconfig(await plane().proxyKubeconfig(), 'dockerlet-test');
  const upstream = await startFakeUpstream({});
  onTestFinished(() => upstream.close());
  const agent = await startAgent({ nodeName, options: { cluster: await clusterOptions(plane(), nodeName) }, proxy: 'iptables', proxyApi: proxyClient, clusterDns: { upstream } });
  const app = `dns-${nodeName}`;
  await create('pods', { ...replica(`${app}-a`, app, nodeName), spec: { ...replica(`${app}-a`, app, nodeName).spec!, hostname: 'member-0', subdomain: `${app}-members` } });
  await plane().kubectl('create', 'service', 'clusterip', app, '--tcp=80:8080');
  onTestFinished(() => plane().kubectl('delete', 'service', app, '--wait=false').then(() => undefined));
  await create<Service>('services', {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: `${app}-members`, namespace: 'default' },
    spec: { clusterIP: 'None', selector: { app }, ports: [{ name: 'http', port: 8080 }] },
  });
  const pod = await waitFor('the pod running with its IP', async () => {
    const { body } = await plane().request('GET', `/api/v1/namespaces/default/pods/${app}-a`);
    return (body as Pod).status?.podIP && (body as Pod).status?.phase === 'Running' ? (body as Pod) : undefined;
  }, { timeoutMs: 60_000 });
  const container = await waitFor('its container', async () => (await agent.containers('main')).find((c) => c.State === 'running' && c.Labels['io.kubernetes.pod.name'] === `${app}-a`));
  const clusterIP = (await plane().kubectl('get', 'service', app, '-o', 'jsonpath={.spec.clusterIP}')).trim();
  const lookup = async (name: string): Promise<string> => (await dockerExec(container.Id, ['nslookup', name])).output;
  // The pod's own resolver: its resolv.conf names the node's cluster DNS.
  expect((await dockerExec(container.Id, ['cat', '/etc/resolv.conf'])).output).toMatch(/^nameserver 10\.244\.0\.1$/m);
  await waitFor(`${app} to resolve to ${clusterIP}`, async () => (await lookup(`${app}.default.svc.cluster.local`)).includes(`Address: ${clusterIP}`));
  await waitFor('the headless Service to resolve to the pod, by its hostname too', async () =>
    (await lookup(`member-0.${app}-members.default.svc.cluster.local`)).includes(`Address: ${pod.status!.podIP!}`),
  { timeoutMs: 30_000 });
  expect(await lookup(`${app}-members.default.svc.cluster.local`)).toContain(`Address: ${pod.status!.podIP!}`);
  expect(upstream.asked.filter((asked) => asked.includes('cluster.local'))).toEqual([]);
});
