/**
 * Three dockerlet nodes on this machine as three hosts (test/helpers/multi-node.ts: a network
 * namespace, a Docker engine and a `dockerlet up` each, on a bridge of the test's), joined to one
 * real control plane whose controller manager allocates each Node's pod subnet: the pod network
 * across nodes, with real kubectl and busybox pods. Each pod serves a CGI that answers with its
 * name and the address the request came from, so a test sees who answered and whether the
 * client's address was rewritten. Runs in the network group: every node runs a service proxy.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { errorMessage } from '../../common/api/errors.js';
import { cidrContains, parseIpv4Cidr } from '../../common/util/ipv4.js';
import { ControlPlane } from '../helpers/control-plane.js';
import { ClusterCIDR, HostAddress, MultiNodeLab, NodeCIDRMaskSize, tearDownLab, type LabNode, type NodeObject } from '../helpers/multi-node.js';
import { waitFor } from '../helpers/wait-for.js';

const NodeCount = 3;
const Image = 'dockerlet.local/busybox:1.35';
/** The controller manager's grace period for a silent node: room for a busy two-core machine. */
const NodeMonitorGraceSeconds = 20;
/** How long the failover test's pods stay on a node gone not-ready or unreachable. */
const EvictionTolerationSeconds = 10;

let lab: MultiNodeLab;
let plane: ControlPlane | undefined;

beforeAll(async () => {
  lab = await MultiNodeLab.create(NodeCount);
  try {
    plane = await ControlPlane.start({
      address: HostAddress,
      scheduler: true,
      nodeMonitorGracePeriodSeconds: NodeMonitorGraceSeconds,
      allocateNodeCIDRs: { clusterCIDR: ClusterCIDR, nodeCIDRMaskSize: NodeCIDRMaskSize },
    });
    await lab.startNodes(plane);
  } catch (err) {
    // The start's failure is the one to see; one of the cleanup after it is only reported.
    await tearDownLab(lab, plane, err);
    throw err;
  }
}, 900_000);

// A node's agent that died under a test is that test's failure, with the agent's last words.
afterEach(async () => {
  const crashes = await lab.takeCrashes();
  if (crashes.length > 0) throw new Error(crashes.join('\n\n'));
});

afterAll(() => tearDownLab(lab, plane), 120_000);

const kubectl = (...args: string[]): Promise<string> => plane!.kubectl(...args);

async function apply(object: unknown): Promise<void> {
  const result = await plane!.kubectlResult(['apply', '-f', '-'], { input: JSON.stringify(object) });
  if (result.code !== 0) throw new Error(`kubectl apply failed: ${result.stderr}`);
}

/** busybox httpd on :8080 (IPv4, so that the client's address is a plain one) with /cgi-bin/who answering "<pod name> <client address>". */
const whoServer = {
  name: 'who',
  image: Image,
  imagePullPolicy: 'Never',
  ports: [{ containerPort: 8080 }],
  command: [
    'sh',
    '-c',
    [
      'mkdir -p /www/cgi-bin',
      // CRLF after the header: fetch (undici) refuses a bare LF there.
      `printf '%s\\n' '#!/bin/sh' 'printf "Content-Type: text/plain\\r\\n\\r\\n"' 'echo "$(hostname) $REMOTE_ADDR"' > /www/cgi-bin/who`,
      'chmod +x /www/cgi-bin/who',
      'exec httpd -f -p 0.0.0.0:8080 -h /www',
    ].join(' && '),
  ],
  readinessProbe: { httpGet: { path: '/cgi-bin/who', port: 8080 }, periodSeconds: 1 },
};

/** The pod `echo-<i>`, on node i. The ones on nodes 0 and 1 are the `backend` Service's. */
function echoPod(node: LabNode): unknown {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: `echo-${node.index}`, labels: { role: 'echo', ...(node.index < 2 ? { backend: 'true' } : {}) } },
    spec: { nodeSelector: { 'kubernetes.io/hostname': node.name }, terminationGracePeriodSeconds: 1, containers: [whoServer] },
  };
}

interface PodObject {
  metadata: { name: string; uid: string; deletionTimestamp?: string; labels?: Record<string, string> };
  spec: { nodeName?: string };
  status: { phase?: string; podIP?: string; conditions?: Array<{ type: string; status: string }> };
}

async function pods(selector: string): Promise<PodObject[]> {
  return (JSON.parse(await kubectl('get', 'pods', '-l', selector, '-o', 'json')) as { items: PodObject[] }).items;
}

const isReady = (pod: PodObject): boolean => !pod.metadata.deletionTimestamp && pod.status.phase === 'Running' && (pod.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');

/**
 * GET http://<address>:<port>/cgi-bin/who from inside `pod` (kubectl exec, with nc: this
 * busybox's wget dies of SIGSEGV); resolves with the body, trimmed.
 */
async function whoFrom(pod: string, address: string, port: number): Promise<string> {
  const request = `printf 'GET /cgi-bin/who HTTP/1.0\r\n\r\n' | nc -w 3 ${address} ${port}`;
  const result = await plane!.kubectlResult(['exec', pod, '--', 'sh', '-c', request]);
  const [head, body] = result.stdout.split(/\r?\n\r?\n/, 2);
  if (result.code !== 0 || !head?.startsWith('HTTP/1.') || !head.includes(' 200 ')) throw new Error(`GET http://${address}:${port}/cgi-bin/who in ${pod}: exit ${result.code}: ${result.stdout.trim()} ${result.stderr.trim()}`);
  return (body ?? '').trim();
}

/** A pod as a failure message shows it: name@node phase, ready or not, deleting. */
const describePod = (pod: PodObject): string =>
  `${pod.metadata.name}@${pod.spec.nodeName ?? '(unscheduled)'} ${pod.status.phase ?? '-'}${isReady(pod) ? ' ready' : ''}${pod.metadata.deletionTimestamp ? ' deleting' : ''}`;

/** Each node's Ready status and taints, as a failure message shows them. */
async function describeNodes(): Promise<string> {
  const nodes = JSON.parse(await kubectl('get', 'nodes', '-o', 'json')) as { items: NodeObject[] };
  return nodes.items
    .map((node) => `${node.metadata?.name} Ready=${node.status?.conditions?.find((c) => c.type === 'Ready')?.status ?? '-'} [${(node.spec?.taints ?? []).map((t) => `${t.key}:${t.effect}`).join(' ')}]`)
    .join(', ');
}

/** What the failover's actors said: the events, the controller manager, the scheduler and the node the replacement was meant for. */
async function failoverLogs(node: LabNode): Promise<string> {
  const events = await kubectl('get', 'events', '--sort-by', '.lastTimestamp').catch((err: unknown) => errorMessage(err));
  return [
    `--- events ---\n${events}`,
    `--- kube-controller-manager ---\n${await plane!.logTail('kube-controller-manager', 40)}`,
    `--- kube-scheduler ---\n${await plane!.logTail('kube-scheduler', 20)}`,
    `--- ${node.name} ---\n${await lab.logTail(node, 40)}`,
  ].join('\n');
}

const inCidr = (address: string, cidr: string): boolean => cidrContains(parseIpv4Cidr(cidr)!, address);

/** Each node's spec.podCIDR, by node name. */
const podCIDRs = new Map<string, string>();
/** Each echo pod's IP, by pod name. */
const echoIPs = new Map<string, string>();

describe.sequential('three dockerlet nodes, each in a network namespace of its own, as one cluster', () => {
  test('every Node gets a pod subnet of its own and goes Ready, and its pods get addresses in it', async () => {
    for (const node of lab.nodes) {
      const object = (await lab.nodeObject(node))!;
      const cidr = object.spec?.podCIDR;
      expect(cidr, `${node.name}'s spec.podCIDR`).toMatch(/^10\.244\.\d+\.0\/24$/);
      expect(object.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
      expect(object.status?.addresses).toContainEqual({ type: 'InternalIP', address: node.ip });
      podCIDRs.set(node.name, cidr!);
    }
    expect(new Set(podCIDRs.values()).size).toBe(NodeCount);

    for (const node of lab.nodes) await apply(echoPod(node));
    const running = await waitFor('the echo pods Ready, one on each node', async () => {
      const list = await pods('role=echo');
      return list.length === NodeCount && list.every(isReady) ? list : undefined;
    }, { timeoutMs: 120_000, intervalMs: 500 });
    for (const pod of running) {
      const node = lab.nodes.find((n) => n.name === pod.spec.nodeName)!;
      expect(pod.metadata.name).toBe(`echo-${node.index}`);
      expect(inCidr(pod.status.podIP!, podCIDRs.get(node.name)!), `${pod.metadata.name} ${pod.status.podIP} in ${podCIDRs.get(node.name)}`).toBe(true);
      echoIPs.set(pod.metadata.name, pod.status.podIP!);
      // The node's pod bridge is on the subnet its Node has.
      const networks = await node.engine!.client.listNetworks({ filters: { label: ['dockerlet.io/network=pods'] } });
      expect(networks.map((n) => n.IPAM?.Config?.[0]?.Subnet)).toEqual([podCIDRs.get(node.name)]);
    }
  }, 240_000);

  test("each node routes the other nodes' pod subnets via their addresses (proto 209), and not its own", async () => {
    for (const node of lab.nodes) {
      const expected = lab.nodes.filter((other) => other !== node).map((other) => `${podCIDRs.get(other.name)} via ${other.ip} dev eth0`);
      const routes = await waitFor(`node ${node.name}'s routes to the other nodes' pod subnets`, async () => {
        const lines = await lab.nodeRoutes(node);
        return expected.every((route) => lines.some((line) => line.startsWith(route))) ? lines : undefined;
      }, { timeoutMs: 60_000, intervalMs: 500 });
      expect(routes.filter((line) => line.startsWith(`${podCIDRs.get(node.name)} `))).toEqual([]);
    }
  }, 200_000); // three waits of 60 s

  test('a pod on one node reaches a pod on another by its pod IP, both ways, and the server sees the client pod IP', async () => {
    const answers: Array<{ from: string; to: string; answer: string }> = [];
    for (const client of lab.nodes) {
      for (const server of lab.nodes) {
        if (client === server) continue;
        const [from, to] = [`echo-${client.index}`, `echo-${server.index}`];
        const answer = await waitFor(`${from} (node ${client.name}) to reach ${to} (node ${server.name})`, () => whoFrom(from, echoIPs.get(to)!, 8080), { timeoutMs: 30_000, intervalMs: 500 });
        expect(answer.split(' ')[0], `${from} -> ${to}`).toBe(to);
        answers.push({ from, to, answer });
      }
    }
    // No NAT inside the pod network: each server saw its client's own pod IP.
    expect(answers.map(({ from, to, answer }) => `${from} -> ${to}: ${answer}`)).toEqual(answers.map(({ from, to }) => `${from} -> ${to}: ${to} ${echoIPs.get(from)}`));
  }, 240_000);

  test("a ClusterIP Service with endpoints on two nodes answers a pod on the third from both; its NodePort answers on every node's address", async () => {
    await apply({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'backend' },
      spec: { type: 'NodePort', selector: { backend: 'true' }, ports: [{ port: 80, targetPort: 8080 }] },
    });
    const [clusterIP, nodePort] = (await kubectl('get', 'service', 'backend', '-o', 'jsonpath={.spec.clusterIP} {.spec.ports[0].nodePort}')).split(' ') as [string, string];
    const client = lab.nodes[2]!;
    const clientPod = `echo-${client.index}`;
    const seen = new Map<string, string>();
    await waitFor(`${clientPod} on node ${client.name} to be answered by both backends through ${clusterIP}`, async () => {
      const answer = await whoFrom(clientPod, clusterIP, 80);
      seen.set(answer.split(' ')[0]!, answer);
      return seen.has('echo-0') && seen.has('echo-1');
    }, { timeoutMs: 60_000, intervalMs: 200 });
    expect([...seen.keys()].sort()).toEqual(['echo-0', 'echo-1']);

    for (const node of lab.nodes) {
      const url = `http://${node.ip}:${nodePort}/cgi-bin/who`;
      const answer = await waitFor(`NodePort ${nodePort} on node ${node.name} to answer the host`, async () => {
        const response = await fetch(url, { headers: { connection: 'close' }, signal: AbortSignal.timeout(3_000) });
        return response.ok ? (await response.text()).trim() : undefined;
      }, { timeoutMs: 60_000, intervalMs: 500 });
      expect(answer).toMatch(/^echo-[01] \S+$/);
    }

    console.log(
      `kubectl get nodes,pods -o wide:\n${await kubectl('get', 'nodes,pods', '-o', 'wide')}\n` +
        `GET http://${clusterIP}/cgi-bin/who from ${clientPod} (${echoIPs.get(clientPod)}, node ${client.name}), Service backends on ${lab.nodes[0]!.name} and ${lab.nodes[1]!.name}: ${[...seen.values()].join(' | ')}`,
    );
    // The service rule rewrote the destination only: the backend saw the client pod's own IP.
    expect([...seen.values()]).toEqual([...seen.values()].map((answer) => `${answer.split(' ')[0]} ${echoIPs.get(clientPod)}`));
  }, 300_000); // four waits of 60 s

  test('a node fails: its Deployment pods are made again on the other nodes, the endpoints follow, and once back it removes the pods deleted meanwhile', async () => {
    const tolerations = ['node.kubernetes.io/not-ready', 'node.kubernetes.io/unreachable'].map((key) => ({ key, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: EvictionTolerationSeconds }));
    await apply({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'resilient' },
      spec: {
        replicas: 2,
        selector: { matchLabels: { app: 'resilient' } },
        template: {
          metadata: { labels: { app: 'resilient' } },
          spec: {
            terminationGracePeriodSeconds: 1,
            tolerations,
            // One per node, so that the pods of the failed node must go to the one left without.
            affinity: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: { app: 'resilient' } }, topologyKey: 'kubernetes.io/hostname' }] } },
            containers: [whoServer],
          },
        },
      },
    });
    await apply({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'resilient' }, spec: { selector: { app: 'resilient' }, ports: [{ port: 80, targetPort: 8080 }] } });
    const endpointIPs = async (): Promise<string[]> => (await kubectl('get', 'endpoints', 'resilient', '-o', 'jsonpath={.subsets[*].addresses[*].ip}')).split(' ').filter(Boolean).sort();
    const before = await waitFor('the two replicas Ready and in the endpoints', async () => {
      const list = (await pods('app=resilient')).filter(isReady);
      const ips = list.map((pod) => pod.status.podIP!).sort();
      return list.length === 2 && JSON.stringify(await endpointIPs()) === JSON.stringify(ips) ? list : undefined;
    }, { timeoutMs: 120_000, intervalMs: 500 });

    const lost = before[0]!;
    const victim = lab.nodes.find((node) => node.name === lost.spec.nodeName)!;
    const survivor = before[1]!;
    // Anti-affinity leaves one node without a replica: the replacement's only place.
    const third = lab.nodes.find((node) => !before.some((pod) => pod.spec.nodeName === node.name))!;
    await lab.stop(victim);
    await waitFor(`node ${victim.name} to be NotReady or Unknown`, async () => (await lab.nodeObject(victim))?.status?.conditions?.find((c) => c.type === 'Ready')?.status !== 'True', { timeoutMs: 60_000, intervalMs: 500 });
    let seen = '';
    const after = await waitFor(`a new replica Ready off ${victim.name}, and the endpoints on the two`, async () => {
      const all = await pods('app=resilient');
      const list = all.filter((pod) => isReady(pod) && pod.spec.nodeName !== victim.name);
      const ips = list.map((pod) => pod.status.podIP!).sort();
      const endpoints = await endpointIPs();
      seen = `pods ${all.map(describePod).join(', ')}; endpoints [${endpoints.join(' ')}]`;
      return list.length === 2 && JSON.stringify(endpoints) === JSON.stringify(ips) ? list : undefined;
    }, { timeoutMs: 120_000, intervalMs: 500 }).catch(async (err: unknown) => {
      throw new Error(`${errorMessage(err)}\nlast seen: ${seen}; nodes ${await describeNodes().catch(errorMessage)}\n${await failoverLogs(third)}`);
    });
    const replacement = after.find((pod) => pod.metadata.uid !== survivor.metadata.uid)!;
    expect(replacement.spec.nodeName).toBe(third.name);
    expect(inCidr(replacement.status.podIP!, podCIDRs.get(third.name)!)).toBe(true);
    // The Service answers from the replacement, from a pod on a node that did not fail.
    const clusterIP = await kubectl('get', 'service', 'resilient', '-o', 'jsonpath={.spec.clusterIP}');
    const client = lab.nodes.find((node) => node !== victim)!;
    await waitFor(`the Service to answer from ${replacement.metadata.name}`, async () => (await whoFrom(`echo-${client.index}`, clusterIP, 80)).startsWith(`${replacement.metadata.name} `), { timeoutMs: 60_000, intervalMs: 200 });

    // Back: the agent finds the lost pod deleted (or being deleted) and removes its containers.
    await lab.start(victim);
    await waitFor(`the lost pod ${lost.metadata.name} gone from the API server and its containers from ${victim.name}'s engine`, async () => {
      const gone = (await pods('app=resilient')).every((pod) => pod.metadata.uid !== lost.metadata.uid);
      const containers = await victim.engine!.client.listContainers({ all: true, filters: { label: [`io.kubernetes.pod.uid=${lost.metadata.uid}`] } });
      return gone && containers.length === 0;
    }, { timeoutMs: 90_000, intervalMs: 500 });
    // Its waits: 120 + 60 + 120 + 60 s, the agent's start (up to 90 s for Ready) and 90 s: 540 s.
  }, 600_000);

  test("a node deleted from the cluster loses its routes on the others", async () => {
    // Every agent runs, whatever an earlier test's failure left stopped.
    for (const node of lab.nodes) if (!node.agent) await lab.start(node);
    const leaving = lab.nodes[2]!;
    const cidr = podCIDRs.get(leaving.name)!;
    const others = lab.nodes.filter((node) => node !== leaving);
    for (const node of others) expect((await lab.nodeRoutes(node)).some((line) => line.startsWith(`${cidr} via ${leaving.ip} `))).toBe(true);
    await lab.stop(leaving);
    await kubectl('delete', 'node', leaving.name);
    for (const node of others) {
      await waitFor(`node ${node.name}'s route to ${cidr} to go`, async () => !(await lab.nodeRoutes(node)).some((line) => line.startsWith(`${cidr} `)), { timeoutMs: 60_000, intervalMs: 500 });
    }
    // The other nodes keep each other's.
    expect((await lab.nodeRoutes(others[0]!)).some((line) => line.startsWith(`${podCIDRs.get(others[1]!.name)} via ${others[1]!.ip} `))).toBe(true);
  }, 300_000); // a start left to do (up to 90 s) and two waits of 60 s
});
