/**
 * The service proxy on the real Docker engine and the host's real network, one suite over both
 * datapaths: ClusterIP from the host and from pods, NodePort, load spreading, session affinity,
 * readiness, refusal without endpoints, named targetPorts, UDP with stale conntrack entries,
 * hairpin, externalTrafficPolicy Local, the HTTP service proxy, and cleanup. Traffic goes only to
 * loopback, to the host's own addresses, to pods these tests started and to the service IPs the
 * proxy routes to them (a client outside the node is a container on Docker's default bridge,
 * talking to the host); the host guard refuses anything addressed to the service CIDR that no rule
 * rewrote. All tests of this file run one after another: two proxies would fight over the same chains.
 */
import { execFile } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { get as httpGet } from 'node:http';
import { networkInterfaces } from 'node:os';
import { promisify } from 'node:util';
import { describe, expect, onTestFinished, test } from 'vitest';
import type { EndpointInfo, Proxier, ProxyMode, ServicePortInfo } from '../../proxy/datapath/proxier.js';
import { makeProxier } from '../../proxy/proxy.js';
import { isReady, startAgent, type AgentHarness } from '../helpers/agent-harness.js';
import { docker, dockerExec, NodeImage } from '../helpers/docker.js';
import { waitFor } from '../helpers/wait-for.js';
import { cidrContains, parseIpv4Cidr } from '../../common/util/ipv4.js';

const run = promisify(execFile);
// Debian's busybox 1.35 wget crashes when given -T (a NULL store in its option parsing): time it out with `timeout`.
const Image = 'dockerlet.local/busybox:1.35';

const ServiceCIDR = parseIpv4Cidr('10.96.0.0/16')!;
const PodCIDR = parseIpv4Cidr('10.244.0.0/16')!;

/** One HTTP GET on a connection of its own (no keep-alive), so each request is balanced anew; `from` is the local address it is sent from. */
function fetchOnce(url: string, options: { timeoutMs?: number; from?: string } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const { timeoutMs = 3_000, from } = options;
    const request = httpGet(url, { agent: false, headers: { connection: 'close' }, timeout: timeoutMs, ...(from ? { localAddress: from } : {}) }, (response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk.toString()));
      response.on('end', () => resolve(body.trim()));
      response.on('error', reject);
    });
    request.on('timeout', () => request.destroy(Object.assign(new Error(`no answer from ${url}`), { code: 'ETIMEDOUT' })));
    request.on('error', reject);
  });
}

/** The error code of a GET that must fail. */
async function failureOf(url: string): Promise<string> {
  try {
    await fetchOnce(url);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? String(err);
  }
  throw new Error(`${url} answered`);
}

/** A web replica: httpd answering its own pod name, ready while /tmp/ready exists. */
function replica(name: string, options: { app?: string; containerPort?: number; portName?: string; readiness?: boolean } = {}): string {
  const port = options.containerPort ?? 8080;
  const readiness = options.readiness
    ? '      readinessProbe:\n        exec: {command: ["test", "-f", "/tmp/ready"]}\n        periodSeconds: 1\n'
    : '';
  return `apiVersion: v1
kind: Pod
metadata:
  name: ${name}
  labels: {app: ${options.app ?? 'web'}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
    - name: main
      image: ${Image}
      command: ["sh", "-c", "mkdir -p /www && echo ${name} > /www/index.html && touch /tmp/ready && exec httpd -f -p ${port} -h /www"]
      ports: [{name: ${options.portName ?? 'http'}, containerPort: ${port}}]
${readiness}`;
}

function service(name: string, spec: string): string {
  return `apiVersion: v1\nkind: Service\nmetadata: {name: ${name}}\nspec:\n${spec}`;
}

const webService = service('web', '  selector: {app: web}\n  ports: [{name: http, port: 80, targetPort: http}]\n');

/** The ClusterIP the registry gave `name`, once it has one. */
function clusterIP(agent: AgentHarness, name: string): Promise<string> {
  return waitFor(`a ClusterIP for ${name}`, () => agent.proxy!.config.services().find((s) => s.metadata?.name === name)?.spec?.clusterIP);
}

/** Pod names answering `count` GETs of `url`, each on a connection of its own (from `from`). */
async function answers(url: string, count: number, from?: string): Promise<string[]> {
  const names: string[] = [];
  for (let i = 0; i < count; i++) names.push(await fetchOnce(url, from ? { from } : {}));
  return names;
}

/** An address of this host that is neither loopback nor in the pod CIDR (eth0's, docker0's). */
function hostAddress(): string {
  const address = Object.values(networkInterfaces())
    .flatMap((addresses) => addresses ?? [])
    .find((info) => info.family === 'IPv4' && !info.internal && !cidrContains(PodCIDR, info.address));
  if (!address) throw new Error('this host has no IPv4 address outside loopback and the pod CIDR');
  return address.address;
}

/**
 * A proxier of the test's own (the agent runs none) serving `web-local` on NodePort `nodePort`
 * with externalTrafficPolicy Local: the agent's standalone proxy counts every pod as this node's,
 * so here the endpoints say which pods stand for another node's.
 */
async function localNodePort(agent: AgentHarness, mode: ProxyMode, nodePort: number): Promise<{ proxier: Proxier; serve(endpoints: EndpointInfo[]): Promise<void> }> {
  const proxier = makeProxier(mode, { serviceCIDR: ServiceCIDR, podCIDR: PodCIDR, stateDir: `${agent.rootDir}/../proxy` }, agent.log.logger);
  onTestFinished(async () => {
    await proxier.stop();
    await proxier.cleanup();
  });
  const sp: ServicePortInfo = { id: 'default/web-local:http', namespace: 'default', name: 'web-local', portName: 'http', protocol: 'TCP', clusterIP: '10.96.250.10', port: 80, nodePort, externalPolicyLocal: true };
  return { proxier, serve: (endpoints) => proxier.sync({ servicePorts: [sp], endpoints: new Map([[sp.id, endpoints]]) }) };
}

/** The endpoint of a Ready pod on port 8080. */
function endpointOf(agent: AgentHarness, name: string, isLocal: boolean): EndpointInfo {
  return { ip: agent.pod(name)!.status!.podIP!, port: 8080, isLocal };
}

/** A client outside the node: a container on Docker's default bridge (neither one of the node's addresses nor a pod of its CIDR), and the host's address on that bridge. */
async function outsideClient(): Promise<{ get(url: string): Promise<{ output: string; exitCode: number }>; host: string }> {
  const container = await docker.createContainer({ Image, Cmd: ['sleep', '3600'], HostConfig: { NetworkMode: 'bridge' }, Labels: { 'dockerlet.test/proxy': 'outside-client' } });
  onTestFinished(() => container.remove({ force: true }));
  await container.start();
  const host = (await container.inspect()).NetworkSettings.Networks['bridge']?.Gateway;
  if (!host) throw new Error("the outside client has no gateway on Docker's default bridge");
  return { host, get: (url) => dockerExec(container.id, ['timeout', '3', 'wget', '-qO-', url]) };
}


describe.each(['iptables', 'userspace'] as const)('the %s datapath', (mode: ProxyMode) => {
  test('a ClusterIP answers from the host and from inside another pod; pods get service links', async () => {
    const client = `apiVersion: v1\nkind: Pod\nmetadata: {name: client}\nspec:\n  terminationGracePeriodSeconds: 1\n  containers:\n    - {name: main, image: ${Image}, command: ["sleep", "3600"]}\n`;
    const agent = await startAgent({ proxy: mode, manifests: { 'web.yaml': replica('web-a'), 'svc.yaml': webService } });
    await agent.waitForPod('web-a', 'Ready', isReady);
    const ip = await clusterIP(agent, 'web');
    await waitFor('the ClusterIP answering from the pod', async () => (await fetchOnce(`http://${ip}/`)) === 'web-a');
    // A pod started after the Service sees it in its environment.
    await agent.writeManifest('client.yaml', client);
    await agent.waitForPod('client', 'Ready', isReady);
    const env = (await agent.exec('main', ['sh', '-c', 'echo $WEB_SERVICE_HOST:$WEB_SERVICE_PORT_HTTP'])).output;
    expect(env.trim()).toBe(`${ip}:80`);
    const fromPod = await agent.exec('main', ['timeout', '3', 'wget', '-qO-', `http://${ip}:80/`]);
    expect(fromPod.output.trim()).toBe('web-a');
  });

  test('a NodePort answers on 127.0.0.1 and on the host address of the pod bridge', async () => {
    const nodePort = service('web-np', '  type: NodePort\n  selector: {app: web}\n  ports: [{name: http, port: 80, targetPort: http, nodePort: 30180}]\n');
    const agent = await startAgent({ proxy: mode, manifests: { 'web.yaml': replica('web-a'), 'svc.yaml': nodePort } });
    await agent.waitForPod('web-a', 'Ready', isReady);
    await waitFor('the NodePort on 127.0.0.1 answering from the pod', async () => (await fetchOnce('http://127.0.0.1:30180/')) === 'web-a');
    expect(await fetchOnce('http://10.244.0.1:30180/')).toBe('web-a');
  });

  test('load spreads over 3 replicas; ClientIP affinity pins a client to one', async () => {
    const sticky = service('sticky', '  selector: {app: web}\n  sessionAffinity: ClientIP\n  ports: [{name: http, port: 80, targetPort: http}]\n');
    const agent = await startAgent({
      proxy: mode,
      manifests: { 'a.yaml': replica('web-a'), 'b.yaml': replica('web-b'), 'c.yaml': replica('web-c'), 'svc.yaml': webService, 'sticky.yaml': sticky },
    });
    for (const name of ['web-a', 'web-b', 'web-c']) await agent.waitForPod(name, 'Ready', isReady);
    const ip = await clusterIP(agent, 'web');
    // Every replica answers within a few dozen fresh connections, once the proxy has them all.
    await waitFor('all three replicas answering', async () => new Set(await answers(`http://${ip}/`, 30)).size === 3);
    const stickyIP = await clusterIP(agent, 'sticky');
    await waitFor('the sticky ClusterIP answering', () => fetchOnce(`http://${stickyIP}/`));
    expect(new Set(await answers(`http://${stickyIP}/`, 15)).size).toBe(1);
  });

  test('an endpoint leaves when its readiness fails and comes back when it passes again', async () => {
    const agent = await startAgent({
      proxy: mode,
      manifests: { 'a.yaml': replica('web-a', { readiness: true }), 'b.yaml': replica('web-b', { readiness: true }), 'svc.yaml': webService },
    });
    await agent.waitForPod('web-a', 'Ready', isReady);
    await agent.waitForPod('web-b', 'Ready', isReady);
    const ip = await clusterIP(agent, 'web');
    await waitFor('both replicas answering', async () => new Set(await answers(`http://${ip}/`, 10)).size === 2);
    const a = (await agent.containers('main')).find((c) => c.Labels['io.kubernetes.pod.name'] === `web-a-${agent.nodeName}`)!;
    await dockerExec(a.Id, ['rm', '/tmp/ready']);
    await agent.waitForPod('web-a', 'not Ready', (p) => !isReady(p));
    await waitFor('web-a out of the Service', async () => (await answers(`http://${ip}/`, 12)).every((name) => name === 'web-b'));
    await dockerExec(a.Id, ['touch', '/tmp/ready']);
    await agent.waitForPod('web-a', 'Ready again', isReady);
    await waitFor('web-a back in the Service', async () => (await answers(`http://${ip}/`, 12)).includes('web-a'));
  });

  test('a Service without ready endpoints refuses connections at once; a port it lacks is refused too', async () => {
    const lonely = service('lonely', '  selector: {app: nobody}\n  ports: [{name: http, port: 80}]\n');
    const agent = await startAgent({ proxy: mode, manifests: { 'svc.yaml': lonely } });
    const ip = await clusterIP(agent, 'lonely');
    await agent.proxy!.synced();
    expect(['ECONNREFUSED', 'ECONNRESET']).toContain(await failureOf(`http://${ip}:80/`));
    expect(['ECONNREFUSED', 'ECONNRESET']).toContain(await failureOf(`http://${ip}:81/`));
  });

  test('a named targetPort is resolved per pod', async () => {
    const agent = await startAgent({
      proxy: mode,
      manifests: { 'a.yaml': replica('web-a', { containerPort: 8080 }), 'b.yaml': replica('web-b', { containerPort: 9090 }), 'svc.yaml': webService },
    });
    await agent.waitForPod('web-a', 'Ready', isReady);
    await agent.waitForPod('web-b', 'Ready', isReady);
    const ip = await clusterIP(agent, 'web');
    await waitFor('both replicas answering on their own ports', async () => new Set(await answers(`http://${ip}/`, 10)).size === 2);
  });

  test('UDP: echo through the ClusterIP; a client keeps getting answers when its endpoint is replaced', async () => {
    const echo = (name: string): string => `apiVersion: v1
kind: Pod
metadata: {name: ${name}, labels: {app: echo}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
    - name: main
      image: ${NodeImage}
      command: ["node", "-e", "const s = require('dgram').createSocket('udp4'); s.on('message', (m, r) => s.send(m + ' from ${name}', r.port, r.address)); s.bind(5353)"]
      ports: [{name: echo, containerPort: 5353, protocol: UDP}]
`;
    const svc = service('echo', '  selector: {app: echo}\n  ports: [{name: echo, port: 53, targetPort: echo, protocol: UDP}]\n');
    const agent = await startAgent({ proxy: mode, manifests: { 'old.yaml': echo('echo-old'), 'svc.yaml': svc } });
    await agent.waitForPod('echo-old', 'Ready', isReady);
    const ip = await clusterIP(agent, 'echo');
    const socket = createSocket('udp4');
    onTestFinished(() => new Promise<void>((resolve) => socket.close(() => resolve())));
    const replies: string[] = [];
    socket.on('message', (message) => replies.push(message.toString()));
    await new Promise<void>((resolve) => socket.bind(0, '0.0.0.0', resolve));
    const ask = (): Promise<string> =>
      waitFor('an echo', () => {
        socket.send('ping', 53, ip);
        return replies.shift();
      }, { intervalMs: 200 });
    expect(await ask()).toBe('ping from echo-old');
    // The replacement is Ready before the old one goes: the endpoints never run empty.
    await agent.writeManifest('new.yaml', echo('echo-new'));
    await agent.waitForPod('echo-new', 'Ready', isReady);
    await agent.removeManifest('old.yaml');
    await waitFor('echo-old gone', async () => (await agent.containers('main')).every((c) => !c.Labels['io.kubernetes.pod.name']!.startsWith('echo-old')));
    await waitFor('the same client answered by the new endpoint', async () => (await ask()) === 'ping from echo-new');
  });

  test("a NodePort of externalTrafficPolicy Local: the node itself, from any of its addresses, and its pods reach an endpoint on another node", async () => {
    const agent = await startAgent({ manifests: { 'b.yaml': replica('web-b') } });
    await agent.waitForPod('web-b', 'Ready', isReady);
    const { serve } = await localNodePort(agent, mode, 30183);
    await serve([endpointOf(agent, 'web-b', false)]);
    const from = hostAddress();
    await waitFor('the NodePort answering the node from another node\'s endpoint', async () => (await fetchOnce('http://127.0.0.1:30183/')) === 'web-b');
    expect(await answers(`http://${from}:30183/`, 3, from)).toEqual(['web-b', 'web-b', 'web-b']);
    // web-b's own pod stands for any pod of the node: its source is in the pod CIDR.
    const fromPod = await agent.exec('main', ['timeout', '3', 'wget', '-qO-', 'http://10.244.0.1:30183/']);
    expect(fromPod.output.trim()).toBe('web-b');
  });

  test('hairpin: a pod reaches itself through its own Service', async () => {
    const agent = await startAgent({ proxy: mode, manifests: { 'web.yaml': replica('web-a'), 'svc.yaml': webService } });
    await agent.waitForPod('web-a', 'Ready', isReady);
    const ip = await clusterIP(agent, 'web');
    await waitFor('the ClusterIP answering', () => fetchOnce(`http://${ip}/`));
    const self = await agent.exec('main', ['timeout', '3', 'wget', '-qO-', `http://${ip}:80/`]);
    expect(self.output.trim()).toBe('web-a');
  });

  test("the proxy's HTTP API: /healthz, /metrics and the service proxy to a Service's HTTP port", async () => {
    const agent = await startAgent({ proxy: mode, manifests: { 'web.yaml': replica('web-a'), 'svc.yaml': webService } });
    await agent.waitForPod('web-a', 'Ready', isReady);
    const base = agent.proxy!.listening!;
    await clusterIP(agent, 'web');
    await waitFor('the service proxy answering from the pod', async () => (await fetchOnce(`${base}/proxy/namespaces/default/services/web:http/`)) === 'web-a');
    expect(JSON.parse(await fetchOnce(`${base}/healthz`))).toHaveProperty('lastUpdated');
    expect(await fetchOnce(`${base}/metrics`)).toMatch(/^kubeproxy_sync_proxy_rules_duration_seconds_count \d+$/m);
  });

  test('cleanup removes every rule, chain and address the proxy made', async () => {
    const nodePort = service('web-np', '  type: NodePort\n  selector: {app: web}\n  ports: [{name: http, port: 80, targetPort: http, nodePort: 30181}]\n');
    const agent = await startAgent({ proxy: mode, manifests: { 'web.yaml': replica('web-a'), 'svc.yaml': nodePort } });
    await agent.waitForPod('web-a', 'Ready', isReady);
    await waitFor('the NodePort answering', () => fetchOnce('http://127.0.0.1:30181/'));
    await agent.proxy!.stop();
    await makeProxier(mode, { serviceCIDR: ServiceCIDR, podCIDR: PodCIDR, stateDir: `${agent.rootDir}/../proxy` }, agent.log.logger).cleanup();
    const rules = (await run('iptables-save')).stdout;
    expect(rules.split('\n').filter((line) => /DOCKERLET-/.test(line) && !/DOCKERLET-SERVICE-GUARD/.test(line))).toEqual([]);
    expect((await run('ip', ['-4', '-o', 'addr', 'show', 'dev', 'lo'])).stdout).not.toMatch(/ 10\.96\./);
    expect(['ECONNREFUSED', 'ECONNRESET']).toContain(await failureOf('http://127.0.0.1:30181/'));
  });
});

describe('the userspace datapath', () => {
  // The iptables datapath does the same, but Docker's isolation rules drop what it would forward from Docker's default bridge to the pods' (iptables-netns.test.ts has its outside clients).
  test("a NodePort of externalTrafficPolicy Local gives a client outside the node this node's endpoints only, and refuses it when there is none", async () => {
    const agent = await startAgent({ manifests: { 'a.yaml': replica('web-a'), 'b.yaml': replica('web-b') } });
    await agent.waitForPod('web-a', 'Ready', isReady);
    await agent.waitForPod('web-b', 'Ready', isReady);
    const { serve } = await localNodePort(agent, 'userspace', 30184);
    const outside = await outsideClient();
    const url = `http://${outside.host}:30184/`;
    await serve([endpointOf(agent, 'web-a', true), endpointOf(agent, 'web-b', false)]);
    const names = new Set<string>();
    for (let i = 0; i < 6; i++) names.add((await outside.get(url)).output.trim());
    expect([...names]).toEqual(['web-a']);
    expect(new Set(await answers('http://127.0.0.1:30184/', 6))).toEqual(new Set(['web-a', 'web-b']));
    await serve([endpointOf(agent, 'web-b', false)]);
    expect((await outside.get(url)).exitCode).not.toBe(0);
    expect(await fetchOnce('http://127.0.0.1:30184/')).toBe('web-b');
  });
});

test('the host guard refuses an address in the service CIDR that no rule rewrote, at once', async () => {
  expect(['ECONNREFUSED', 'ECONNRESET']).toContain(await failureOf('http://10.96.250.250:80/'));
});
