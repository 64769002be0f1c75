/**
 * 6. Proxy datapaths: host -> ClusterIP and host -> NodePort (127.0.0.1) against host -> pod IP,
 * for the iptables and the userspace datapath. One pod serves iperf3, busybox httpd (a new
 * connection per request) and an nc echo server; a ClusterIP and a NodePort Service front it.
 * Each round measures every path in turn, so the ratios compare figures taken side by side; the
 * order turns each round, and each path starts with no tracked connections to the server left
 * from the one before (thousands of TIME_WAIT entries would tax whichever path came next).
 */
import { BusyboxImage } from '../../helpers/docker.js';
import { waitFor } from '../../helpers/wait-for.js';
import type { Benchmark } from '../harness/context.js';
import { size } from '../harness/context.js';
import { DockerletUnderTest } from '../harness/dockerlet-process.js';
import { iperf3, iperf3Image, pingPong, wrk } from '../harness/load.js';
import { accepts, forgetConnections } from '../harness/net.js';
import { podManifest, serviceManifest, untilTerm, yamlDocuments, type BenchPod } from '../harness/pods.js';
import { target, type Row, type TargetResult } from '../harness/report.js';
import { ratio, summarize } from '../harness/stats.js';

const Paths = ['direct (pod IP)', 'ClusterIP', 'NodePort'] as const;
type PathName = (typeof Paths)[number];
interface Endpoint {
  host: string;
  iperf: number;
  http: number;
  echo: number;
}

async function serverPod(): Promise<BenchPod> {
  return {
    name: 'bench-server',
    labels: { app: 'bench-server' },
    containers: [
      { name: 'iperf', image: await iperf3Image(), command: untilTerm('iperf3 --server --port 5201') },
      { name: 'httpd', image: BusyboxImage, command: untilTerm('mkdir -p /www && echo ok > /www/index.html && httpd -f -p 8080 -h /www') },
      { name: 'echo', image: BusyboxImage, command: untilTerm('nc -ll -p 7000 -e cat') },
    ],
  };
}

/** Starts the server pod and its Services on a dockerlet with the given datapath; the three ways to reach it. */
async function serve(subject: DockerletUnderTest): Promise<Record<PathName, Endpoint>> {
  const pod = await serverPod();
  const selector = { app: 'bench-server' };
  const ports = [
    { name: 'iperf', port: 5201, targetPort: 5201 },
    { name: 'http', port: 80, targetPort: 8080 },
    { name: 'echo', port: 7000, targetPort: 7000 },
  ];
  const written = await subject.writeManifests(
    new Map([
      ['bench-server.yaml', yamlDocuments([podManifest(pod), serviceManifest('bench-server', selector, ports), serviceManifest('bench-server-np', selector, ports, 'NodePort')])],
    ]),
  );
  const ready = await subject.until('bench-server Ready with an IP', () => subject.podLine(subject.fullName('bench-server'), (line) => line.ready && line.ip !== undefined, written), 120_000);
  const line = (service: string, port: string) =>
    subject.until(`the Service line of ${service} (${port})`, () => subject.serviceLines.find((l) => l.service === `${service} (${port})`), 30_000);
  const [iperf, http, echo, npIperf, npHttp, npEcho] = await Promise.all([
    line('bench-server', 'iperf'),
    line('bench-server', 'http'),
    line('bench-server', 'echo'),
    line('bench-server-np', 'iperf'),
    line('bench-server-np', 'http'),
    line('bench-server-np', 'echo'),
  ]);
  const endpoints: Record<PathName, Endpoint> = {
    'direct (pod IP)': { host: ready.ip!, iperf: 5201, http: 8080, echo: 7000 },
    ClusterIP: { host: iperf.clusterIP, iperf: iperf.port, http: http.port, echo: echo.port },
    NodePort: { host: '127.0.0.1', iperf: npIperf.nodePort!, http: npHttp.nodePort!, echo: npEcho.nodePort! },
  };
  // iperf3's server takes one client at a time and drops what is not a test: it is not probed.
  for (const [path, e] of Object.entries(endpoints)) {
    for (const port of [e.http, e.echo]) await waitFor(`${path} ${e.host}:${port} answering`, () => accepts(e.host, port), { timeoutMs: 30_000, intervalMs: 20 });
  }
  return endpoints;
}

interface Figures {
  throughput: Record<PathName, number[]>;
  latency: Record<PathName, number[]>;
  rate: Record<PathName, number[]>;
}

const perPath = (): Record<PathName, number[]> => ({ 'direct (pod IP)': [], ClusterIP: [], NodePort: [] });

export const proxyDatapath: Benchmark = {
  id: 'proxy',
  title: '6. Proxy: host -> Service against host -> pod IP',
  async run(context) {
    const seconds = size(context, 5, 1);
    const rounds = size(context, 3, 1);
    const pings = size(context, 5000, 200);
    const rows: Row[] = [];
    const targets: TargetResult[] = [];
    for (const mode of ['iptables', 'userspace'] as const) {
      const figures: Figures = { throughput: perPath(), latency: perPath(), rate: perPath() };
      const subject = await DockerletUnderTest.start({ proxyMode: mode });
      try {
        const endpoints = await serve(subject);
        for (let round = 0; round < rounds; round++) {
          for (const path of [...Paths.slice(round % Paths.length), ...Paths.slice(0, round % Paths.length)]) {
            context.progress(`proxy: ${mode}, round ${round + 1} of ${rounds}, ${path}`);
            const e = endpoints[path];
            await forgetConnections(endpoints['direct (pod IP)'].host);
            figures.throughput[path].push(await iperf3(e.host, e.iperf, seconds));
            figures.latency[path].push(...(await pingPong(e.host, e.echo, pings)));
            figures.rate[path].push(await wrk(`http://${e.host}:${e.http}/`, 50, seconds));
          }
        }
      } finally {
        await subject.stop();
      }
      const stat = (series: Record<PathName, number[]>) => Object.fromEntries(Paths.map((p) => [p, summarize(series[p])]));
      const vsDirect = (series: Record<PathName, number[]>) => ({
        'ClusterIP / direct': ratio(summarize(series.ClusterIP), summarize(series['direct (pod IP)'])),
        'NodePort / direct': ratio(summarize(series.NodePort), summarize(series['direct (pod IP)'])),
      });
      const latency = stat(figures.latency);
      const added = (path: PathName): number => latency[path]!.median - latency['direct (pod IP)']!.median;
      rows.push(
        { metric: `${mode}: bulk throughput (iperf3)`, unit: 'MB/s', values: stat(figures.throughput), ratios: vsDirect(figures.throughput) },
        { metric: `${mode}: 64 B request/response on one connection`, unit: 'µs', values: latency, ratios: vsDirect(figures.latency) },
        { metric: `${mode}: HTTP, new connection per request, 50 at once (wrk)`, unit: 'req/s', values: stat(figures.rate), ratios: vsDirect(figures.rate) },
      );
      const [minThroughput, maxAddedUs, minRate] = mode === 'iptables' ? [0.95, 10, undefined] : [0.5, 100, 0.4];
      for (const path of ['ClusterIP', 'NodePort'] as const) {
        targets.push(target(`${mode} ${path}: throughput / direct`, ratio(summarize(figures.throughput[path]), summarize(figures.throughput['direct (pod IP)'])), '>=', minThroughput, 'x'));
        targets.push(target(`${mode} ${path}: p50 latency added to direct`, added(path), '<=', maxAddedUs, 'µs'));
        if (minRate !== undefined) targets.push(target(`${mode} ${path}: connection-per-request rate / direct`, ratio(summarize(figures.rate[path]), summarize(figures.rate['direct (pod IP)'])), '>=', minRate, 'x'));
      }
    }
    return {
      id: this.id,
      title: this.title,
      columns: [...Paths],
      rows,
      targets,
      notes: [
        `${rounds} round(s) per datapath; each round runs iperf3 for ${seconds} s, ${pings} ping-pongs and wrk for ${seconds} s on every path in turn, starting from another path each round, with the server's tracked connections forgotten before each path. Load generator, proxy and server share the machine's cores.`,
        'NodePort is reached on 127.0.0.1 (iptables: DNAT with route_localnet; userspace: the proxy\'s own listener).',
      ],
    };
  },
};
