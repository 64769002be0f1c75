/**
 * npm run bench [-- --quick] [-- --out DIR] [-- --only id,id]: runs the benchmarks one after
 * another on this machine, prints the Markdown tables and writes the figures. A full run of
 * every benchmark writes test/bench/results/latest.{json,md}; a quick run (the CI smoke test:
 * every benchmark small, no figure worth reading) or a partial one writes only where --out says.
 * The benchmarks of OnlyWhenNamed run only when --only names them.
 * Nothing else may run benchmarks or tests on the machine meanwhile: the figures would be worth
 * nothing.
 */
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, release, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { Command } from 'commander';
import { docker } from '../helpers/docker.js';
import type { Benchmark, BenchContext } from './harness/context.js';
import { DockerApiBaseline } from './harness/docker-baseline.js';
import { PodmanBaseline } from './harness/podman-baseline.js';
import { renderBenchmark, renderRun, type BenchmarkResult, type RunResult } from './harness/report.js';
import { burst } from './suites/burst.js';
import { cluster } from './suites/cluster.js';
import { clusterDns } from './suites/cluster-dns.js';
import { crossNode } from './suites/cross-node.js';
import { probeClient } from './suites/probe-client.js';
import { proxyDatapath } from './suites/proxy-datapath.js';
import { proxySync } from './suites/proxy-sync.js';
import { reaction } from './suites/reaction.js';
import { scaling } from './suites/scaling.js';
import { startup } from './suites/startup.js';
import { steadyState } from './suites/steady-state.js';
import { testNode } from './suites/test-node.js';

const run = promisify(execFile);
const Benchmarks: Benchmark[] = [startup, burst, scaling, steadyState, reaction, proxyDatapath, proxySync, clusterDns, cluster, testNode, probeClient];
/**
 * Run only when --only names them, never in a full or quick run: the pod network across nodes
 * builds a lab of its own for minutes (network namespaces, a Docker engine and an agent per node,
 * a control plane) and puts rules in the host's iptables while it runs.
 */
const OnlyWhenNamed: Benchmark[] = [crossNode];
const Known = [...Benchmarks, ...OnlyWhenNamed];
const LatestDir = resolve(import.meta.dirname, 'results');

interface Flags {
  quick?: boolean;
  out?: string;
  only?: string;
}

async function machine(podman: string): Promise<Record<string, string>> {
  const version = await docker.version();
  return {
    cpus: `${cpus().length} x ${cpus()[0]?.model.trim() ?? 'unknown'}`,
    memory: `${Math.round(totalmem() / 2 ** 30)} GiB`,
    kernel: release(),
    docker: version.Version,
    node: process.version,
    podman,
  };
}

async function main(flags: Flags): Promise<number> {
  const only = flags.only?.split(',').map((id) => id.trim());
  const unknown = only?.filter((id) => !Known.some((b) => b.id === id)) ?? [];
  if (unknown.length > 0) {
    console.error(`--only: unknown benchmark(s) ${unknown.join(', ')}; known: ${Known.map((b) => b.id).join(', ')}`);
    return 2;
  }
  const selected = only ? Known.filter((b) => only.includes(b.id)) : Benchmarks;
  const runId = `${process.pid}${Date.now().toString(36)}`;
  const progress = (message: string): void => void process.stderr.write(`[bench] ${message}\n`);
  const startedAt = new Date();
  progress('preparing the baselines');
  const podman = await PodmanBaseline.prepare(runId);
  const context: BenchContext = {
    quick: flags.quick === true,
    runId,
    docker: new DockerApiBaseline(runId),
    podman: podman.podman ? { baseline: podman.podman, version: podman.version } : { reason: podman.reason },
    progress,
  };
  const results: BenchmarkResult[] = [];
  try {
    for (const benchmark of selected) {
      progress(`${benchmark.id}: starting`);
      const result = await benchmark.run(context);
      results.push(result);
      console.log(`\n${renderBenchmark(result)}`);
    }
  } finally {
    await context.docker.removeAll();
    await podman.podman?.dispose();
  }
  const runResult: RunResult = {
    meta: {
      mode: flags.quick ? 'quick' : 'full',
      startedAt: startedAt.toISOString(),
      durationSeconds: (Date.now() - startedAt.getTime()) / 1000,
      commit: (await run('git', ['rev-parse', '--short', 'HEAD']).catch(() => ({ stdout: 'unknown' }))).stdout.trim(),
      machine: await machine(podman.podman ? podman.version : `not used: ${podman.reason}`),
    },
    benchmarks: results,
  };
  // latest.* hold a full run of every benchmark, nothing less.
  const outDir = flags.out ? resolve(flags.out) : !flags.quick && !only ? LatestDir : undefined;
  if (!outDir) {
    progress('a quick or partial run writes its results only where --out says; none written');
    return 0;
  }
  await mkdir(outDir, { recursive: true });
  await writeFile(join(outDir, 'latest.json'), `${JSON.stringify(runResult, null, 2)}\n`);
  await writeFile(join(outDir, 'latest.md'), renderRun(runResult));
  progress(`wrote ${join(outDir, 'latest.json')} and latest.md`);
  return 0;
}

const program = new Command('bench')
  .description('dockerlet benchmarks against the bare Docker API and podman kube play')
  .option('--quick', 'small sizes: a smoke test of the harness, its figures not worth reading')
  .option('--out <dir>', 'where to write latest.json and latest.md (default: test/bench/results, for a full run of every benchmark only)')
  .option('--only <ids>', `comma-separated benchmarks to run: ${Benchmarks.map((b) => b.id).join(', ')}; only when named: ${OnlyWhenNamed.map((b) => b.id).join(', ')}`)
  .action(async (flags: Flags) => {
    process.exitCode = await main(flags);
  });
await program.parseAsync();
