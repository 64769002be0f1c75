/**
 * 4b. The httpGet probe's HTTP client: the CPU one probe costs the agent, client by client, side
 * by side. One probe is one GET with `Connection: close` on a new connection to a server on
 * 127.0.0.1 that runs in another process (only the client's CPU counts: process.cpuUsage of this
 * process, user + system, its kernel work on the connection included). Paced at 100 probes a
 * second (100 pods probed each second), then flat out 8 at a time. The run is cut in short
 * slices, one second of each client in turn, so that a burst of other work on the machine
 * weighs on every client alike; medians over slices. The floor is a connection opened and
 * closed with nothing sent: what any client pays.
 */
import type { HttpGetAction } from '../../../agent/probe/http-get.js';
import type { Benchmark } from '../harness/context.js';
import { size } from '../harness/context.js';
import {
  connectOnly,
  flatOut,
  netConnectClient,
  nodeHttpAgentFalse,
  nodeHttpGet,
  nodeHttpSharedAgent,
  paced,
  startProbedServer,
  undiciCandidates,
  type Candidate,
  type Measured,
} from '../harness/probe-clients.js';
import { target, type Row } from '../harness/report.js';
import { summarize, type Stat } from '../harness/stats.js';

const Before = 'node:http agent:false (before)';
const Kept = 'net.connect (kept)';
const Floor = 'floor: connect only';
const PerSecond = 100;
/** A TLS handshake costs several times a plain probe: HTTPS is paced slower, to measure CPU rather than a backlog. */
const TlsPerSecond = 25;
const Concurrency = 8;

export const probeClient: Benchmark = {
  id: 'probe-client',
  title: '4b. Probes: the httpGet client, CPU per probe',
  async run(context) {
    const slices = size(context, 30, 2);
    /** One second of probes at the pace. */
    const pacedCount = size(context, PerSecond, 10);
    const tlsCount = size(context, TlsPerSecond, 5);
    const flatCount = size(context, 500, 20);
    const warmUp = size(context, 300, 20);
    const undici = await undiciCandidates();
    const candidates: Candidate[] = [
      { name: Before, probe: nodeHttpAgentFalse },
      { name: 'node:http shared Agent', probe: nodeHttpSharedAgent },
      { name: 'http.get', probe: nodeHttpGet },
      ...('candidates' in undici ? undici.candidates : []),
      { name: Kept, probe: netConnectClient },
      { name: Floor, probe: connectOnly },
    ];
    /** The clients measured over HTTPS too (a TLS handshake per probe). */
    const overTls = new Set([Before, Kept, Floor]);
    const server = await startProbedServer();
    const http: HttpGetAction = { scheme: 'HTTP', host: '127.0.0.1', port: server.httpPort, path: '/healthz', headers: [] };
    const https: HttpGetAction = { ...http, scheme: 'HTTPS', port: server.httpsPort };
    /** Per slice, undefined where a probe failed. */
    type Series = { paced: Array<number | undefined>; flatCpu: Array<number | undefined>; flatRate: Array<number | undefined>; tlsPaced: Array<number | undefined> };
    const series = new Map<string, Series>(candidates.map((c) => [c.name, { paced: [], flatCpu: [], flatRate: [], tlsPaced: [] }]));
    const failures = new Map<string, { slices: number; probes: number; first: string }>();
    const record = (name: string, what: string, measured: Measured): Measured | undefined => {
      if (measured.failures === 0) return measured;
      const key = `${name}, ${what}`;
      const seen = failures.get(key) ?? { slices: 0, probes: 0, first: measured.failure ?? '' };
      failures.set(key, { ...seen, slices: seen.slices + 1, probes: seen.probes + measured.failures });
      return undefined;
    };
    let pacingAlone: Stat | undefined;
    try {
      for (const candidate of candidates) {
        await flatOut(candidate.probe, http, warmUp, Concurrency);
        if (overTls.has(candidate.name)) await flatOut(candidate.probe, https, warmUp, Concurrency);
      }
      const idle: number[] = [];
      for (let slice = 0; slice < slices; slice++) {
        if (slice % 5 === 0) context.progress(`probe-client: slices ${slice + 1} to ${Math.min(slices, slice + 5)} of ${slices}`);
        // Each slice starts with another client, so that none always follows the same one.
        const order = candidates.map((_, i) => candidates[(i + slice) % candidates.length]!);
        for (const candidate of order) {
          const s = series.get(candidate.name)!;
          s.paced[slice] = record(candidate.name, 'HTTP paced', await paced(candidate.probe, http, pacedCount, PerSecond))?.cpuMicros;
          const f = record(candidate.name, 'HTTP flat out', await flatOut(candidate.probe, http, flatCount, Concurrency));
          s.flatCpu[slice] = f?.cpuMicros;
          s.flatRate[slice] = f?.rate;
          if (overTls.has(candidate.name)) s.tlsPaced[slice] = record(candidate.name, 'HTTPS paced', await paced(candidate.probe, https, tlsCount, TlsPerSecond))?.cpuMicros;
        }
        idle.push((await paced(() => Promise.resolve(0), http, pacedCount, PerSecond)).cpuMicros);
      }
      pacingAlone = summarize(idle);
    } finally {
      await server.stop();
    }
    const stat = (samples: Array<number | undefined>): Stat | null => {
      const measured = samples.filter((sample): sample is number => sample !== undefined);
      return measured.length > 0 ? summarize(measured) : null;
    };
    const columns = candidates.map((c) => c.name);
    const floor = series.get(Floor)!;
    /** A client's CPU above the floor's, slice by slice (the part the client itself decides). */
    const aboveFloor = (s: Series): Array<number | undefined> =>
      s.paced.map((value, slice) => (value !== undefined && floor.paced[slice] !== undefined ? value - floor.paced[slice] : undefined));
    const row = (metric: string, unit: string, pick: (s: Series) => Array<number | undefined>, ratio: boolean, names = columns): Row => {
      const values = Object.fromEntries(columns.map((name) => [name, names.includes(name) ? stat(pick(series.get(name)!)) : null]));
      const kept = values[Kept];
      const before = values[Before];
      return {
        metric,
        unit,
        values,
        ...(ratio ? { ratios: { 'kept / before': kept && before ? kept.median / before.median : null } } : {}),
      };
    };
    const rows: Row[] = [
      row(`HTTP: CPU per probe, ${PerSecond} probes/s`, 'µs', (s) => s.paced, true),
      row(`HTTP: the client's own CPU per probe (above the floor), ${PerSecond} probes/s`, 'µs', aboveFloor, true, columns.filter((name) => name !== Floor)),
      row(`HTTP: CPU per probe, flat out (${Concurrency} at a time)`, 'µs', (s) => s.flatCpu, true),
      row('HTTP: probes per second, flat out', 'probes/s', (s) => s.flatRate, false),
      row(`HTTPS: CPU per probe, ${TlsPerSecond} probes/s`, 'µs', (s) => s.tlsPaced, true),
    ];
    const keptPaced = rows[0]!.values[Kept] as Stat | null;
    const keptOwn = rows[1]!.values[Kept] as Stat | null;
    const beforeOwn = rows[1]!.values[Before] as Stat | null;
    return {
      id: this.id,
      title: this.title,
      columns,
      rows,
      targets: [
        target(`kept client: CPU per HTTP probe at ${PerSecond} probes/s, median`, keptPaced?.median ?? null, '<=', 400, 'µs'),
        target(
          `kept client / node:http before: the client's own CPU per HTTP probe (above the floor) at ${PerSecond} probes/s, side by side`,
          keptOwn && beforeOwn ? keptOwn.median / beforeOwn.median : null,
          '<=',
          0.7,
          'x',
        ),
      ],
      notes: [
        `${slices} slice(s) per client, each ${pacedCount} probes paced at ${PerSecond}/s (HTTPS: ${tlsCount} at ${TlsPerSecond}/s) and ${flatCount} flat out; one probe: GET /healthz, Connection: close, User-Agent kube-probe, Accept */*, a 1 s timeout timer, at most 10 KiB of body read; the server answers 200 "ok" from another process. A slice where a probe failed is left out.`,
        `CPU is this process's user + system time (process.cpuUsage) over the probes, divided by their number: it holds the kernel's share of each connection (about the floor's figure), and the pacing itself (${pacingAlone ? pacingAlone.median.toFixed(0) : 'n/a'} µs per probe with no probe at all).`,
        "The 400 µs target is the project's (4 % of a core at 100 probes/s) and depends on the machine and on what else runs on it: the floor alone, a connection opened and closed at that pace, costs most of it on a busy 2-core machine. What a client decides is its CPU above the floor, slice by slice; kept over before, side by side, is the figure that holds across machines.",
        'The flat-out rate is bounded by the machine: the server shares its cores with the client.',
        'version' in undici ? `undici ${undici.version}, pipelining 0: not a dependency, DOCKERLET_BENCH_UNDICI names the copy measured.` : undici.reason,
        ...[...failures].map(([key, f]) => `${key}: ${f.probes} probe(s) failed in ${f.slices} slice(s), left out (${f.first})`),
      ],
    };
  },
};
