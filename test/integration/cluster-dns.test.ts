/**
 * The cluster DNS on the real Docker engine, asked from inside pods with busybox's nslookup (and
 * its getaddrinfo, through wget, for the search path; nc for TCP): Services with a ClusterIP,
 * headless ones and their pods' hostnames, SRV, PTR, ExternalName, pod names, NXDOMAIN, names
 * forwarded to a resolver this test runs on 127.0.0.1 (no query leaves the machine), Services
 * coming and going while pods run, and the resolv.conf of each dnsPolicy. The DNS server listens
 * on the pod bridge's gateway, port 53, as `dockerlet up` runs it, and at a ClusterIP each datapath
 * routes to it: one proxy, and so one DNS server, per host, which is why this file is in the
 * network project.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as dnsPacket from 'dns-packet';
import { describe, expect, onTestFinished, test } from 'vitest';
import type { Pod } from '../../common/api/types.js';
import type { ProxyMode } from '../../proxy/datapath/proxier.js';
import { frame } from '../../proxy/dns/dns-transport.js';
import { ClusterDnsAddress, isReady, startAgent, type AgentHarness } from '../helpers/agent-harness.js';
import { dockerExec } from '../helpers/docker.js';
import { startFakeUpstream, type FakeUpstream } from '../helpers/dns-upstream.js';
import { waitFor } from '../helpers/wait-for.js';

const Image = 'dockerlet.local/busybox:1.35';

function pod(name: string, options: { namespace?: string; labels?: Record<string, string>; spec?: string; script?: string } = {}): string {
  return `apiVersion: v1
kind: Pod
metadata:
  name: ${name}
  namespace: ${options.namespace ?? 'default'}
  labels: ${JSON.stringify(options.labels ?? {})}
spec:
  terminationGracePeriodSeconds: 1
${options.spec ?? ''}  containers:
    - name: main
      image: ${Image}
      command: ["sh", "-c", ${JSON.stringify(options.script ?? 'exec sleep 3600')}]
      ports: [{name: http, containerPort: 8080}]
`;
}

const webPod = pod('web', { labels: { app: 'web' }, script: 'mkdir -p /www && echo web > /www/index.html && exec httpd -f -p 8080 -h /www' });
const dbPod = pod('db', { labels: { app: 'db' }, spec: '  hostname: db-0\n  subdomain: db\n' });

function service(name: string, spec: string): string {
  return `apiVersion: v1\nkind: Service\nmetadata: {name: ${name}, namespace: default}\nspec:\n${spec}`;
}

const services = {
  'web-svc.yaml': service('web', '  selector: {app: web}\n  ports: [{name: http, port: 80, targetPort: http}]\n'),
  'db-svc.yaml': service('db', '  clusterIP: None\n  selector: {app: db}\n  ports: [{name: pg, port: 5432}]\n'),
  'mail-svc.yaml': service('mail', '  type: ExternalName\n  externalName: mail.example.test\n'),
};

/** The node's resolv.conf: its nameserver is a loopback one, as no pod may reach; its search domain is kept for ClusterFirst pods. */
const HostResolvConf = 'nameserver 127.0.0.1\nsearch corp.test\n';

interface DnsNode {
  agent: AgentHarness;
  upstream: FakeUpstream;
}

async function startDnsNode(manifests: Record<string, string>, options: { mode?: ProxyMode; serviceIP?: string } = {}): Promise<DnsNode> {
  const upstream = await startFakeUpstream({ 'example.test': ['192.0.2.10'], 'mail.example.test': ['192.0.2.25'] });
  onTestFinished(() => upstream.close());
  const dir = await mkdtemp(join(tmpdir(), 'dockerlet-dns-'));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'resolv.conf'), HostResolvConf);
  const clusterDns = { upstream, ...(options.serviceIP ? { serviceIP: options.serviceIP } : {}) };
  const agent = await startAgent({ proxy: options.mode ?? 'iptables', clusterDns, options: { resolvConf: join(dir, 'resolv.conf') }, manifests });
  return { agent, upstream };
}

/** Runs `command` in the main container of the static pod `name`. */
async function execIn(agent: AgentHarness, name: string, command: string[]): Promise<string> {
  const podName = `${name}-${agent.nodeName}`;
  const container = (await agent.containers('main')).find((c) => c.State === 'running' && c.Labels['io.kubernetes.pod.name'] === podName);
  if (!container) throw new Error(`no running container of pod ${podName}`);
  return (await dockerExec(container.Id, command)).output;
}

/** busybox nslookup's output for `name` (A and AAAA; of `type` when given; for an address, its PTR). */
async function nslookup(agent: AgentHarness, from: string, name: string, type?: string): Promise<string> {
  return execIn(agent, from, ['nslookup', ...(type ? [`-type=${type}`] : []), name, ClusterDnsAddress]);
}

function addresses(output: string): string[] {
  return [...output.matchAll(/^Address: (\S+)$/gm)].map((match) => match[1]!);
}

function podIP(pod: Pod): string {
  return pod.status!.podIP!;
}

test('Services, headless Services, SRV, PTR, ExternalName and pod names answer from inside a pod; other names go to the upstream', async () => {
  const { agent, upstream } = await startDnsNode({ 'web.yaml': webPod, 'db.yaml': dbPod, 'client.yaml': pod('client', { namespace: 'other' }), ...services });
  const web = await agent.waitForPod('web', 'Ready', isReady);
  const db = await agent.waitForPod('db', 'Ready', isReady);
  await agent.waitForPod('client', 'Ready', isReady);
  const clusterIP = agent.proxy!.config.services().find((s) => s.metadata?.name === 'web')!.spec!.clusterIP!;

  const a = await nslookup(agent, 'client', 'web.default.svc.cluster.local');
  expect(a).toMatch(/Name:\s+web\.default\.svc\.cluster\.local/);
  expect(addresses(a)).toEqual([clusterIP]);
  expect(addresses(await nslookup(agent, 'client', 'db.default.svc.cluster.local'))).toEqual([podIP(db)]);
  expect(addresses(await nslookup(agent, 'client', 'db-0.db.default.svc.cluster.local'))).toEqual([podIP(db)]);
  expect(await nslookup(agent, 'client', '_http._tcp.web.default.svc.cluster.local', 'srv')).toMatch(/service = 0 100 80 web\.default\.svc\.cluster\.local/);
  expect(await nslookup(agent, 'client', '_pg._tcp.db.default.svc.cluster.local', 'srv')).toMatch(/service = 0 100 5432 db-0\.db\.default\.svc\.cluster\.local/);
  expect(await nslookup(agent, 'client', clusterIP)).toMatch(/name = web\.default\.svc\.cluster\.local/);
  expect(await nslookup(agent, 'client', podIP(db))).toMatch(/name = db-0\.db\.default\.svc\.cluster\.local/);
  const cname = await nslookup(agent, 'client', 'mail.default.svc.cluster.local');
  expect(cname).toMatch(/canonical name = mail\.example\.test/);
  expect(addresses(cname)).toEqual(['192.0.2.25']);
  const dashed = `${podIP(web).replaceAll('.', '-')}.default.pod.cluster.local`;
  expect(addresses(await nslookup(agent, 'client', dashed))).toEqual([podIP(web)]);
  expect(await nslookup(agent, 'client', 'nothere.default.svc.cluster.local')).toMatch(/can't find nothere\.default\.svc\.cluster\.local: NXDOMAIN/);

  const forwarded = await nslookup(agent, 'client', 'example.test');
  expect(addresses(forwarded)).toEqual(['192.0.2.10']);
  expect(forwarded).toMatch(/Non-authoritative answer/);
  expect(upstream.asked).toContain('example.test/A');
  // Cluster names never reach the upstream.
  expect(upstream.asked.filter((asked) => asked.includes('cluster.local'))).toEqual([]);

  // The search path, through the C library's resolver (ndots:5): a short name in the pod's namespace, then <name>.<namespace>.
  expect((await execIn(agent, 'web', ['timeout', '5', 'wget', '-qO-', 'http://web/'])).trim()).toBe('web');
  expect((await execIn(agent, 'client', ['timeout', '5', 'wget', '-qO-', 'http://web.default/'])).trim()).toBe('web');

  const metrics = await (await fetch(`${agent.proxy!.listening!}/metrics`)).text();
  expect(metrics).toMatch(/dockerlet_dns_queries_total\{type="A",rcode="NOERROR",source="cluster"\} [1-9]/);
  expect(metrics).toMatch(/dockerlet_dns_queries_total\{type="A",rcode="NOERROR",source="upstream"\} [1-9]/);
});

test('answers over TCP: a framed query sent with nc gets the whole answer', async () => {
  const { agent } = await startDnsNode({ 'client.yaml': pod('client'), ...services });
  await agent.waitForPod('client', 'Ready', isReady);
  const clusterIP = await waitFor('a ClusterIP for web', () => agent.proxy!.config.services().find((s) => s.metadata?.name === 'web')?.spec?.clusterIP);
  const query = frame(dnsPacket.encode({ type: 'query', id: 4242, flags: dnsPacket.RECURSION_DESIRED, questions: [{ name: 'web.default.svc.cluster.local', type: 'A', class: 'IN' }] }));
  const printf = [...query].map((byte) => `\\${byte.toString(8).padStart(3, '0')}`).join('');
  const hex = await execIn(agent, 'client', ['sh', '-c', `printf '${printf}' | nc -w 2 ${ClusterDnsAddress} 53 | od -An -v -tx1`]);
  const reply = Buffer.from(hex.replace(/\s+/g, ''), 'hex');
  expect(reply.readUInt16BE(0)).toBe(reply.length - 2);
  const decoded = dnsPacket.decode(reply.subarray(2));
  expect(decoded.id).toBe(4242);
  expect(decoded.answers?.map((answer) => (answer as { data: string }).data)).toEqual([clusterIP]);
});

test('a Service added while pods run resolves, and stops resolving once removed', async () => {
  const { agent } = await startDnsNode({ 'web.yaml': webPod, 'client.yaml': pod('client') });
  await agent.waitForPod('client', 'Ready', isReady);
  const name = 'late.default.svc.cluster.local';
  expect(await nslookup(agent, 'client', name)).toMatch(/NXDOMAIN/);
  await agent.writeManifest('late.yaml', service('late', '  selector: {app: web}\n  ports: [{port: 80, targetPort: 8080}]\n'));
  const clusterIP = await waitFor('a ClusterIP for late', () => agent.proxy!.config.services().find((s) => s.metadata?.name === 'late')?.spec?.clusterIP);
  await waitFor(`${name} to resolve`, async () => addresses(await nslookup(agent, 'client', name)).includes(clusterIP));
  await agent.removeManifest('late.yaml');
  await waitFor(`${name} to be gone`, async () => /NXDOMAIN/.test(await nslookup(agent, 'client', name)));
});

test('each dnsPolicy gets the kubelet\'s resolv.conf; a hostNetwork pod with ClusterFirstWithHostNet resolves Services too', async () => {
  const hostNet = (policy: string): string => `  hostNetwork: true\n  dnsPolicy: ${policy}\n`;
  const { agent } = await startDnsNode({
    'first.yaml': pod('first', { namespace: 'shop' }),
    'default.yaml': pod('dflt', { spec: '  dnsPolicy: Default\n' }),
    'none.yaml': pod('none', { spec: `  dnsPolicy: None\n  dnsConfig:\n    nameservers: [${ClusterDnsAddress}]\n    searches: [custom.test]\n    options: [{name: ndots, value: "2"}]\n` }),
    'hostnet.yaml': pod('hostnet', { spec: hostNet('ClusterFirstWithHostNet') }),
    'hostnet-default.yaml': pod('hostnet-first', { spec: hostNet('ClusterFirst') }),
    ...services,
  });
  for (const name of ['first', 'dflt', 'none', 'hostnet', 'hostnet-first']) await agent.waitForPod(name, 'Ready', isReady);
  const resolvConf = (name: string): Promise<string> => execIn(agent, name, ['cat', '/etc/resolv.conf']);
  expect(await resolvConf('first')).toBe(`nameserver ${ClusterDnsAddress}\nsearch shop.svc.cluster.local svc.cluster.local cluster.local corp.test\noptions ndots:5\n`);
  expect(await resolvConf('dflt')).toBe(HostResolvConf);
  expect(await resolvConf('none')).toBe(`nameserver ${ClusterDnsAddress}\nsearch custom.test\noptions ndots:2\n`);
  expect(await resolvConf('hostnet')).toBe(`nameserver ${ClusterDnsAddress}\nsearch default.svc.cluster.local svc.cluster.local cluster.local corp.test\noptions ndots:5\n`);
  expect(await resolvConf('hostnet-first')).toBe(HostResolvConf);
  const clusterIP = agent.proxy!.config.services().find((s) => s.metadata?.name === 'web')!.spec!.clusterIP!;
  expect(addresses(await execIn(agent, 'hostnet', ['nslookup', 'web.default.svc.cluster.local']))).toEqual([clusterIP]);
});

describe.each(['iptables', 'userspace'] as const)('the %s datapath', (mode) => {
  test('with --cluster-dns at a ClusterIP, pods ask kube-system/kube-dns there and the proxy takes them to the server', async () => {
    const serviceIP = '10.96.0.10';
    const { agent } = await startDnsNode({ 'web.yaml': webPod, 'client.yaml': pod('client'), ...services }, { mode, serviceIP });
    await agent.waitForPod('client', 'Ready', isReady);
    expect(await execIn(agent, 'client', ['cat', '/etc/resolv.conf'])).toMatch(new RegExp(`^nameserver ${serviceIP.replaceAll('.', '\\.')}$`, 'm'));
    const clusterIP = await waitFor('a ClusterIP for web', () => agent.proxy!.config.services().find((s) => s.metadata?.name === 'web')?.spec?.clusterIP);
    await agent.proxy!.synced();
    // The pod's own resolver, through the ClusterIP: by the full name, and by the search path.
    const answer = await execIn(agent, 'client', ['nslookup', 'web.default.svc.cluster.local']);
    expect(answer).toMatch(new RegExp(`Server:\\s+${serviceIP.replaceAll('.', '\\.')}`));
    expect(addresses(answer)).toEqual([clusterIP]);
    expect(addresses(await execIn(agent, 'client', ['nslookup', 'kube-dns.kube-system.svc.cluster.local']))).toEqual([serviceIP]);
    expect((await execIn(agent, 'client', ['timeout', '5', 'wget', '-qO-', 'http://web/'])).trim()).toBe('web');
  });
});
