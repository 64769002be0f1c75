/**
 * 8. A cluster on this host, `dockerlet cluster up`, against dockerlet alone (`dockerlet up` on
 * static pods). Each round runs a cluster and then dockerlet alone, never both at once (a host
 * has one service proxy):
 *   - up: from `cluster up --detach` to its return, which is once the node is Ready. The control
 *     plane's binaries are cached (found, or built, untimed before the first round) and each
 *     round's cluster is new: its directory, PKI and etcd data. The start times cluster.json
 *     records split the up into phases, since each component starts once the one before serves.
 *     Alone: `dockerlet up` to its "running" line;
 *   - memory once up and idle: after a pause, each process's VmRSS (harness/proc-usage.ts) every
 *     second over a window, summed over the cluster's five components (the supervising
 *     `cluster up`, a process of the cluster too, is shown apart); alone, its one process;
 *   - the same N sleeping pods: a Deployment of N replicas (`kubectl create deployment`) until
 *     its readyReplicas is N (`kubectl wait`, a watch), against N pod manifests written at once
 *     until dockerlet reports each one Ready; then the memory again, the pods running;
 *   - `cluster down` with the pods running.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { controlPlaneBinaries } from '../../../cli/cluster/control-plane-binaries.js';
import { ClusterComponents } from '../../../cli/cluster/cluster-layout.js';
import { now } from '../harness/clock.js';
import { ClusterUnderTest, Supervisor, type ClusterProcess, type ClusterUp, type UpStep } from '../harness/cluster-process.js';
import type { Benchmark, BenchContext } from '../harness/context.js';
import { size } from '../harness/context.js';
import { DockerletUnderTest } from '../harness/dockerlet-process.js';
import { sleeperPod } from '../harness/pods.js';
import { processUsage } from '../harness/proc-usage.js';
import { formatNumber, type Row } from '../harness/report.js';
import { ratio, summarize, type Stat } from '../harness/stats.js';

const Cluster = 'cluster';
const Alone = 'dockerlet alone';
const Versus = 'cluster / dockerlet alone';
const DeploymentName = 'sleepers';
const RolloutTimeoutMs = 600_000;

interface Plan {
  rounds: number;
  replicas: number;
  /** The pause between the up and the memory window, and the window's samples, one a second. */
  settleSeconds: number;
  rssSamples: number;
}

/** MB of VmRSS per process at one moment. */
type RssSample = Record<string, number>;

interface ClusterRound {
  up: ClusterUp;
  idle: RssSample[];
  /** From `kubectl create deployment` run to its return, and to readyReplicas = replicas. */
  createMs: number;
  rolloutMs: number;
  running: RssSample;
  downMs: number;
}

interface AloneRound {
  upMs: number;
  idle: number[];
  /** From the manifests written to every pod reported Ready. */
  allReadyMs: number;
  running: number;
}

/** The up's phases, each between two of its steps: their sum is the whole up. */
const UpPhases: ReadonlyArray<{ name: string; from: UpStep; to: UpStep }> = [
  { name: 'up run -> etcd started (binaries found, PKI and kubeconfigs written)', from: 'invoked', to: 'etcd' },
  { name: 'etcd started -> healthy, kube-apiserver started', from: 'etcd', to: 'kube-apiserver' },
  { name: 'kube-apiserver started -> ready, kube-controller-manager started', from: 'kube-apiserver', to: 'kube-controller-manager' },
  { name: "kube-controller-manager started -> default ServiceAccount's token, kube-scheduler started", from: 'kube-controller-manager', to: 'kube-scheduler' },
  { name: 'kube-scheduler and dockerlet started -> node Ready, up returned', from: 'kube-scheduler', to: 'returned' },
];

export const cluster: Benchmark = {
  id: 'cluster',
  title: '8. A cluster on this host: up, memory and a Deployment, against dockerlet alone',
  async run(context) {
    const plan: Plan = { rounds: size(context, 5, 1), replicas: size(context, 30, 3), settleSeconds: size(context, 10, 1), rssSamples: size(context, 10, 2) };
    context.progress('cluster: finding the control plane binaries (untimed)');
    const { version } = await controlPlaneBinaries((line) => context.progress(`cluster: ${line}`), new AbortController().signal);
    const clusters: ClusterRound[] = [];
    const alone: AloneRound[] = [];
    for (let round = 0; round < plan.rounds; round++) {
      clusters.push(await clusterRound(context, plan, round));
      alone.push(await aloneRound(context, plan, round));
    }
    return {
      id: this.id,
      title: this.title,
      columns: [Cluster, Alone],
      rows: [...upRows(clusters, alone), ...memoryRows(clusters, alone), ...deploymentRows(plan, clusters, alone)],
      targets: [],
      notes: notes(plan, version, clusters),
    };
  },
};

/** A new cluster: up, its idle memory, the Deployment, its memory with the pods, down (even when a step fails). */
async function clusterRound(context: BenchContext, plan: Plan, round: number): Promise<ClusterRound> {
  const say = (what: string): void => context.progress(`cluster: round ${round + 1} of ${plan.rounds}, ${what}`);
  const subject = await ClusterUnderTest.create();
  let measured: Omit<ClusterRound, 'downMs'>;
  let downMs: number;
  try {
    say('cluster up');
    const up = await subject.up();
    const pids = await subject.pids();
    const idle = await idleWindow(pids, plan);
    say(`a Deployment of ${plan.replicas} replicas`);
    const rollout = await rollOut(subject, plan.replicas);
    measured = { up, idle, ...rollout, running: await rssOf(pids) };
  } finally {
    say('cluster down');
    downMs = await subject.down();
  }
  return { ...measured, downMs };
}

/** dockerlet alone, new: up, its idle memory, the same pods as manifests, its memory with them; stopped and its containers removed even when a step fails. */
async function aloneRound(context: BenchContext, plan: Plan, round: number): Promise<AloneRound> {
  context.progress(`cluster: round ${round + 1} of ${plan.rounds}, dockerlet alone`);
  const invoked = now();
  const subject = await DockerletUnderTest.start();
  const upMs = now() - invoked;
  try {
    const pids = { dockerlet: subject.pid };
    const idle = await idleWindow(pids, plan);
    const names = Array.from({ length: plan.replicas }, (_, i) => `replica-${round}-${i}`);
    const written = await subject.writePods(names.map((name) => sleeperPod(name)));
    const ready = await subject.waitForPods(names, (line) => line.ready, written, RolloutTimeoutMs);
    return { upMs, idle: idle.map((sample) => sample.dockerlet!), allReadyMs: Math.max(...ready.values()) - written, running: (await rssOf(pids)).dockerlet! };
  } finally {
    await subject.stop();
  }
}

/** A Deployment of the benchmarks' sleeper pod (busybox sleeping until SIGTERM), `replicas` of it. */
async function rollOut(subject: ClusterUnderTest, replicas: number): Promise<{ createMs: number; rolloutMs: number }> {
  const [container] = sleeperPod(DeploymentName).containers;
  const requested = now();
  await subject.kubectl('create', 'deployment', DeploymentName, `--image=${container!.image}`, `--replicas=${replicas}`, '--', ...container!.command);
  const created = now();
  await subject.kubectl('wait', `--for=jsonpath={.status.readyReplicas}=${replicas}`, `deployment/${DeploymentName}`, `--timeout=${RolloutTimeoutMs / 1000}s`);
  return { createMs: created - requested, rolloutMs: now() - requested };
}

/** After the settling pause, a sample every second. */
async function idleWindow(pids: Record<string, number>, plan: Plan): Promise<RssSample[]> {
  await sleep(plan.settleSeconds * 1000);
  const samples: RssSample[] = [];
  for (let i = 0; i < plan.rssSamples; i++) {
    if (i > 0) await sleep(1000);
    samples.push(await rssOf(pids));
  }
  return samples;
}

async function rssOf(pids: Record<string, number>): Promise<RssSample> {
  const entries = await Promise.all(Object.entries(pids).map(async ([name, pid]) => [name, (await processUsage(pid)).rssBytes / 1e6] as const));
  return Object.fromEntries(entries);
}

/** The five components' sum (the supervisor apart). */
const componentsTotal = (sample: RssSample): number => ClusterComponents.reduce((sum, component) => sum + sample[component]!, 0);

const versus = (of: Stat, to: Stat): Row['ratios'] => ({ [Versus]: ratio(of, to) });

function upRows(clusters: readonly ClusterRound[], alone: readonly AloneRound[]): Row[] {
  const up = summarize(clusters.map((round) => round.up.at.returned - round.up.at.invoked));
  const aloneUp = summarize(alone.map((round) => round.upMs));
  return [
    { metric: 'up -> node Ready (alone: up -> running)', unit: 'ms', values: { [Cluster]: up, [Alone]: aloneUp }, ratios: versus(up, aloneUp) },
    ...UpPhases.map(({ name, from, to }) => ({
      metric: `· ${name}`,
      unit: 'ms',
      values: { [Cluster]: summarize(clusters.map((round) => round.up.at[to] - round.up.at[from])), [Alone]: null },
    })),
    { metric: 'cluster down, the pods running', unit: 'ms', values: { [Cluster]: summarize(clusters.map((round) => round.downMs)), [Alone]: null } },
  ];
}

function memoryRows(clusters: readonly ClusterRound[], alone: readonly AloneRound[]): Row[] {
  const idle = clusters.flatMap((round) => round.idle);
  const total = summarize(idle.map(componentsTotal));
  const aloneIdle = summarize(alone.flatMap((round) => round.idle));
  const processRow = (process: ClusterProcess, metric: string): Row => ({
    metric,
    unit: 'MB',
    values: { [Cluster]: summarize(idle.map((sample) => sample[process]!)), [Alone]: process === 'dockerlet' ? aloneIdle : null },
  });
  return [
    { metric: 'RSS once up, idle: etcd, kube-apiserver, kube-controller-manager, kube-scheduler and dockerlet', unit: 'MB', values: { [Cluster]: total, [Alone]: aloneIdle }, ratios: versus(total, aloneIdle) },
    ...ClusterComponents.map((component) => processRow(component, `· ${component}`)),
    processRow(Supervisor, `· the supervising ${Supervisor} (not in the sum)`),
  ];
}

function deploymentRows(plan: Plan, clusters: readonly ClusterRound[], alone: readonly AloneRound[]): Row[] {
  const rollout = summarize(clusters.map((round) => round.rolloutMs));
  const aloneReady = summarize(alone.map((round) => round.allReadyMs));
  const running = summarize(clusters.map((round) => componentsTotal(round.running)));
  const aloneRunning = summarize(alone.map((round) => round.running));
  return [
    {
      metric: `${plan.replicas} pods: Deployment created -> readyReplicas ${plan.replicas} (alone: manifests written -> all Ready)`,
      unit: 'ms',
      values: { [Cluster]: rollout, [Alone]: aloneReady },
      ratios: versus(rollout, aloneReady),
    },
    { metric: '· kubectl create deployment, run -> returned', unit: 'ms', values: { [Cluster]: summarize(clusters.map((round) => round.createMs)), [Alone]: null } },
    { metric: `RSS with the ${plan.replicas} pods running (cluster: the five components)`, unit: 'MB', values: { [Cluster]: running, [Alone]: aloneRunning }, ratios: versus(running, aloneRunning) },
  ];
}

function notes(plan: Plan, version: string, clusters: readonly ClusterRound[]): string[] {
  const up = summarize(clusters.map((round) => round.up.at.returned - round.up.at.invoked));
  const restarts = clusters.reduce((sum, round) => sum + round.up.restarts, 0);
  return [
    `${plan.rounds} round(s), each a new cluster (control plane ${version}, binaries cached), then dockerlet alone; up -> node Ready ranged ${formatNumber(up.min)} to ${formatNumber(up.max)} ms.`,
    `The up's phases are the start times cluster.json records for each process: each component starts once the one before serves, as the supervising up sees by polling every 250 ms; the detached up returns once cluster.json says the node is Ready, polled every 250 ms. Component restarts during the ups: ${restarts}.`,
    `Memory: VmRSS of each process from /proc, every second for ${plan.rssSamples} s after ${plan.settleSeconds} s idle, then once with the pods running. The cluster's dockerlet runs in cluster mode (the API client loaded); dockerlet alone is one process with no cluster.`,
    `The pods are busybox sleeping until SIGTERM, ${plan.replicas} of them. In the cluster they go from kubectl through the API server, the Deployment and ReplicaSet controllers and the scheduler to the node, and each mounts the default ServiceAccount's token; their time counts kubectl's own start (the create row). Alone, dockerlet reads the manifests from its directory.`,
  ];
}
