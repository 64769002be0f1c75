/**
 * 7. Cluster DNS: dockerlet's DNS server asked from inside a pod for a Service
 * (web.default.svc.cluster.local at the pod bridge's gateway, 10.244.0.1:53), against Docker's
 * embedded DNS asked from a container on a user-defined network for another container's name
 * (127.0.0.11). The same load script runs in both clients with the same node image: query latency
 * one at a time, and queries per second with a fixed number in flight. Each round measures both
 * in turn, starting from the other one each round. Only those two servers are asked, only for
 * those names: the Docker network is internal and dockerlet's resolv.conf names no nameserver,
 * so neither forwards anything off the machine.
 */
import { BusyboxImage, docker, NodeImage } from '../../helpers/docker.js';
import type { Benchmark, BenchContext } from '../harness/context.js';
import { size } from '../harness/context.js';
import { addressesOf, dnsLoad, type DnsLoadOptions, type DnsLoadResult } from '../harness/dns-load.js';
import { DockerletUnderTest } from '../harness/dockerlet-process.js';
import { httpdPod, podManifest, serviceManifest, untilTerm, yamlDocuments, type BenchPod } from '../harness/pods.js';
import type { Row } from '../harness/report.js';
import { ratio, summarize } from '../harness/stats.js';

const Servers = ['dockerlet', 'Docker embedded DNS'] as const;
type ServerName = (typeof Servers)[number];

/** Queries outstanding at once in the throughput batch. */
const InFlight = 50;
const TimeoutMs = 1_000;
/** Failed queries that make a round worthless (a server that drops them is not measured by its speed). */
const MaxFailedShare = 0.01;

/** Where a client asks what, and the address the answer must carry. */
interface Side {
  client: string;
  server: string;
  name: string;
  expected: string;
}

const sleeper = { image: NodeImage, command: untilTerm('sleep 3600') };

/** The Service `web` in front of a busybox httpd, and a client pod with node that sleeps; the client's container and the ClusterIP. */
async function clusterSide(subject: DockerletUnderTest): Promise<Side> {
  const selector = { app: 'dns-web' };
  const client: BenchPod = { name: 'dns-client', containers: [{ name: 'client', ...sleeper }] };
  const written = await subject.writeManifests(
    new Map([
      ['dns.yaml', yamlDocuments([podManifest(httpdPod('dns-web', { labels: selector })), podManifest(client), serviceManifest('web', selector, [{ name: 'http', port: 80, targetPort: 8080 }])])],
    ]),
  );
  await subject.waitForPods(['dns-web', 'dns-client'], (line) => line.ready, written, 120_000);
  const service = await subject.until('the Service line of web', () => subject.serviceLines.find((line) => line.service === 'web (http)'), 30_000);
  const labels = [`dockerlet.io/node=${subject.nodeName}`, `io.kubernetes.pod.name=${subject.fullName('dns-client')}`, 'io.kubernetes.container.name=client'];
  const [container] = await docker.listContainers({ filters: { label: labels } });
  if (!container) throw new Error(`no running client container of ${subject.fullName('dns-client')}`);
  return { client: container.Id, server: '10.244.0.1', name: 'web.default.svc.cluster.local', expected: service.clusterIP };
}

/** A user-defined network of the run with a busybox target and a client with node on it; the client and the target's address. */
async function dockerSide(context: BenchContext, network: string): Promise<Side> {
  const target = `bench-dns-target-${context.runId}`;
  await context.docker.createNetwork(network);
  const targetId = await context.docker.startContainer(target, { image: BusyboxImage, command: untilTerm('sleep 3600') }, network);
  const client = await context.docker.startContainer(`bench-dns-client-${context.runId}`, sleeper, network);
  const address = (await docker.getContainer(targetId).inspect()).NetworkSettings.Networks[network]?.IPAddress;
  if (!address) throw new Error(`${target} has no address on ${network}`);
  return { client, server: '127.0.0.11', name: target, expected: address };
}

/** One run of the load script against one side; checks the answer and the failures. */
async function measure(side: Side, load: Omit<DnsLoadOptions, 'server' | 'port' | 'name'>, what: ServerName): Promise<DnsLoadResult> {
  const result = await dnsLoad(side.client, { ...load, server: side.server, port: 53, name: side.name });
  const answered = addressesOf(result.sample);
  if (!answered.includes(side.expected)) throw new Error(`${what} answered ${side.name} with ${answered.join(', ') || 'no address'}, not ${side.expected}`);
  const failed = Object.values(result.failures).reduce((sum, n) => sum + n, 0);
  if (failed > MaxFailedShare * (load.warmUp + load.sequential + load.total)) {
    throw new Error(`${what}: ${failed} queries for ${side.name} failed (${JSON.stringify(result.failures)})`);
  }
  return result;
}

export const clusterDns: Benchmark = {
  id: 'cluster-dns',
  title: "7. Cluster DNS: from a pod, against Docker's embedded DNS",
  async run(context) {
    const rounds = size(context, 3, 1);
    const load = { warmUp: size(context, 200, 5), sequential: size(context, 5000, 30), total: size(context, 50_000, 60), inFlight: InFlight, timeoutMs: TimeoutMs, readyMs: 30_000 };
    const latency: Record<ServerName, number[]> = { dockerlet: [], 'Docker embedded DNS': [] };
    const rate: Record<ServerName, number[]> = { dockerlet: [], 'Docker embedded DNS': [] };
    const failures: Record<ServerName, number> = { dockerlet: 0, 'Docker embedded DNS': 0 };
    const network = `bench-dns-${context.runId}`;
    const subject = await DockerletUnderTest.start();
    try {
      const sides: Record<ServerName, Side> = { dockerlet: await clusterSide(subject), 'Docker embedded DNS': await dockerSide(context, network) };
      for (let round = 0; round < rounds; round++) {
        for (const server of [...Servers.slice(round % Servers.length), ...Servers.slice(0, round % Servers.length)]) {
          context.progress(`cluster-dns: round ${round + 1} of ${rounds}, ${server}`);
          const result = await measure(sides[server], load, server);
          latency[server].push(...result.latencyUs);
          rate[server].push(result.qps);
          failures[server] += Object.values(result.failures).reduce((sum, n) => sum + n, 0);
        }
      }
    } finally {
      await context.docker.removeAll();
      await subject.stop();
    }
    const stat = (series: Record<ServerName, number[]>) => Object.fromEntries(Servers.map((s) => [s, summarize(series[s])]));
    const vsDocker = (series: Record<ServerName, number[]>) => ({ 'dockerlet / Docker': ratio(summarize(series.dockerlet), summarize(series['Docker embedded DNS'])) });
    const rows: Row[] = [
      { metric: 'query latency, one at a time', unit: 'µs', values: stat(latency), ratios: vsDocker(latency) },
      { metric: `queries per second, ${InFlight} in flight`, unit: 'queries/s', values: stat(rate), ratios: vsDocker(rate) },
    ];
    return {
      id: this.id,
      title: this.title,
      columns: [...Servers],
      rows,
      targets: [],
      notes: [
        `${rounds} round(s); each asks every server in turn, starting from another one each round: ${load.warmUp} untimed queries, ${load.sequential} timed one at a time, then ${load.total} with ${InFlight} in flight. Type A over UDP from one socket in the client's container (node, the same script for both); an answer counts with its ID, NOERROR and an address.`,
        `dockerlet: web.default.svc.cluster.local (a ClusterIP Service) asked of 10.244.0.1:53 from a ClusterFirst pod. Docker: a container's name asked of 127.0.0.11 from a container on the same internal user-defined network.`,
        `Queries failed or unanswered within ${TimeoutMs} ms: dockerlet ${failures.dockerlet}, Docker ${failures['Docker embedded DNS']}. Client, servers and the agent share the machine's cores.`,
      ],
    };
  },
};
