/**
 * Running Kubernetes' e2e suite (e2e.test) against the cluster: the flags that fit a cluster with
 * no cloud provider, the list of specs a focus selects (a dry run), and the run itself, on
 * parallel ginkgo nodes when asked. Its output goes to a log file; its progress comes from the
 * suite's own progress reporter, which posts a line for each spec that ends to
 * --progress-report-url, here a server on loopback.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readJUnitReports } from './junit.js';
import type { Toolchain } from './toolchain.js';

export interface Selection {
  focus: string;
  skip?: string;
}

export interface SuiteRun extends Selection {
  kubeconfig: string;
  reportDir: string;
  logFile: string;
  /** Parallel ginkgo nodes; 1 runs e2e.test alone. */
  nodes: number;
  /** KUBE_TEST_REPO_LIST and --docker-config-file (image-registries.ts). */
  repoListFile: string;
  dockerConfigFile: string;
  /** Called as each spec ends, with the suite's message ("PASSED <name>", "FAILED <name>"). */
  onSpecDone(message: string): void;
}

/** What the specs `selection` picks are called, without running them. */
export async function listSpecs(toolchain: Toolchain, selection: Selection): Promise<string[]> {
  const reportDir = await mkdtemp(join(tmpdir(), 'dockerlet-conformance-list-'));
  try {
    const args = ['--ginkgo.dryRun', '--provider=skeleton', `--report-dir=${reportDir}`, ...selectionFlags(selection)];
    const code = await exitOf(spawn(toolchain.e2eTest, args, { stdio: 'ignore' }));
    if (code !== 0) throw new Error(`listing the specs (e2e.test --ginkgo.dryRun) failed with exit ${code}; is the focus a valid regular expression?`);
    return (await readJUnitReports(reportDir)).filter((spec) => spec.state === 'passed').map((spec) => spec.name);
  } finally {
    await rm(reportDir, { recursive: true, force: true });
  }
}

/** Runs the suite; resolves with its exit code. `signal` interrupts it (its processes get SIGINT, then SIGKILL). */
export async function runSuite(toolchain: Toolchain, run: SuiteRun, signal: AbortSignal): Promise<number | null> {
  const progress = await progressServer(run.onSpecDone);
  try {
    const suiteArgs = [
      '--provider=skeleton',
      `--kubeconfig=${run.kubeconfig}`,
      `--report-dir=${run.reportDir}`,
      '--disable-log-dump=true',
      // One node, which must be Ready; no system pods to wait for.
      '--allowed-not-ready-nodes=0',
      '--minStartupPods=0',
      '--node-os-distro=debian',
      `--docker-config-file=${run.dockerConfigFile}`,
      `--progress-report-url=${progress.url}`,
      ...selectionFlags(run),
      '--ginkgo.noColor',
    ];
    const [command, args] = run.nodes > 1 ? [toolchain.ginkgo, [`-nodes=${run.nodes}`, '-noColor', toolchain.e2eTest, '--', ...suiteArgs]] : [toolchain.e2eTest, suiteArgs];
    const log = openSync(run.logFile, 'a');
    // Its own process group: an interrupt reaches ginkgo's parallel nodes too.
    const child = spawn(command, args, { stdio: ['ignore', log, log], detached: true, env: { ...process.env, KUBE_TEST_REPO_LIST: run.repoListFile } });
    closeSync(log);
    const interrupt = (): void => {
      signalGroup(child.pid!, 'SIGINT');
      setTimeout(() => child.exitCode === null && child.signalCode === null && signalGroup(child.pid!, 'SIGKILL'), 30_000).unref();
    };
    signal.addEventListener('abort', interrupt, { once: true });
    try {
      return await exitOf(child);
    } finally {
      signal.removeEventListener('abort', interrupt);
    }
  } finally {
    await progress.close();
  }
}

/** Signals the process group `pid` leads; one already gone is no error. */
function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

function selectionFlags(selection: Selection): string[] {
  return [`--ginkgo.focus=${selection.focus}`, ...(selection.skip ? [`--ginkgo.skip=${selection.skip}`] : [])];
}

function exitOf(child: ReturnType<typeof spawn>): Promise<number | null> {
  return new Promise((resolveExit, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolveExit(code));
  });
}

/** A server on loopback for the suite's progress reporter: each POST is one JSON object with `msg`. */
async function progressServer(onMessage: (message: string) => void): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((request, response) => {
    void readBody(request).then((body) => {
      response.end();
      try {
        const message = (JSON.parse(body) as { msg?: unknown }).msg;
        if (typeof message === 'string' && /^(PASSED|FAILED) /.test(message)) onMessage(message);
      } catch {
        // Not the reporter's JSON: nothing to count.
      }
    });
  });
  await new Promise<void>((resolveListen) => server.listen(0, '127.0.0.1', resolveListen));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () =>
      new Promise((resolveClose) => {
        server.close(() => resolveClose());
        // The reporter's client keeps its connections alive.
        server.closeAllConnections();
      }),
  };
}

async function readBody(request: IncomingMessage): Promise<string> {
  let body = '';
  for await (const chunk of request) body += (chunk as Buffer).toString('utf8');
  return body;
}
