/**
 * One component of the cluster as a supervised child process: its output appended to its log
 * file, started again when it exits on its own, after a backoff that doubles from 1 s up to
 * 30 s and starts over once a minute has passed without an exit (client-go's backoff, as the
 * kubelet restarts containers). Each process leads a process group of its own, so that a
 * terminal's Ctrl-C reaches only `cluster up`, which stops the components in order. stop() ends
 * supervision first, then the process: SIGTERM, and SIGKILL after the grace period.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { Backoff } from '../../common/util/backoff.js';
import { monotonicClock, systemClock } from '../../common/util/clock.js';
import type { ComponentName } from './cluster-layout.js';

export interface ProcessSpec {
  name: ComponentName;
  command: string;
  args: readonly string[];
  /** The command line the process runs once started, when `command` execs another (nsenter): what /proc shows for it. */
  execs?: readonly string[];
  logFile: string;
}

export interface SupervisionEvents {
  started(pid: number): void;
  /** The process exited on its own; it starts again in `restartInMs`. */
  exited(description: string, restartInMs: number): void;
}

const RestartBackoff = { initialMs: 1_000, maxMs: 30_000 };

export class SupervisedProcess {
  readonly spec: ProcessSpec;
  readonly #events: SupervisionEvents;
  readonly #backoff = new Backoff({ ...RestartBackoff, clock: systemClock, monotonic: monotonicClock });
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  #restartTimer: NodeJS.Timeout | undefined;
  /** A restart under way: stop() waits for it, then stops what it started. */
  #restarting: Promise<void> | undefined;
  #stopped = false;
  #restarts = 0;

  constructor(spec: ProcessSpec, events: SupervisionEvents) {
    this.spec = spec;
    this.#events = events;
  }

  get restarts(): number {
    return this.#restarts;
  }

  /** Starts the process; rejects when it cannot be started at all (the command missing). */
  async start(): Promise<void> {
    const log = openSync(this.spec.logFile, 'a');
    let child: ChildProcess;
    try {
      child = spawn(this.spec.command, this.spec.args, { stdio: ['ignore', log, log], detached: true });
    } finally {
      closeSync(log);
    }
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', (err) => reject(new Error(`${this.spec.name} (${this.spec.command}) did not start: ${err.message}`)));
    });
    this.#child = child;
    this.#exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        resolve();
        this.#onExit(code === null ? `signal ${signal}` : `exit code ${code}`);
      });
    });
    this.#events.started(child.pid!);
  }

  /** Ends supervision and the process: SIGTERM, then SIGKILL after `graceMs`. */
  async stop(graceMs: number): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#restartTimer);
    await this.#restarting;
    const child = this.#child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await this.#exited;
    clearTimeout(killer);
  }

  #onExit(description: string): void {
    if (this.#stopped) return;
    this.#backoff.next(this.spec.name, Date.now());
    const restartInMs = this.#backoff.get(this.spec.name);
    this.#events.exited(description, restartInMs);
    this.#restartTimer = setTimeout(() => {
      this.#restarts += 1;
      this.#restarting = this.start().catch((err: unknown) => this.#onExit((err as Error).message));
    }, restartInMs);
  }
}
