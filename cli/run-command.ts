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
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { pino, type Logger } from 'pino';
import { errorMessage, isDockerletError } from '../common/api/errors.js';
import type { Pod } from '../common/api/types.js';
import { parseDuration } from '../common/util/duration.js';
import { PodWaitError } from '../library/pod-waits.js';
import { DefaultSessionsDir, endSession } from '../library/sessions.js';
import type { TestNode } from '../library/api.js';
import { startNode } from '../library/test-node.js';
import { flagError } from './settings.js';
import { podTable, serviceTable } from './run-table.js';

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

const toParent: Output = {
  out: (text) => process.send?.({ stream: 'stdout', text } satisfies ChildMessage),
  err: (text) => process.send?.({ stream: 'stderr', text } satisfies ChildMessage),
};

function failure(output: Output, err: unknown): number {
  output.err(`dockerlet: ${errorMessage(err)}`);
  return isDockerletError(err) && (err.status === 2 || err.code === 'DKL_ERR_MANIFEST_INVALID') ? 2 : 1;
}

export async function runManifests(flags: RunFlags): Promise<number> {
  const output = flags.sessionChild ? toParent : terminal;
  const fail = (err: unknown): number => failure(output, err);
  const timeoutMs = parseDuration(flags.timeout);
  if (timeoutMs === undefined || timeoutMs <= 0) return fail(flagError('--timeout', flags.timeout, 'must be a duration such as 90s or 5m'));
  const name = flags.name ?? runNodeName(flags.filename);
  const logFile = `${RunLogDir}/${name}.log`;
  if (!flags.rm && !flags.sessionChild) return runInBackground();

  await mkdir(RunLogDir, { recursive: true });
  const log = pino({ level: 'info', base: { pid: process.pid } }, pino.destination({ dest: logFile, sync: false }));
  let node: TestNode;
  try {
    node = await startNode({ name, logger: log, ...(flags.resolvConf ? { resolvConf: flags.resolvConf } : {}) });
  } catch (err) {
    return report(fail(err));
  }
  const stopping = untilStopped(node, log);
  let code = 0;
  let waitFailure: PodWaitError | undefined;
  try {
    await node.apply(...flags.filename);
    if (flags.wait) await node.waitForPods(undefined, { timeout: timeoutMs });
  } catch (err) {
    if (!(err instanceof PodWaitError)) code = fail(err);
    else [waitFailure, code] = [err, 1];
  }
  // With --rm, pods that have all ended are shown once, at the end; a failed wait's report follows the tables.
  if (!(flags.rm && code === 0 && allEnded(node.pods()))) printTables(node, output);
  if (waitFailure) output.err(waitFailure.message);
  if (code === 2 || (flags.rm && code !== 0)) {
    await node.stop();
    return report(code);
  }
  if (!flags.rm) {
    output.out(`node ${name} runs on in the background (logs: ${logFile}); \`dockerlet down${flags.filename.map((path) => ` -f ${path}`).join('')}\` removes it`);
    report(code);
    return stopping.then(() => code);
  }
  const ended = await Promise.race([allPodsEnded(node), stopping.then(() => undefined)]);
  if (ended) {
    const failed = ended.filter((pod) => pod.status?.phase === 'Failed');
    printTables(node, output);
    if (failed.length > 0) {
      output.err(`${failed.map((pod) => `${pod.metadata?.namespace}/${pod.metadata?.name}`).join(', ')} failed:\n${await node.troubleReport(failed)}`);
      code = 1;
    }
    await node.stop();
  }
  return code;

  /** Hands `code` to the parent that started this detached process; its own exit code otherwise. */
  function report(exitCode: number): number {
    if (flags.sessionChild && process.connected) {
      process.send!({ exitCode } satisfies ChildMessage);
      process.disconnect();
    }
    return exitCode;
  }

  /**
   * `run` without --rm: the node in a detached copy of this command (a session of its own, so the
   * CI step's end does not end it), whose output comes over IPC until it reports its outcome.
   */
  function runInBackground(): Promise<number> {
    const child = spawn(process.execPath, [process.argv[1]!, ...process.argv.slice(2), '--session-child'], { detached: true, stdio: ['ignore', 'ignore', 'ignore', 'ipc'] });
    let reported = false;
    return new Promise((resolveCode) => {
      child.on('message', (message: ChildMessage) => {
        if ('stream' in message) return void (message.stream === 'stdout' ? terminal.out(message.text) : terminal.err(message.text));
        reported = true;
        child.disconnect();
        child.unref();
        resolveCode(message.exitCode);
      });
      child.on('exit', (exitCode, signal) => {
        if (reported) return;
        terminal.err(`dockerlet: the node process ended (${signal ?? `exit code ${exitCode}`}) before it reported; its log is ${logFile}`);
        resolveCode(1);
      });
    });
  }
}

function printTables(node: TestNode, output: Output): void {
  const lines = [...podTable(node.pods()), '', ...serviceTable(node.services())];
  output.out(lines.join('\n').trimEnd());
}

/** Resolves once SIGINT or SIGTERM has stopped the node and removed what it made. */
function untilStopped(node: TestNode, log: Logger): Promise<void> {
  return new Promise((resolveStop) => {
    const onSignal = (signal: NodeJS.Signals): void => {
      log.info({ signal }, 'stopping; removing everything the node made');
      void node.stop().finally(() => resolveStop());
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  });
}

const allEnded = (pods: readonly Pod[]): boolean => pods.length > 0 && pods.every((pod) => pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed');

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
  const name = flags.name ?? runNodeName(flags.filename);
  const log = pino({ level: 'warn' }, pino.destination({ fd: 2, sync: false }));
  try {
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
