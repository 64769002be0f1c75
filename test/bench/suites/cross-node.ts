/**
 * 11. The pod network across nodes: pod -> pod on another node against pod -> pod on the same
 * node. Two dockerlet nodes as two hosts (test/helpers/multi-node.ts: a network namespace, a Docker
 * engine and a `dockerlet up` each, on a bridge of the lab's) under one control plane whose
 * controller manager gives each Node its pod subnet; the nodes route each other's subnets.
 *
 *   node A: the server pod (iperf3 server, nc echo server) and the same-node client pod
 *   node B: the cross-node client pod
 *
 * The clients are busybox pods that sleep; the load generators (iperf3, and the harness's
 * ping-pong in a child process) run in each client pod's network namespace with nsenter, so both
 * paths are measured with the same client: same node, pod veth -> node A's pod bridge -> pod veth;
 * cross node, from node B: pod veth -> node B's pod bridge -> its eth0 (routed, no NAT) -> the
 * lab's bridge -> node A's eth0 -> its pod bridge -> pod veth, through both nodes' iptables. Each round measures both paths, the
 * order turning every round, so the ratio compares figures taken side by side. The whole lab is
 * on this machine: the figures are the kernel's cost of the extra hops, not a wire's.
 */
import { PodNameLabel } from '../../../common/api/well-known.js';
import { ControlPlane } from '../../helpers/control-plane.js';
import { BusyboxImage } from '../../helpers/docker.js';
import { ClusterCIDR, HostAddress, MultiNodeLab, NodeCIDRMaskSize, tearDownLab, type LabNode } from '../../helpers/multi-node.js';
import { waitFor } from '../../helpers/wait-for.js';
import type { Benchmark, BenchContext } from '../harness/context.js';
import { size } from '../harness/context.js';
import { iperf3, iperf3Image, pingPongIn } from '../harness/load.js';
import { podManifest, sleeperPod, untilTerm, type BenchPod } from '../harness/pods.js';
import { target, type Row } from '../harness/report.js';
import { ratio, summarize } from '../harness/stats.js';

const Paths = ['same node', 'cross node'] as const;
type PathName = (typeof Paths)[number];
const Versus = 'cross / same';
const IperfPort = 5201;
const EchoPort = 7000;

/** A client: the network namespace of its pod, entered to run the load generators. */
interface Client {
  pod: string;
  netns: string;
}

export const crossNode: Benchmark = {
  id: 'cross-node',
  title: '11. Pod network: pod -> pod across nodes against within a node',
  async run(context) {
    const seconds = size(context, 5, 1);
    const rounds = size(context, 5, 1);
    const pings = size(context, 5000, 200);
    const throughput: Record<PathName, number[]> = { 'same node': [], 'cross node': [] };
    const latency: Record<PathName, number[]> = { 'same node': [], 'cross node': [] };
    context.progress('cross-node: two nodes and a control plane');
    const image = await iperf3Image();
    const lab = await MultiNodeLab.create(2, { images: [image] });
    let plane: ControlPlane | undefined;
    let failure: unknown;
    try {
      // No scheduler: the pods name their nodes (spec.nodeName), one process fewer on the machine.
      plane = await ControlPlane.start({ address: HostAddress, allocateNodeCIDRs: { clusterCIDR: ClusterCIDR, nodeCIDRMaskSize: NodeCIDRMaskSize } });
      await lab.startNodes(plane);
      const { serverIP, clients } = await placePods(context, plane, lab, image);
      for (let round = 0; round < rounds; round++) {
        for (const path of round % 2 === 0 ? Paths : [...Paths].reverse()) {
          context.progress(`cross-node: round ${round + 1} of ${rounds}, ${path}`);
          const { netns } = clients[path];
          throughput[path].push(await iperf3(serverIP, IperfPort, seconds, netns));
          latency[path].push(...(await pingPongIn(netns, serverIP, EchoPort, pings)));
        }
      }
      const crashes = await lab.takeCrashes();
      if (crashes.length > 0) throw new Error(crashes.join('\n\n'));
    } catch (err) {
      failure = err;
      throw err;
    } finally {
      await tearDownLab(lab, plane, failure);
    }
    const stat = (series: Record<PathName, number[]>) => ({ 'same node': summarize(series['same node']), 'cross node': summarize(series['cross node']) });
    const [bulk, requests] = [stat(throughput), stat(latency)];
    const rows: Row[] = [
      { metric: 'pod -> pod bulk throughput (iperf3)', unit: 'MB/s', values: bulk, ratios: { [Versus]: ratio(bulk['cross node'], bulk['same node']) } },
      { metric: 'pod -> pod 64 B request/response on one connection', unit: 'µs', values: requests, ratios: { [Versus]: ratio(requests['cross node'], requests['same node']) } },
    ];
    return {
      id: this.id,
      title: this.title,
      columns: [...Paths],
      rows,
      targets: [target('cross-node throughput / same-node', ratio(bulk['cross node'], bulk['same node']), '>=', 0.5, 'x')],
      notes: [
        `${rounds} round(s); each round runs iperf3 for ${seconds} s and ${pings} ping-pongs from each client pod in turn, starting from the other path each round. The server pod and the same-node client are on one node, the cross-node client on the other; both nodes are network namespaces of this machine, so load generators, servers, both nodes' dockerd and agents and the control plane share its cores.`,
        'Cross node is routed by the nodes (each routes the other\'s pod subnet via its address, no NAT or tunnel) over veth pairs and the lab\'s bridge: the figure is the cost of those hops in the kernel, not of a network.',
        'The clients are busybox pods; iperf3 and the ping-pong (a Node process) run in their network namespaces with nsenter, the same client for both paths.',
      ],
    };
  },
};

/** The server pod and the same-node client on node A, the other client on node B; resolves once both clients reach the server. */
async function placePods(context: BenchContext, plane: ControlPlane, lab: MultiNodeLab, image: string): Promise<{ serverIP: string; clients: Record<PathName, Client> }> {
  const [a, b] = lab.nodes as [LabNode, LabNode];
  const server: BenchPod = {
    name: 'pod-server',
    containers: [
      { name: 'iperf', image, command: untilTerm(`iperf3 --server --port ${IperfPort}`) },
      { name: 'echo', image: BusyboxImage, command: untilTerm(`nc -ll -p ${EchoPort} -e cat`) },
    ],
  };
  const placed: Array<[BenchPod, LabNode]> = [
    [server, a],
    [sleeperPod('client-same-node'), a],
    [sleeperPod('client-cross-node'), b],
  ];
  context.progress('cross-node: the server and client pods');
  for (const [pod, node] of placed) {
    const manifest = podManifest(pod) as { spec: Record<string, unknown> };
    const object = { ...manifest, spec: { ...manifest.spec, nodeName: node.name, terminationGracePeriodSeconds: 1 } };
    const result = await plane.kubectlResult(['apply', '-f', '-'], { input: JSON.stringify(object) });
    if (result.code !== 0) throw new Error(`kubectl apply of ${pod.name} failed: ${result.stderr}`);
  }
  const ips = await waitFor('the server and client pods Running with their IPs', async () => {
    const { items } = JSON.parse(await plane.kubectl('get', 'pods', '-o', 'json')) as { items: Array<{ metadata: { name: string }; status: { phase?: string; podIP?: string } }> };
    const running = new Map(items.filter((pod) => pod.status.phase === 'Running' && pod.status.podIP).map((pod) => [pod.metadata.name, pod.status.podIP!]));
    return placed.every(([pod]) => running.has(pod.name)) ? running : undefined;
  }, { timeoutMs: 120_000, intervalMs: 500 });
  const serverIP = ips.get(server.name)!;
  const clients: Record<PathName, Client> = {
    'same node': await clientOf('client-same-node', a),
    'cross node': await clientOf('client-cross-node', b),
  };
  // Untimed: each client's first exchange and transfer, once the servers listen.
  for (const client of Object.values(clients)) {
    await waitFor(`the echo server answering ${client.pod}`, () => pingPongIn(client.netns, serverIP, EchoPort, 1, 0).then(() => true, () => false), { timeoutMs: 30_000, intervalMs: 200 });
    await waitFor(`the iperf3 server answering ${client.pod}`, () => iperf3(serverIP, IperfPort, 1, client.netns).then(() => true, () => false), { timeoutMs: 30_000, intervalMs: 200 });
  }
  return { serverIP, clients };
}

/** The pod's network namespace, by the pid of its container on the node's engine (the engine shares the host's pid namespace). */
async function clientOf(pod: string, node: LabNode): Promise<Client> {
  const client = node.engine!.client;
  const [container] = await client.listContainers({ filters: { label: [`${PodNameLabel}=${pod}`] } });
  if (!container) throw new Error(`no running container of pod ${pod} on node ${node.name}`);
  const pid = (await client.getContainer(container.Id).inspect()).State.Pid;
  return { pod, netns: `/proc/${pid}/ns/net` };
}
