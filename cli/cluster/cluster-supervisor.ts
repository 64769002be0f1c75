/**
 * A cluster's processes, started in order and supervised while `cluster up` runs: each
 * component is started, then waited on until it serves (etcd healthy, the API server ready, the
 * default ServiceAccount's token made, a further node's engine answering, each node Ready)
 * before the next one that needs it; what one needs first is done before it starts: the local
 * provisioner's role binding and StorageClass, with several nodes the Nodes with their subnets,
 * and the pause image in a further node's engine.
 * cluster.json records this process and every component's pid as they start and restart, so
 * that `status` and `down` find them; stop() ends them, the node first (the records stay, with
 * their restarts, and count as stopped since their pids no longer run their command lines).
 */
import { readFile } from 'node:fs/promises';
import { DockerletError } from '../../common/api/errors.js';
import { delay } from '../../common/util/clock.js';
import { ClusterEndpoints } from './cluster-endpoints.js';
import { Defaults } from '../options.js';
import { clusterComponents, componentKind, type ClusterComponent, type ClusterLayout, type ComponentName } from './cluster-layout.js';
import type { ClusterState, ClusterStateFile } from './cluster-state.js';
import { LocalProvisionerUser } from './cluster-pki.js';
import { componentSpecs, nodeObjects, storageDefaults, type ClusterSpec } from './components.js';
import { commandLine, endProcess, isRunning } from './processes.js';
import { HostEngineSocket, type NodeHost } from './node-hosts.js';
import { SupervisedProcess } from './supervisor.js';
import { copyImages, hasImage } from '../../agent/runtime/docker/image-transfer.js';

type Kind = ClusterComponent | 'dockerd';
/** How long each component may take to serve once started (a first start builds etcd's data and the API server's bootstrap RBAC). */
const ReadyTimeoutMs: Record<Kind, number> = { etcd: 60_000, 'kube-apiserver': 120_000, 'kube-controller-manager': 120_000, 'kube-scheduler': 0, 'local-provisioner': 0, dockerlet: 120_000, dockerd: 60_000 };
/** A node stops its pod workers and its proxy before it exits, an engine its containers; the control plane's processes stop at once. */
const StopGraceMs: Record<Kind, number> = { etcd: 10_000, 'kube-apiserver': 10_000, 'kube-controller-manager': 10_000, 'kube-scheduler': 10_000, 'local-provisioner': 10_000, dockerlet: 30_000, dockerd: 30_000 };
const graceOf = (name: ComponentName): number => StopGraceMs[componentKind(name).kind];
const PollMs = 250;

export class ClusterSupervisor {
  readonly #spec: ClusterSpec;
  readonly #stateFile: ClusterStateFile;
  readonly #endpoints: ClusterEndpoints;
  readonly #say: (line: string) => void;
  readonly #started: SupervisedProcess[] = [];

  constructor(spec: ClusterSpec, stateFile: ClusterStateFile, say: (line: string) => void) {
    this.#spec = spec;
    this.#stateFile = stateFile;
    this.#endpoints = new ClusterEndpoints(spec.layout, spec.ports);
    this.#say = say;
  }

  /** Starts every component, each once the one it needs serves; rejects (with what the component logged) when one does not in time, or when `signal` aborts. */
  async start(signal: AbortSignal): Promise<void> {
    for (const spec of componentSpecs(this.#spec)) {
      signal.throwIfAborted();
      await this.#prepare(spec.name);
      this.#say(`starting ${spec.name}`);
      const component = new SupervisedProcess(spec, {
        started: (pid) => this.#record(spec.name, (state) => {
          state.components[spec.name] = { pid, command: commandLine(spec.execs ?? [spec.command, ...spec.args]), startedAt: new Date().toISOString(), restarts: component.restarts };
        }),
        exited: (description, restartInMs) => {
          this.#say(`${spec.name} exited (${description}); starting it again in ${restartInMs / 1000}s (dockerlet cluster logs ${spec.name})`);
          this.#record(spec.name, (state) => {
            const recorded = state.components[spec.name];
            if (recorded) recorded.restarts = component.restarts + 1;
          });
        },
      });
      await component.start();
      this.#started.push(component);
      const { what, check } = this.#readiness(spec.name);
      await this.#waitFor(spec.name, what, check, ReadyTimeoutMs[componentKind(spec.name).kind], signal);
    }
  }

  /** What a component needs done before it starts. */
  async #prepare(name: ComponentName): Promise<void> {
    const { kind, ordinal } = componentKind(name);
    if (kind === 'local-provisioner' && ordinal === 1) await this.#endpoints.ensureObjects(storageDefaults(LocalProvisionerUser));
    if (kind === 'dockerlet' && ordinal === 1) await this.#endpoints.ensureObjects(nodeObjects(this.#spec.network));
    if (kind === 'dockerlet' && ordinal > 1) {
      // No registry between the engines: the pause image comes from this host's.
      const socket = this.#host(ordinal).socket;
      if (!(await hasImage(socket, Defaults.podInfraContainerImage))) {
        this.#say(`copying ${Defaults.podInfraContainerImage} into the engine of node ${this.#host(ordinal).name}`);
        await copyImages(HostEngineSocket, socket, [Defaults.podInfraContainerImage]);
      }
    }
  }

  /** What `name` serving means, checked: undefined once it does, else why not yet. */
  #readiness(name: ComponentName): { what: string; check: () => Promise<string | undefined> } {
    const { kind, ordinal } = componentKind(name);
    switch (kind) {
      case 'etcd':
        return { what: 'etcd to be healthy', check: async () => ((await this.#endpoints.etcdHealthy()) ? undefined : 'not healthy yet') };
      case 'kube-apiserver':
        return { what: 'kube-apiserver to be ready', check: () => this.#endpoints.apiServerNotReady() };
      case 'kube-controller-manager':
        return { what: "kube-controller-manager to make the default ServiceAccount's token", check: async () => ((await this.#endpoints.serviceAccountsReady()) ? undefined : 'no token yet') };
      case 'kube-scheduler':
      case 'local-provisioner':
        return { what: `${name} to start`, check: async () => undefined };
      case 'dockerd':
        return { what: `the Docker engine of node ${this.#host(ordinal).name} to answer`, check: () => this.#endpoints.engineNotAnswering(this.#host(ordinal).socket) };
      case 'dockerlet': {
        const node = this.#spec.network.nodes[ordinal - 1]!.name;
        const since = new Date();
        return { what: `node ${node} to be Ready`, check: () => this.#endpoints.nodeReadySince(node, since) };
      }
    }
  }

  #host(ordinal: number): NodeHost {
    return this.#spec.hosts!.hosts[ordinal - 2]!;
  }

  /** Ends every component started, the last started first. */
  async stop(): Promise<void> {
    for (const component of this.#started.splice(0).reverse()) {
      this.#say(`stopping ${component.spec.name}`);
      await component.stop(graceOf(component.spec.name));
    }
  }

  /** A change to cluster.json from a process event: a failed write is told, and the next write carries it. */
  #record(component: ComponentName, change: (state: ClusterState) => void): void {
    this.#stateFile.update(change).catch((err: unknown) => this.#say(`could not record ${component} in ${this.#stateFile.path}: ${(err as Error).message}`));
  }

  async #waitFor(component: ComponentName, what: string, check: () => Promise<string | undefined>, timeoutMs: number, signal: AbortSignal): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let reason = await check();
    while (reason !== undefined) {
      if (Date.now() >= deadline) {
        throw new DockerletError(
          'DKL_ERR_RUNTIME',
          `timed out after ${timeoutMs / 1000}s waiting for ${what} (${reason}); the end of ${this.#spec.layout.log(component)}:\n${await logTail(this.#spec.layout, component)}`,
        );
      }
      await delay(PollMs, signal, true);
      signal.throwIfAborted();
      reason = await check();
    }
  }
}

/**
 * Ends the components a killed `cluster up` left running, by their recorded pids, the node
 * first as `up` itself stops them.
 */
export async function endLeftoverComponents(state: ClusterState, say: (line: string) => void): Promise<void> {
  for (const component of clusterComponents(state.nodes ?? 1).reverse()) {
    const recorded = state.components[component];
    if (!recorded || !(await isRunning(recorded))) continue;
    say(`stopping ${component} (pid ${recorded.pid}), left running by a cluster up that is gone`);
    await endProcess(recorded, graceOf(component));
  }
}

/** The last lines a component logged. */
async function logTail(layout: ClusterLayout, component: ComponentName, lines = 15): Promise<string> {
  const text = await readFile(layout.log(component), 'utf8').catch(() => '');
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}
