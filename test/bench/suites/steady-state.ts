/**
 * 4. Steady state: the agent's memory and CPU over a window with N pods running, once without
 * probes and once with an httpGet readiness probe on every pod every second. RSS is sampled
 * each second (median and max); CPU is the agent's CPU time over the window. The probes run
 * are counted from the agent's own prober_probe_total, to show the load was there. The agent
 * heap, from its /metrics, says how much of the RSS is JavaScript objects; a second, profiled
 * pass says where the CPU goes.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Benchmark, BenchContext } from '../harness/context.js';
import { size } from '../harness/context.js';
import { summarizeCpuProfile, type ProfileShare } from '../harness/cpu-profile.js';
import { DockerletUnderTest } from '../harness/dockerlet-process.js';
import { moduleFootprint } from '../harness/module-footprint.js';
import { httpdPod, sleeperPod, type BenchPod } from '../harness/pods.js';
import { target, type Row, type TargetResult } from '../harness/report.js';
import { summarize } from '../harness/stats.js';

interface Window {
  rssMB: ReturnType<typeof summarize>;
  heapUsedMB: number;
  heapTotalMB: number;
  cpuPercent: number;
  probesPerSecond: number;
  /** [from, to] on the monotonic clock, µs: the profile's time base. */
  monotonicUs: [number, number];
}

/** The sampling profiler's interval: 100 samples a second. */
const ProfileIntervalUs = 10_000;

export const steadyState: Benchmark = {
  id: 'steady-state',
  title: '4. Steady state: the agent with N pods running',
  async run(context) {
    const count = size(context, 100, 3);
    const windowSeconds = size(context, 60, 3);
    const settleSeconds = size(context, 10, 1);
    const plan = { count, windowSeconds, settleSeconds };
    const subject = await DockerletUnderTest.start();
    let measured: Windows;
    try {
      measured = await observeWindows(context, subject, plan);
    } finally {
      await subject.stop();
    }
    const { idle, probing } = measured;
    const profileSeconds = size(context, 20, 3);
    const notes = [
      `Each window opens ${settleSeconds} s after every pod is up. RSS is sampled each second; CPU is user + system time from /proc.`,
      ...(await whereTheCpuGoes(context, { ...plan, windowSeconds: profileSeconds })),
      await whereTheMemoryStarts(),
    ];
    const rows: Row[] = [
      { metric: 'agent RSS', unit: 'MB', values: { 'no probes': idle.rssMB, [`${count} probes/s`]: probing.rssMB } },
      { metric: 'agent V8 heap used, at the end', unit: 'MB', values: { 'no probes': idle.heapUsedMB, [`${count} probes/s`]: probing.heapUsedMB } },
      { metric: 'agent V8 heap total, at the end', unit: 'MB', values: { 'no probes': idle.heapTotalMB, [`${count} probes/s`]: probing.heapTotalMB } },
      { metric: 'agent CPU', unit: '% of a core', values: { 'no probes': idle.cpuPercent, [`${count} probes/s`]: probing.cpuPercent } },
      { metric: 'probes run', unit: 'per s', values: { 'no probes': idle.probesPerSecond, [`${count} probes/s`]: probing.probesPerSecond } },
    ];
    const targets: TargetResult[] = [
      target(`agent RSS with ${count} pods, max over the window`, Math.max(idle.rssMB.max, probing.rssMB.max), '<=', 80, 'MB'),
      target(`agent CPU with ${count} pods, no probes`, idle.cpuPercent, '<=', 1, '%'),
      target(`agent CPU with ${count} pods and ${count} probes/s`, probing.cpuPercent, '<=', 5, '%'),
    ];
    return {
      id: this.id,
      title: `${this.title} (${count} pods, ${windowSeconds} s windows)`,
      columns: ['no probes', `${count} probes/s`],
      rows,
      targets,
      notes,
    };
  },
};

interface Windows {
  idle: Window;
  probing: Window;
}

/** The two windows, on a running subject: `count` pods without probes, then `count` probed pods. */
async function observeWindows(context: BenchContext, subject: DockerletUnderTest, plan: { count: number; windowSeconds: number; settleSeconds: number }): Promise<Windows> {
  const measure = async (label: string, pods: BenchPod[], until: 'Running' | 'Ready'): Promise<Window> => {
    context.progress(`steady-state: ${plan.count} pods ${label}`);
    const names = pods.map((pod) => pod.name);
    const written = await subject.writePods(pods);
    await subject.waitForPods(names, (line) => (until === 'Ready' ? line.ready : line.phase === 'Running'), written, 600_000);
    // Let the start's work (status updates, the first probes) die down before the window opens.
    await sleep(plan.settleSeconds * 1000);
    const window = await observe(subject, plan.windowSeconds);
    await subject.removePods(names);
    return window;
  };
  return {
    idle: await measure('without probes', Array.from({ length: plan.count }, (_, i) => sleeperPod(`steady-${i}`)), 'Running'),
    probing: await measure('with a readiness probe each, every second', Array.from({ length: plan.count }, (_, i) => httpdPod(`probed-${i}`, { probe: true })), 'Ready'),
  };
}

/**
 * The same two windows again, shorter, on an agent under V8's sampling profiler: a pass of its
 * own, because sampling 100 times a second costs about 1% of a core, as much as the idle target.
 */
async function whereTheCpuGoes(context: BenchContext, plan: { count: number; windowSeconds: number; settleSeconds: number }): Promise<string[]> {
  const profileDir = await mkdtemp(join(tmpdir(), 'dockerlet-bench-profile-'));
  try {
    const subject = await DockerletUnderTest.start({ nodeOptions: ['--cpu-prof', '--cpu-prof-dir', profileDir, '--cpu-prof-interval', String(ProfileIntervalUs)] });
    let windows: Windows;
    try {
      windows = await observeWindows(context, subject, plan);
    } finally {
      // The profile is written as the process exits.
      await subject.stop();
    }
    const profile = join(profileDir, (await readdir(profileDir)).find((file) => file.endsWith('.cpuprofile'))!);
    const notes: string[] = [];
    for (const [label, window] of [['no probes', windows.idle], [`${plan.count} probes/s`, windows.probing]] as const) {
      const summary = await summarizeCpuProfile(profile, { window: window.monotonicUs, count: 6 });
      notes.push(
        `Where the CPU goes, ${label} (a profiled pass of ${plan.windowSeconds} s; ${Math.round(summary.busyMs)} ms on the main thread): ` +
          `by place ${shares(summary.byPlace)}; by dockerlet function, with what it calls: ${shares(summary.byRepositoryFunction)}.`,
      );
    }
    return notes;
  } finally {
    await rm(profileDir, { recursive: true, force: true });
  }
}

async function whereTheMemoryStarts(): Promise<string> {
  const footprint = await moduleFootprint();
  const added = footprint.added.map((entry) => `${entry.module} +${Math.round(entry.mb)}`).join(', ');
  return (
    `Where the RSS starts from: node alone ${Math.round(footprint.nodeAloneMB)} MB; dockerlet's CLI modules imported into it add ${Math.round(footprint.cliModulesMB)} MB ` +
    `(what a node uses only when it is used is loaded then: gRPC, text logging, the streaming protocols, the service proxy's http-proxy, dockerode's ssh and BuildKit transports); ` +
    `each dependency imported alone adds (MB): ${added}.`
  );
}

const shares = (list: readonly ProfileShare[]): string => list.map((entry) => `${entry.name} ${Math.round(entry.share * 100)}%`).join(', ') || 'none in the samples';

/** The sum of every series of a metric in the agent's /metrics text. */
function metricSum(text: string, name: string): number {
  let total = 0;
  for (const line of text.split('\n')) if (line.startsWith(`${name}{`) || line.startsWith(`${name} `)) total += Number(line.slice(line.lastIndexOf(' ') + 1));
  return total;
}

const monotonicUs = (): number => Number(process.hrtime.bigint() / 1000n);

async function observe(subject: DockerletUnderTest, seconds: number): Promise<Window> {
  const probesBefore = metricSum(await subject.metrics(), 'prober_probe_total');
  const from = monotonicUs();
  const before = await subject.usage();
  const started = performance.now();
  const rss: number[] = [];
  for (let i = 0; i < seconds; i++) {
    await sleep(1000);
    rss.push((await subject.usage()).rssBytes / 1e6);
  }
  const after = await subject.usage();
  const to = monotonicUs();
  const elapsed = (performance.now() - started) / 1000;
  const metrics = await subject.metrics();
  return {
    rssMB: summarize(rss),
    heapUsedMB: metricSum(metrics, 'nodejs_heap_size_used_bytes') / 1e6,
    heapTotalMB: metricSum(metrics, 'nodejs_heap_size_total_bytes') / 1e6,
    cpuPercent: (100 * (after.cpuSeconds - before.cpuSeconds)) / elapsed,
    probesPerSecond: (metricSum(metrics, 'prober_probe_total') - probesBefore) / elapsed,
    monotonicUs: [from, to],
  };
}
