/**
 * The dockerlet CLI as a real process (end-to-end tests): spawned from the built dist/, its
 * output kept, its read-only HTTP API polled. When the test ends, pass or fail, the process it
 * started is killed by its pid, and the node's containers and directories are removed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { onTestFinished } from 'vitest';
import type { Pod, PodList } from '../../common/api/types.js';
import { freePort, uniqueNodeName } from './test-node.js';
import { removeNodeContainers } from './docker.js';
import { unmountAll } from '../../agent/volumes/mounts.js';
import { NodeFlags } from '../../cli/node-flags.js';
import { waitFor, type WaitOptions } from './wait-for.js';

export const DockerletBin = resolve(import.meta.dirname, '../../dist/cli/main.js');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliProcess {
  child: ChildProcess;
  readonly stdout: string;
  readonly stderr: string;
  /** Resolves when the process has exited. */
  exited: Promise<CliResult>;
}

/** Runs `dockerlet <args>` and keeps its output; the process is killed when the test ends. */
export function runCli(args: readonly string[], options: { cwd?: string } = {}): CliProcess {
  const cli = spawnCli(args, options);
  onTestFinished(() => killCli(cli));
  return cli;
}

/** `dockerlet proxy --cleanup`: what a proxy this test ran left on the host goes. */
export async function cleanupProxyRules(rootDir: string): Promise<void> {
  const result = await spawnCli(['proxy', '--cleanup', '--root-dir', rootDir], {}).exited;
  if (result.code !== 0) throw new Error(`dockerlet proxy --cleanup failed: ${result.stderr}`);
}

/** Kills `cli` with SIGKILL unless it has exited, and waits for the exit. */
async function killCli(cli: CliProcess): Promise<void> {
  if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill('SIGKILL');
  await cli.exited;
}

function spawnCli(args: readonly string[], options: { cwd?: string }): CliProcess {
  const child = spawn(process.execPath, [...NodeFlags, DockerletBin, ...args], { cwd: options.cwd ?? process.cwd(), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const exited = new Promise<CliResult>((resolveExit) => {
    child.on('exit', (code, signal) => {
      // 'close' follows once the pipes have drained; wait for it so no output is lost.
      child.on('close', () => resolveExit({ code, signal, stdout, stderr }));
    });
  });
  return {
    child,
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
    exited,
  };
}

export interface AgentProcessOptions {
  /** The node's name (default: a unique one); cluster-mode tests make its credentials first. */
  nodeName?: string;
  /** `agent` (JSON logs) or `up` (text logs and a line per pod). */
  command?: 'agent' | 'up';
  /** Manifests to write before the first start. */
  manifests?: Record<string, string>;
  /** Pod manifest directory to use instead of a fresh one (e.g. the repository's manifests/). */
  manifestDir?: string;
  extraArgs?: string[];
  /** The process runs a service proxy: remove its rules and addresses when the test ends. */
  proxy?: boolean;
}

export interface AgentProcess {
  nodeName: string;
  manifestDir: string;
  rootDir: string;
  readOnlyPort: number;
  process: CliProcess;
  /** GET a path of the read-only API. */
  get(path: string): Promise<Response>;
  pods(): Promise<Pod[]>;
  pod(name: string): Promise<Pod | undefined>;
  waitForPod(name: string, what: string, predicate: (pod: Pod) => boolean, options?: WaitOptions): Promise<Pod>;
  /** Starts the same command again on the same node, directories and port (after the previous process exited). */
  restart(): Promise<AgentProcess>;
}

/** Starts the agent as a process on a fresh node, directories and port; resolves once /healthz answers. */
export async function startAgentProcess(options: AgentProcessOptions = {}): Promise<AgentProcess> {
  const nodeName = options.nodeName ?? uniqueNodeName('e2e');
  const base = await mkdtemp(join(tmpdir(), 'dockerlet-e2e-'));
  const manifestDir = options.manifestDir ?? join(base, 'manifests');
  const rootDir = join(base, 'root');
  await mkdir(manifestDir, { recursive: true });
  for (const [file, content] of Object.entries(options.manifests ?? {})) await writeFile(join(manifestDir, file), content);
  const readOnlyPort = await freePort();
  // The node's resolvers: loopback only, so that no name a pod or the cluster DNS forwards leaves this machine.
  const resolvConf = join(base, 'resolv.conf');
  await writeFile(resolvConf, 'nameserver 127.0.0.1\n');
  const processes: CliProcess[] = [];
  // One hook, in order: an agent still running would re-create the containers removed under it.
  onTestFinished(async () => {
    await Promise.all(processes.map(killCli));
    if (options.proxy) await cleanupProxyRules(rootDir);
    await removeNodeContainers(nodeName);
    // A stopped agent leaves its pods' tmpfs mounts in place, as it leaves their containers.
    await unmountAll(base);
    await rm(base, { recursive: true, force: true });
  });
  const args = [
    options.command ?? 'agent',
    '--pod-manifest-path',
    manifestDir,
    '--root-dir',
    rootDir,
    '--hostname-override',
    nodeName,
    '--address',
    '127.0.0.1',
    '--port',
    '0',
    '--read-only-port',
    String(readOnlyPort),
    '--resolv-conf',
    resolvConf,
    ...(options.extraArgs ?? []),
  ];
  return launch({ nodeName, manifestDir, rootDir, readOnlyPort, args }, processes);
}

interface AgentSetup {
  nodeName: string;
  manifestDir: string;
  rootDir: string;
  readOnlyPort: number;
  args: string[];
}

async function launch(setup: AgentSetup, processes: CliProcess[]): Promise<AgentProcess> {
  const cli = spawnCli(setup.args, {});
  processes.push(cli);
  const base = `http://127.0.0.1:${setup.readOnlyPort}`;
  const get = (path: string): Promise<Response> => fetch(`${base}${path}`);
  await Promise.race([
    waitFor('the agent to serve /healthz', async () => (await get('/healthz')).status === 200, { timeoutMs: 30_000 }),
    cli.exited.then((result) => {
      throw new Error(`the agent exited early (code ${result.code}): ${result.stderr.slice(-2000)}`);
    }),
  ]);
  const pods = async (): Promise<Pod[]> => ((await (await get('/pods')).json()) as PodList).items;
  const agent: AgentProcess = {
    ...setup,
    process: cli,
    get,
    pods,
    async pod(name) {
      return (await pods()).find((p) => p.metadata?.name === `${name}-${setup.nodeName}`);
    },
    waitForPod(name, what, predicate, options) {
      return waitFor(`pod ${name}: ${what}`, async () => {
        const pod = await agent.pod(name);
        return pod && predicate(pod) ? pod : undefined;
      }, options);
    },
    async restart() {
      if (cli.child.exitCode === null && cli.child.signalCode === null) throw new Error('restart() needs the previous process to have exited');
      return launch(setup, processes);
    },
  };
  return agent;
}

/**
 * The value of the sample `name{labels}` in Prometheus text, or undefined: the sample's labels
 * must all be there, in any order (`name` alone matches an unlabelled sample).
 */
export function metricValue(text: string, sample: string): number | undefined {
  const wanted = parseSample(sample);
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || !line.startsWith(wanted.name)) continue;
    const space = line.lastIndexOf(' ');
    const found = parseSample(line.slice(0, space));
    if (found.name !== wanted.name || found.labels.size !== wanted.labels.size) continue;
    if ([...wanted.labels].every(([key, value]) => found.labels.get(key) === value)) return Number(line.slice(space + 1));
  }
  return undefined;
}

function parseSample(sample: string): { name: string; labels: Map<string, string> } {
  const brace = sample.indexOf('{');
  if (brace === -1) return { name: sample, labels: new Map() };
  const labels = new Map<string, string>();
  for (const match of sample.slice(brace + 1, -1).matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels.set(match[1]!, match[2]!);
  return { name: sample.slice(0, brace), labels };
}
