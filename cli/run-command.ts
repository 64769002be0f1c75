/**
 * `dockerlet run -f PATH... [--wait] [--timeout 5m] [--rm]` and `dockerlet down -f PATH...`: the
 * library's test node for CI scripts, the counterpart of `podman kube play --wait` and
 * `podman kube down`.
 *
 *   run          the node goes on in the background (a detached process of its own): apply, wait
 *                when asked, print the pods and Services, exit 0 when all are Ready or Succeeded
 *                and 1 otherwise with each failed container's reason and last log lines; the pods
 *                stay up, restarted and probed, their Services served, for the next CI step
 *   run --rm     the node runs in this process until its pods have all ended, or Ctrl-C, and then
 *                everything it made is removed; exit 1 when a pod failed
 *   down         the node of the same paths (or --name) stops and removes everything it made
 *
 * The node is named for the paths (run-<hash>), so `down -f` with the same paths finds it.
 * Exit codes: 0 all ready or complete, 1 a pod failed or timed out (or a runtime error), 2 bad
 * flags or manifests.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { pino } from 'pino';
import { dnsLabel } from '../agent/config/validation/names.js';
import { errorMessage, isDockerletError } from '../common/api/errors.js';
import type { Pod } from '../common/api/types.js';
import { parseDuration } from '../common/util/duration.js';
import { PodWaitError } from '../library/pod-waits.js';
import { DefaultSessionsDir, endSession } from '../library/sessions.js';
import type { TestNode } from '../library/api.js';
import { launchNode } from '../library/test-node.js';
import { flagError } from './settings.js';
import { podTable, serviceTable } from './run-table.js';
import { NodeFlags } from './node-flags.js';

export interface RunFlags {
  filename: string[];
  name?: string;
  wait?: boolean;
  timeout: string;
  rm?: boolean;
  resolvConf?: string;
  /** Set on the detached process `run` starts: it reports its outcome to its parent over IPC, then serves on. */
  sessionChild?: boolean;
}

/** Where a background node of `run` logs: kept after `down`, for the CI job's artifacts. */
const RunLogDir = '/var/log/dockerlet';

/** The node name of these paths: the same for `run` and `down`, whatever order or spelling they were given in. */
export function runNodeName(paths: readonly string[]): string {
  const resolved = [...new Set(paths.map((path) => resolve(path)))].sort();
  return `run-${createHash('sha256').update(resolved.join('\0')).digest('hex').slice(0, 10)}`;
}

/** Where `run` prints: the terminal, or (the detached process) its parent, over IPC, in order with its outcome. */
interface Output {
  out(text: string): void;
  err(text: string): void;
}

type ChildMessage = { stream: 'stdout' | 'stderr'; text: string } | { exitCode: number };

const terminal: Output = { out: (text) => console.log(text), err: (text) => console.error(text) };

/** The detached process's output: to its parent while it listens (a parent gone takes nothing). */
const toParent: Output = {
  out: (text) => void (process.connected && process.send!({ stream: 'stdout', text } satisfies ChildMessage)),
  err: (text) => void (process.connected && process.send!({ stream: 'stderr', text } satisfies ChildMessage)),
};

function failure(output: Output, err: unknown): number {
  output.err(`dockerlet: ${errorMessage(err)}`);
  return isDockerletError(err) && (err.status === 2 || err.code === 'DKL_ERR_MANIFEST_INVALID') ? 2 : 1;
}

/** The exit code of a process stopped by `signal`, as shells report it. */
const signalExit = (signal: NodeJS.Signals): number => 128 + (signal === 'SIGINT' ? 2 : 15);

/** The --name of run and down: a node name, which also names the log file. */
function nodeName(flags: { filename: string[]; name?: string }): string {
  if (flags.name !== undefined && !dnsLabel.safeParse(flags.name).success) throw flagError('--name', flags.name, "must be a DNS label: lower case letters, digits and '-', at most 63");
  return flags.name ?? runNodeName(flags.filename);
}

export async function runManifests(flags: RunFlags): Promise<number> {
  const output = flags.sessionChild ? toParent : terminal;
  const fail = (err: unknown): number => failure(output, err);
  const timeoutMs = parseDuration(flags.timeout);
  let name: string;
  try {
    if (timeoutMs === undefined || timeoutMs <= 0) throw flagError('--timeout', flags.timeout, 'must be a duration such as 90s or 5m');
    name = nodeName(flags);
  } catch (err) {
    return fail(err);
  }
  const logFile = `${RunLogDir}/${name}.log`;
  if (!flags.rm && !flags.sessionChild) return runInBackground();

  // SIGINT or SIGTERM (Ctrl-C, `dockerlet down`, the parent gone) stops the node, whenever it comes.
  let node: TestNode | undefined;
  let stoppedBy: NodeJS.Signals | undefined;
  let reported = false;
  const stopped = new Promise<void>((resolveStopped) => {
    const onSignal = (signal: NodeJS.Signals): void => {
      if (stoppedBy) return;
      stoppedBy = signal;
      // A node still starting is stopped once it has started (below).
      void (node?.stop() ?? Promise.resolve())
        .catch((err: unknown) => failure(output, err))
        .finally(() => resolveStopped());
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    if (flags.sessionChild) process.once('disconnect', () => reported || onSignal('SIGTERM'));
  });
  const log = pino({ level: 'info', base: { pid: process.pid } }, pino.destination({ dest: logFile, sync: false, mkdir: true }));
  try {
    node = await launchNode({ name, logger: log, ...(flags.resolvConf ? { resolvConf: flags.resolvConf } : {}) }, 'dockerlet run');
  } catch (err) {
    return report(stoppedBy ? signalExit(stoppedBy) : fail(err));
  }
  if (stoppedBy) {
    await node.stop().catch((err: unknown) => failure(output, err));
    return report(signalExit(stoppedBy));
  }
  let code = 0;
  let waitFailure: PodWaitError | undefined;
  try {
    await node.apply(...flags.filename);
    if (flags.wait) await node.waitForPods(undefined, { timeout: timeoutMs });
  } catch (err) {
    if (stoppedBy) {
      await stopped;
      return report(signalExit(stoppedBy));
    }
    if (!(err instanceof PodWaitError)) code = fail(err);
    else [waitFailure, code] = [err, 1];
  }
  // With --rm, pods that have all ended are shown once, at the end; a failed wait's report follows the tables.
  if (code !== 2 && !(flags.rm && code === 0 && allEnded(node.pods()))) printTables(node, output);
  if (waitFailure) output.err(waitFailure.message);
  if (code === 2 || (flags.rm && code !== 0)) {
    await node.stop();
    return report(code);
  }
  if (!flags.rm) {
    output.out(`node ${name} runs on in the background (logs: ${logFile}); \`dockerlet down${flags.filename.map((path) => ` -f ${path}`).join('')}\` removes it`);
    report(code);
    await stopped;
    return code;
  }
  const ended = await Promise.race([allPodsEnded(node), stopped.then(() => undefined)]);
  if (!ended) return signalExit(stoppedBy!);
  const failed = ended.filter((pod) => pod.status?.phase === 'Failed');
  printTables(node, output);
  if (failed.length > 0) {
    output.err(`${failed.map((pod) => `${pod.metadata?.namespace}/${pod.metadata?.name}`).join(', ')} failed:\n${await node.troubleReport(failed)}`);
    code = 1;
  }
  await node.stop();
  return code;

  /** Hands `code` to the parent that started this detached process, once; its own exit code otherwise. */
  function report(exitCode: number): number {
    if (flags.sessionChild && !reported && process.connected) {
      reported = true;
      process.send!({ exitCode } satisfies ChildMessage, () => process.connected && process.disconnect());
    }
    return exitCode;
  }

  /**
   * `run` without --rm: the node in a detached copy of this command (a session of its own, so the
   * CI step's end does not end it), whose output comes over IPC until it reports its outcome; its
   * stderr (a crash's last words) goes to its log. Ctrl-C before then stops it too.
   */
  async function runInBackground(): Promise<number> {
    let logFd: number;
    try {
      await mkdir(RunLogDir, { recursive: true });
      logFd = openSync(logFile, 'a');
    } catch (err) {
      return fail(err);
    }
    const child = spawn(process.execPath, [...NodeFlags, process.argv[1]!, ...process.argv.slice(2), '--session-child'], { detached: true, stdio: ['ignore', 'ignore', logFd, 'ipc'] });
    closeSync(logFd);
    let reportedCode: number | undefined;
    let forwarded: NodeJS.Signals | undefined;
    const forward = (signal: NodeJS.Signals): void => {
      forwarded = signal;
      child.kill(signal);
    };
    process.on('SIGINT', forward);
    process.on('SIGTERM', forward);
    const code = await new Promise<number>((resolveCode) => {
      child.on('message', (message: ChildMessage) => {
        if ('stream' in message) return void (message.stream === 'stdout' ? terminal.out(message.text) : terminal.err(message.text));
        reportedCode = message.exitCode;
        if (child.connected) child.disconnect();
        child.unref();
        resolveCode(message.exitCode);
      });
      child.on('error', (err) => resolveCode(fail(err)));
      // 'close' comes after the last message: an outcome sent just before the end is not missed.
      child.on('close', (exitCode, signal) => {
        if (reportedCode !== undefined) return;
        if (forwarded) return resolveCode(signalExit(forwarded));
        terminal.err(`dockerlet: the node process ended (${signal ?? `exit code ${exitCode}`}) before it reported; see ${logFile}`);
        resolveCode(1);
      });
    });
    process.off('SIGINT', forward);
    process.off('SIGTERM', forward);
    return code;
  }
}

function printTables(node: TestNode, output: Output): void {
  const lines = [...podTable(node.pods()), '', ...serviceTable(node.services())];
  output.out(lines.join('\n').trimEnd());
}

/** Whether no pod runs on: each has Succeeded or Failed (manifests with no pod have nothing to run). */
const allEnded = (pods: readonly Pod[]): boolean => pods.every((pod) => pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed');

/** Resolves with the pods once every one has Succeeded or Failed. */
function allPodsEnded(node: TestNode): Promise<Pod[]> {
  return new Promise((resolveEnded) => {
    const check = (): void => {
      const pods = node.pods();
      if (allEnded(pods)) {
        unsubscribe();
        resolveEnded(pods);
      }
    };
    const unsubscribe = node.onPodsChanged(check);
    check();
  });
}

export async function downManifests(flags: { filename: string[]; name?: string }): Promise<number> {
  const log = pino({ level: 'warn' }, pino.destination({ fd: 2, sync: false }));
  let name: string;
  try {
    name = nodeName(flags);
    if (!(await endSession(DefaultSessionsDir, name, log))) {
      console.error(`dockerlet: no node ${name} of \`dockerlet run\` runs on this host${flags.name ? '' : ` (named for ${flags.filename.join(', ')}: give the paths run was given, or --name)`}`);
      return 1;
    }
  } catch (err) {
    return failure(terminal, err);
  }
  console.log(`node ${name} stopped: its pods, Services, network and directories are removed`);
  return 0;
}
