/**
 * A cluster under test: `dockerlet cluster up --detach` (etcd, kube-apiserver,
 * kube-controller-manager, kube-scheduler, and dockerlet as node `name`) in a directory of its
 * own, its API server on a port free on loopback, its node's DNS given a resolv.conf with no
 * nameserver (as the benchmarks' standalone dockerlet), so that no query leaves the machine.
 * kubectl reaches it with the admin
 * kubeconfig; its processes are found by the pids cluster.json records; `cluster down` removes
 * all of it: the processes, the node's containers, rules and mounts, the directory.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ClusterComponents, ClusterLayout, type ClusterComponent } from '../../../cli/cluster/cluster-layout.js';
import { readClusterState, type ClusterState } from '../../../cli/cluster/cluster-state.js';
import { freePort, uniqueNodeName } from '../../helpers/test-node.js';
import { now } from './clock.js';
import { DockerletBin } from './dockerlet-process.js';

const run = promisify(execFile);

/** The supervising `cluster up --detach` left running in the background, beside the components. */
export const Supervisor = 'cluster up';
export type ClusterProcess = ClusterComponent | typeof Supervisor;

/** The steps of an up in order: the command run, each component's process started, the command returned (the node Ready). */
export type UpStep = 'invoked' | ClusterComponent | 'returned';

export interface ClusterUp {
  /** When each step happened, epoch ms (the components' from cluster.json). */
  at: Record<UpStep, number>;
  /** Component restarts during the up: each moves that component's start time. */
  restarts: number;
}

export class ClusterUnderTest {
  /** The cluster's name, its node's too. */
  readonly name: string;
  readonly layout: ClusterLayout;
  readonly #base: string;
  #upInvoked = false;

  private constructor(name: string, base: string) {
    this.name = name;
    this.#base = base;
    this.layout = new ClusterLayout(join(base, 'cluster'));
  }

  /** A new name and directory; nothing runs yet. */
  static async create(): Promise<ClusterUnderTest> {
    const base = await mkdtemp(join(tmpdir(), 'dockerlet-bench-cluster-'));
    await writeFile(join(base, 'resolv.conf'), '# dockerlet benchmarks: no nameserver, so no DNS query leaves this machine\n');
    return new ClusterUnderTest(uniqueNodeName('bench'), base);
  }

  /** `cluster up --detach`, which returns once the node is Ready; when each step happened. */
  async up(): Promise<ClusterUp> {
    const apiServerPort = await freePort();
    this.#upInvoked = true;
    const invoked = now();
    await this.#cluster('up', '--api-server-port', String(apiServerPort), '--resolv-conf', join(this.#base, 'resolv.conf'), '--detach');
    const returned = now();
    const { components } = await this.state();
    const started = (component: ClusterComponent): number => Date.parse(this.#recorded(components, component).startedAt);
    return {
      at: { invoked, ...Object.fromEntries(ClusterComponents.map((c) => [c, started(c)])), returned } as Record<UpStep, number>,
      restarts: ClusterComponents.reduce((sum, c) => sum + this.#recorded(components, c).restarts, 0),
    };
  }

  async state(): Promise<ClusterState> {
    const state = await readClusterState(this.layout.stateFile);
    if (!state) throw new Error(`no cluster.json in ${this.layout.dir}`);
    return state;
  }

  /** The pid of each component and of the supervising `cluster up`. */
  async pids(): Promise<Record<ClusterProcess, number>> {
    const state = await this.state();
    if (!state.supervisor) throw new Error(`cluster ${this.name}: no supervising cluster up recorded`);
    const components = Object.fromEntries(ClusterComponents.map((c) => [c, this.#recorded(state.components, c).pid]));
    return { ...components, [Supervisor]: state.supervisor.pid } as Record<ClusterProcess, number>;
  }

  /** kubectl with the admin kubeconfig; resolves with its stdout. */
  async kubectl(...args: string[]): Promise<string> {
    return (await run('kubectl', ['--kubeconfig', this.layout.adminKubeconfig, ...args], { maxBuffer: 16 * 1024 * 1024 })).stdout;
  }

  /**
   * `cluster down` when an up was tried (whatever it did), then the rest of the directory;
   * resolves with how long `down` took. When `down` fails, the directory stays, so that
   * running it again can finish.
   */
  async down(): Promise<number> {
    const invoked = now();
    if (this.#upInvoked) await this.#cluster('down');
    const took = now() - invoked;
    await rm(this.#base, { recursive: true, force: true });
    return took;
  }

  #recorded(components: ClusterState['components'], component: ClusterComponent): NonNullable<ClusterState['components'][ClusterComponent]> {
    const recorded = components[component];
    if (!recorded) throw new Error(`cluster ${this.name}: no ${component} recorded in ${this.layout.stateFile}`);
    return recorded;
  }

  async #cluster(command: string, ...args: string[]): Promise<void> {
    const argv = [DockerletBin, 'cluster', command, '--name', this.name, '--dir', this.layout.dir, ...args];
    try {
      await run(process.execPath, argv, { maxBuffer: 16 * 1024 * 1024 });
    } catch (err) {
      const { stdout = '', stderr = '' } = err as { stdout?: string; stderr?: string };
      const said = `${stdout}${stderr}`.trimEnd().split('\n').slice(-20).join('\n');
      throw new Error(`dockerlet cluster ${command} --name ${this.name} --dir ${this.layout.dir} failed:\n${said}`, { cause: err });
    }
  }
}
