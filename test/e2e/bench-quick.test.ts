/**
 * The benchmark harness's smoke test: `npm run bench -- --quick` runs every benchmark small, on
 * the real engine, podman and the proxy. It checks the harness works and reports what it must —
 * never a time: figures on a shared machine are a benchmark's business, not a test's.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { expect, onTestFinished, test } from 'vitest';
import type { RunResult, Value } from '../bench/harness/report.js';
import { docker } from '../helpers/docker.js';

const run = promisify(execFile);
const Root = resolve(import.meta.dirname, '../..');
const Latest = join(Root, 'test/bench/results/latest.json');
const BenchmarkIds = ['startup', 'burst', 'scaling', 'steady-state', 'reaction', 'proxy', 'proxy-sync', 'cluster-dns', 'cluster', 'test-node', 'probe-client'];

const finite = (value: unknown): boolean => typeof value === 'number' && Number.isFinite(value);

function validValue(value: Value | undefined): boolean {
  if (value === null) return true;
  if (typeof value === 'number') return finite(value);
  return value !== undefined && value.n >= 1 && [value.median, value.p99, value.min, value.max].every(finite) && value.min <= value.median && value.median <= value.max;
}

const mtime = async (path: string): Promise<number | undefined> => (await stat(path).catch(() => undefined))?.mtimeMs;

test('npm run bench -- --quick runs every benchmark and writes its report only where --out says', { timeout: 900_000 }, async () => {
  const out = await mkdtemp(join(tmpdir(), 'dockerlet-bench-quick-'));
  onTestFinished(() => rm(out, { recursive: true, force: true }));
  const latestBefore = await mtime(Latest);

  const { stdout } = await run(join(Root, 'node_modules/.bin/tsx'), ['test/bench/main.ts', '--quick', '--out', out], { cwd: Root, maxBuffer: 64 * 1024 * 1024 });

  const result = JSON.parse(await readFile(join(out, 'latest.json'), 'utf8')) as RunResult;
  expect(result.meta.mode).toBe('quick');
  expect(result.benchmarks.map((b) => b.id)).toEqual(BenchmarkIds);
  for (const benchmark of result.benchmarks) {
    expect(benchmark.rows.length, benchmark.id).toBeGreaterThan(0);
    for (const row of benchmark.rows) {
      expect(Object.keys(row.values).sort(), `${benchmark.id}: ${row.metric}`).toEqual([...benchmark.columns].sort());
      for (const [column, value] of Object.entries(row.values)) expect(validValue(value), `${benchmark.id}: ${row.metric} / ${column}`).toBe(true);
      for (const [name, value] of Object.entries(row.ratios ?? {})) expect(value === null || finite(value), `${benchmark.id}: ${row.metric} / ${name}`).toBe(true);
    }
    for (const t of benchmark.targets) {
      // A target is judged exactly when its figure was measured.
      expect(t.met === null, `${benchmark.id}: ${t.target}`).toBe(t.measured === null);
      if (t.measured !== null) expect(t.met, `${benchmark.id}: ${t.target}`).toBe(t.comparison === '<=' ? t.measured <= t.limit : t.measured >= t.limit);
    }
  }
  // setup-host.sh --for-tests installs podman: the baseline ran, so every podman figure is there.
  expect(result.meta.machine['podman']).toMatch(/^podman version/);
  const startup = result.benchmarks.find((b) => b.id === 'startup')!;
  expect(startup.rows.filter((row) => row.metric.endsWith('written -> Running')).map((row) => row.values['podman kube play'])).not.toContain(null);
  // Targets not met are named, never hidden; the profile notes are there.
  expect(startup.targets).toHaveLength(4);
  expect(result.benchmarks.find((b) => b.id === 'steady-state')!.notes.join('\n')).toMatch(/Where the CPU goes, no probes[\s\S]*Where the RSS starts from: node alone \d+ MB/);

  const markdown = await readFile(join(out, 'latest.md'), 'utf8');
  for (const benchmark of result.benchmarks) {
    expect(markdown).toContain(`### ${benchmark.title}`);
    expect(stdout).toContain(`### ${benchmark.title}`);
  }
  expect(markdown).toMatch(/^# dockerlet benchmarks \(quick run\)/);
  // A quick run never writes over the committed full run.
  expect(await mtime(Latest)).toBe(latestBefore);

  // Nothing of the run is left behind: containers of its nodes and baselines, the baseline's networks, podman pods.
  const containers = await docker.listContainers({ all: true });
  const leftovers = containers.filter((c) => c.Labels['dockerlet.bench/baseline'] !== undefined || c.Labels['dockerlet.io/node']?.startsWith('bench-'));
  expect(leftovers.map((c) => c.Names[0])).toEqual([]);
  expect((await docker.listNetworks({ filters: { label: ['dockerlet.bench/baseline'] } })).map((n) => n.Name)).toEqual([]);
  const podmanPods = (await run('podman', ['pod', 'ps', '--format', '{{.Name}}'])).stdout.split('\n').filter((name) => name.startsWith('bench-'));
  expect(podmanPods).toEqual([]);
});
