/**
 * The subject of the benchmarks: `dockerlet up` (what npm start runs: the agent and the service
 * proxy in one process) as a real process on a node of its own. When a pod's phase or readiness
 * changes, `up` prints a line; the harness stamps each line as it arrives, so "pod Running" and
 * "pod Ready" are the agent's own reports, read without polling its API (which would load the
 * process being measured). Logs are JSON on stderr, kept for the events they carry.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { mkdir, mkdtemp, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { unmountAll } from '../../../agent/volumes/mounts.js';
import { NodeFlags } from '../../../cli/node-flags.js';
import { docker, removeNodeContainers } from '../../helpers/docker.js';
import { freePort, uniqueNodeName } from '../../helpers/test-node.js';
import { waitFor } from '../../helpers/wait-for.js';
import { now } from './clock.js';
import { podManifest, yamlDocuments, type BenchPod } from './pods.js';
import { processUsage, type ProcessUsage } from './proc-usage.js';

/** The built CLI (npm run build): what the benchmarks run as `dockerlet`. */
export const DockerletBin = resolve(import.meta.dirname, '../../../dist/cli/main.js');
const run = promisify(execFile);

export interface PodLine {
  time: number;
  /** The pod's full name, `<name>-<node>`. */
  pod: string;
  phase: string;
  ready: boolean;
  ip?: string;
}

export interface ServiceLine {
  time: number;
  /** `<name>` or `<name> (<port name>)`. */
  service: string;
  clusterIP: string;
  port: number;
  nodePort?: number;
}

export interface LogRecord {
  time: number;
  msg: string;
  event?: string;
  object?: string;
  [field: string]: unknown;
}

const PodLinePattern = /^pod [^/]+\/(\S+): (\w+)(, Ready)?(?: ip=(\S+))?/;
const ServiceLinePattern = /^service [^/]+\/(.+?): (\d+\.\d+\.\d+\.\d+):(\d+)\/\w+(?:, NodePort (\d+))?/;

export interface StartOptions {
  /** Datapath of the in-process proxy (default: iptables). */
  proxyMode?: 'iptables' | 'userspace';
  /** Options for node itself, such as --cpu-prof (profiles). */
  nodeOptions?: string[];
}

export class DockerletUnderTest {
  readonly nodeName: string;
  readonly manifestDir: string;
  readonly rootDir: string;
  readonly readOnlyPort: number;
  readonly podLines: PodLine[] = [];
  readonly serviceLines: ServiceLine[] = [];
  readonly logs: LogRecord[] = [];
  readonly #base: string;
  readonly #child: ChildProcess;
  readonly #changed = new EventEmitter();
  readonly #exited: Promise<number | null>;
  #exitCode: number | null | undefined;
  /** Set once the process has printed that it is running. */
  #running = false;

  private constructor(init: { nodeName: string; base: string; readOnlyPort: number; child: ChildProcess }) {
    this.nodeName = init.nodeName;
    this.#base = init.base;
    this.manifestDir = join(init.base, 'manifests');
    this.rootDir = join(init.base, 'root');
    this.readOnlyPort = init.readOnlyPort;
    this.#child = init.child;
    this.#changed.setMaxListeners(0);
    this.#follow(init.child.stdout!, (line) => this.#onStdout(line));
    this.#follow(init.child.stderr!, (line) => this.#onStderr(line));
    this.#exited = new Promise((resolveExit) =>
      init.child.on('close', (code) => {
        this.#exitCode = code;
        this.#changed.emit('change');
        resolveExit(code);
      }),
    );
  }

  /** Starts `dockerlet up` on a fresh node and directories; resolves once it says it is running. */
  static async start(options: StartOptions = {}): Promise<DockerletUnderTest> {
    const nodeName = uniqueNodeName('bench');
    const base = await mkdtemp(join(tmpdir(), 'dockerlet-bench-'));
    await mkdir(join(base, 'manifests'));
    // The node's resolvers: none, so that the cluster DNS forwards no name and no query of a
    // benchmark leaves the machine. (Not a loopback nameserver: where systemd-resolved runs,
    // dockerlet takes the servers it lists instead, as the kubelet's resolvConf would.)
    const resolvConf = join(base, 'resolv.conf');
    await writeFile(resolvConf, '# dockerlet benchmarks: no nameserver, so that no DNS query leaves this machine\n');
    const readOnlyPort = await freePort();
    const healthzPort = await freePort();
    const args = [
      ...NodeFlags,
      ...(options.nodeOptions ?? []),
      DockerletBin,
      'up',
      '--pod-manifest-path', join(base, 'manifests'),
      '--root-dir', join(base, 'root'),
      '--hostname-override', nodeName,
      '--address', '127.0.0.1',
      '--port', '0',
      '--read-only-port', String(readOnlyPort),
      '--healthz-bind-address', `127.0.0.1:${healthzPort}`,
      '--resolv-conf', resolvConf,
      '--proxy-mode', options.proxyMode ?? 'iptables',
      '--logging-format', 'json',
    ];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const subject = new DockerletUnderTest({ nodeName, base, readOnlyPort, child });
    await subject.until('dockerlet to start', () => subject.#running || undefined, 60_000);
    return subject;
  }

  get pid(): number {
    return this.#child.pid!;
  }

  /** `<name>-<node>`, the name the agent gives a static pod. */
  fullName(name: string): string {
    return `${name}-${this.nodeName}`;
  }

  /**
   * Writes each manifest whole (dot-files, which the agent ignores, renamed into place), all at
   * once; returns the time just before the first rename.
   */
  async writeManifests(manifests: ReadonlyMap<string, string>): Promise<number> {
    for (const [file, content] of manifests) await writeFile(join(this.manifestDir, `.${file}.tmp`), content);
    const time = now();
    await Promise.all([...manifests.keys()].map((file) => rename(join(this.manifestDir, `.${file}.tmp`), join(this.manifestDir, file))));
    return time;
  }

  /** Writes one manifest file per pod (`<name>.yaml`), all at once; returns the time of the write. */
  writePods(pods: readonly BenchPod[]): Promise<number> {
    return this.writeManifests(new Map(pods.map((pod) => [`${pod.name}.yaml`, yamlDocuments([podManifest(pod)])])));
  }

  /** Deletes manifest files at once; returns the time just before the first delete. */
  async removeManifests(files: readonly string[]): Promise<number> {
    const time = now();
    await Promise.all(files.map((file) => unlink(join(this.manifestDir, file))));
    return time;
  }

  /** Deletes the pods' manifests and waits until their containers are gone (teardown, not timed). */
  async removePods(names: readonly string[]): Promise<void> {
    await this.removeManifests(names.map((name) => `${name}.yaml`));
    await Promise.all(names.map((name) => this.waitGone(this.fullName(name))));
  }

  /**
   * For each pod (by its manifest name), the time of its first line at or after `since` that
   * `predicate` accepts; waits until every pod has one.
   */
  waitForPods(names: readonly string[], predicate: (line: PodLine) => boolean, since: number, timeoutMs: number): Promise<Map<string, number>> {
    const full = names.map((name) => this.fullName(name));
    return this.until(
      `${names.length} pod(s) to report ${predicate.toString()}`,
      () => {
        const times = new Map<string, number>();
        for (const [i, pod] of full.entries()) {
          const line = this.podLine(pod, predicate, since);
          if (!line) return undefined;
          times.set(names[i]!, line.time);
        }
        return times;
      },
      timeoutMs,
    );
  }

  /** The first line for `pod` (full name) at or after `since` that `predicate` accepts. */
  podLine(pod: string, predicate: (line: PodLine) => boolean, since = 0): PodLine | undefined {
    return this.podLines.find((line) => line.pod === pod && line.time >= since && predicate(line));
  }

  /** Resolves with `check`'s first value other than undefined, checked at each line the process writes. */
  until<T>(what: string, check: () => T | undefined, timeoutMs: number): Promise<T> {
    return new Promise((resolvePromise, reject) => {
      const evaluate = (): void => {
        const value = check();
        if (value !== undefined) {
          done();
          resolvePromise(value);
        } else if (this.#exitCode !== undefined) {
          done();
          reject(new Error(`dockerlet exited (code ${String(this.#exitCode)}) while waiting for ${what}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        this.#changed.off('change', evaluate);
      };
      this.#changed.on('change', evaluate);
      evaluate();
    });
  }

  /** Waits until the pod `name` has no container left on this node (teardown, not timed). */
  async waitGone(fullName: string, timeoutMs = 120_000): Promise<void> {
    await waitFor(
      `the containers of ${fullName} to be removed`,
      async () => (await docker.listContainers({ all: true, filters: { label: [`dockerlet.io/node=${this.nodeName}`, `io.kubernetes.pod.name=${fullName}`] } })).length === 0,
      { timeoutMs, intervalMs: 100 },
    );
  }

  usage(): Promise<ProcessUsage> {
    return processUsage(this.pid);
  }

  /** The read-only API's /metrics text. */
  async metrics(): Promise<string> {
    return (await fetch(`http://127.0.0.1:${this.readOnlyPort}/metrics`)).text();
  }

  /** Stops the process, then removes everything of this node: containers, proxy rules, mounts, directories. */
  async stop(): Promise<void> {
    if (this.#exitCode === undefined) {
      this.#child.kill('SIGINT');
      const timer = setTimeout(() => this.#child.kill('SIGKILL'), 20_000);
      await this.#exited;
      clearTimeout(timer);
    }
    await removeNodeContainers(this.nodeName);
    await run(process.execPath, [DockerletBin, 'proxy', '--cleanup', '--root-dir', this.rootDir]);
    await unmountAll(this.#base);
    await rm(this.#base, { recursive: true, force: true });
  }

  #follow(stream: NodeJS.ReadableStream, onLine: (line: string) => void): void {
    let pending = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) onLine(line);
      this.#changed.emit('change');
    });
  }

  #onStdout(line: string): void {
    const time = now();
    const pod = PodLinePattern.exec(line);
    if (pod) {
      this.podLines.push({ time, pod: pod[1]!, phase: pod[2]!, ready: pod[3] !== undefined, ...(pod[4] ? { ip: pod[4] } : {}) });
      return;
    }
    const service = ServiceLinePattern.exec(line);
    if (service) {
      this.serviceLines.push({ time, service: service[1]!, clusterIP: service[2]!, port: Number(service[3]), ...(service[4] ? { nodePort: Number(service[4]) } : {}) });
      return;
    }
    if (line.startsWith('dockerlet is running')) this.#running = true;
  }

  #onStderr(line: string): void {
    if (!line.startsWith('{')) return;
    try {
      this.logs.push(JSON.parse(line) as LogRecord);
    } catch {
      // A line cut by the process's exit: nothing to keep.
    }
  }
}
