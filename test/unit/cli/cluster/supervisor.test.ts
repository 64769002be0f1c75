/** The cluster's process supervision, on real processes (sh and sleep): restarts with backoff, stop, and telling a process from a recycled pid. */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { commandLine, endProcess, isRunning } from '../../../../cli/cluster/processes.js';
import { SupervisedProcess, type ProcessSpec } from '../../../../cli/cluster/supervisor.js';
import { waitFor } from '../../../helpers/wait-for.js';

let dir: string;
const started: SupervisedProcess[] = [];
beforeEach(async () => void (dir = await mkdtemp(join(tmpdir(), 'supervisor-'))));
afterEach(async () => {
  for (const supervised of started.splice(0)) await supervised.stop(1_000);
  await rm(dir, { recursive: true, force: true });
});

function supervise(spec: Omit<ProcessSpec, 'logFile'>): { supervised: SupervisedProcess; pids: number[]; exits: Array<{ description: string; restartInMs: number }> } {
  const pids: number[] = [];
  const exits: Array<{ description: string; restartInMs: number }> = [];
  const supervised = new SupervisedProcess({ ...spec, logFile: join(dir, `${spec.name}.log`) }, {
    started: (pid) => pids.push(pid),
    exited: (description, restartInMs) => exits.push({ description, restartInMs }),
  });
  started.push(supervised);
  return { supervised, pids, exits };
}

describe('a supervised process', () => {
  test('that exits is started again after a backoff that doubles, its output appended to its log', async () => {
    const { supervised, pids, exits } = supervise({ name: 'etcd', command: 'sh', args: ['-c', 'echo run; exit 3'] });
    await supervised.start();
    await waitFor('a second exit', () => exits.length >= 2, { timeoutMs: 10_000 });
    expect(exits.slice(0, 2)).toEqual([
      { description: 'exit code 3', restartInMs: 1_000 },
      { description: 'exit code 3', restartInMs: 2_000 },
    ]);
    expect(pids.length).toBeGreaterThanOrEqual(2);
    expect(supervised.restarts).toBeGreaterThanOrEqual(1);
    expect(await readFile(join(dir, 'etcd.log'), 'utf8')).toMatch(/^run\nrun\n/);
  });

  test('stop ends it with SIGTERM and it is not started again', async () => {
    // The shell says which signal ended it, and ignores none: SIGKILL would leave no line.
    // It says "ready" once its trap is set; a signal before that would end it without the line.
    const script = "trap 'echo got TERM; kill $!; exit 0' TERM; echo ready; sleep 600 & wait";
    const log = join(dir, 'kube-scheduler.log');
    const { supervised, pids, exits } = supervise({ name: 'kube-scheduler', command: 'sh', args: ['-c', script] });
    await supervised.start();
    const record = { pid: pids[0]!, command: commandLine(['sh', '-c', script]), startedAt: '' };
    expect(await isRunning(record)).toBe(true);
    await waitFor('the trap to be set', async () => (await readFile(log, 'utf8')) === 'ready\n');
    await supervised.stop(5_000);
    expect(await isRunning(record)).toBe(false);
    expect(await readFile(log, 'utf8')).toBe('ready\ngot TERM\n');
    expect(exits).toEqual([]);
    expect(pids).toHaveLength(1);
  });

  test('stopped while it waits out its backoff, it is not started again', async () => {
    const { supervised, pids, exits } = supervise({ name: 'etcd', command: 'sh', args: ['-c', 'exit 1'] });
    await supervised.start();
    await waitFor('the first exit', () => exits.length === 1);
    await supervised.stop(1_000);
    // Longer than the backoff (1 s) it was waiting out: no start came.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(pids).toHaveLength(1);
  });

  test('it leads a process group of its own: a terminal\'s Ctrl-C to cluster up does not reach it', async () => {
    const { supervised, pids } = supervise({ name: 'kube-apiserver', command: 'sleep', args: ['600'] });
    await supervised.start();
    const stat = await readFile(`/proc/${pids[0]}/stat`, 'utf8');
    const processGroup = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
    expect(processGroup).toBe(pids[0]);
  });

  test('a command that does not exist is refused at start, by name', async () => {
    const { supervised } = supervise({ name: 'kube-apiserver', command: join(dir, 'missing'), args: [] });
    await expect(supervised.start()).rejects.toThrow(/kube-apiserver \(.*missing\) did not start/);
  });
});

describe('a recorded process', () => {
  test('runs only while its pid runs the recorded command line; endProcess ends it', async () => {
    const child = spawn('sleep', ['601'], { stdio: 'ignore' });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    const record = { pid: child.pid!, command: commandLine(['sleep', '601']), startedAt: '' };
    try {
      expect(await isRunning(record)).toBe(true);
      expect(await isRunning({ ...record, command: 'sleep 602' })).toBe(false);
      await Promise.all([endProcess(record, 5_000), exited]);
      expect(child.signalCode).toBe('SIGTERM');
      expect(await isRunning(record)).toBe(false);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
