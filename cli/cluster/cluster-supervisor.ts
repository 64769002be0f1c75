/**
 * A cluster's processes, started in order and supervised while `cluster up` runs: each
 * component is started, then waited on until it serves (etcd healthy, the API server ready, the
 * default ServiceAccount's token made, the node Ready) before the next one that needs it; the
 * objects one needs in the API (the local provisioner's role binding and StorageClass) are
 * applied before it starts.
 * cluster.json records this process and every component's pid as they start and restart, so
 * that `status` and `down` find them; stop() ends them, the node first (the records stay, with
 * their restarts, and count as stopped since their pids no longer run their command lines).
 */
import { readFile } from 'node:fs/promises';
import { DockerletError } from '../../common/api/errors.js';
import { delay } from '../../common/util/clock.js';
import { ClusterEndpoints } from './cluster-endpoints.js';
import { ClusterComponents, type ClusterComponent, type ClusterLayout } from './cluster-layout.js';
import type { ClusterState, ClusterStateFile } from './cluster-state.js';
import { LocalProvisionerUser } from './cluster-pki.js';
import { componentSpecs, storageDefaults, type ClusterSpec } from './components.js';
import { commandLine, endProcess, isRunning } from './processes.js';
import { SupervisedProcess } from './supervisor.js';

/** How long each component may take to serve once started (a first start builds etcd's data and the API server's bootstrap RBAC). */
const ReadyTimeoutMs = { etcd: 60_000, 'kube-apiserver': 120_000, 'kube-controller-manager': 120_000, 'kube-scheduler': 0, 'local-provisioner': 0, dockerlet: 120_000 } as const;
/** The node stops its pod workers and its proxy before it exits; the control plane's processes stop at once. */
const StopGraceMs = { etcd: 10_000, 'kube-apiserver': 10_000, 'kube-controller-manager': 10_000, 'kube-scheduler': 10_000, 'local-provisioner': 10_000, dockerlet: 30_000 } as const;
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
    const ready: Record<ClusterComponent, { what: string; check: () => Promise<string | undefined> }> = {
      etcd: { what: 'etcd to be healthy', check: async () => ((await this.#endpoints.etcdHealthy()) ? undefined : 'not healthy yet') },
      'kube-apiserver': { what: 'kube-apiserver to be ready', check: () => this.#endpoints.apiServerNotReady() },
      'kube-controller-manager': {
        what: "kube-controller-manager to make the default ServiceAccount's token",
        check: async () => ((await this.#endpoints.serviceAccountsReady()) ? undefined : 'no token yet'),
      },
      'kube-scheduler': { what: 'kube-scheduler to start', check: async () => undefined },
      'local-provisioner': { what: 'the local provisioner to start', check: async () => undefined },
      dockerlet: {
        what: `node ${this.#spec.name} to be Ready`,
        check: async () => {
          const condition = await this.#endpoints.nodeReady(this.#spec.name);
          return condition === 'True' ? undefined : condition === undefined ? 'not registered yet' : `Ready is ${condition}`;
        },
      },
    };
    // What a component needs in the API before it starts: the local provisioner, its role and the default StorageClass.
    const prepare: Partial<Record<ClusterComponent, () => Promise<void>>> = {
      'local-provisioner': () => this.#endpoints.ensureObjects(storageDefaults(LocalProvisionerUser)),
    };
    for (const spec of componentSpecs(this.#spec)) {
      signal.throwIfAborted();
      await prepare[spec.name]?.();
      this.#say(`starting ${spec.name}`);
      const component = new SupervisedProcess(spec, {
        started: (pid) => this.#record(spec.name, (state) => {
          state.components[spec.name] = { pid, command: commandLine([spec.command, ...spec.args]), startedAt: new Date().toISOString(), restarts: component.restarts };
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
      const { what, check } = ready[spec.name];
      await this.#waitFor(spec.name, what, check, ReadyTimeoutMs[spec.name], signal);
    }
  }

  /** Ends every component started, the last started first. */
  async stop(): Promise<void> {
    for (const component of this.#started.splice(0).reverse()) {
      this.#say(`stopping ${component.spec.name}`);
      await component.stop(StopGraceMs[component.spec.name]);
    }
  }

  /** A change to cluster.json from a process event: a failed write is told, and the next write carries it. */
  #record(component: ClusterComponent, change: (state: ClusterState) => void): void {
    this.#stateFile.update(change).catch((err: unknown) => this.#say(`could not record ${component} in ${this.#stateFile.path}: ${(err as Error).message}`));
  }

  async #waitFor(component: ClusterComponent, what: string, check: () => Promise<string | undefined>, timeoutMs: number, signal: AbortSignal): Promise<void> {
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
  for (const component of [...ClusterComponents].reverse()) {
    const recorded = state.components[component];
    if (!recorded || !(await isRunning(recorded))) continue;
    say(`stopping ${component} (pid ${recorded.pid}), left running by a cluster up that is gone`);
    await endProcess(recorded, StopGraceMs[component]);
  }
}

/** The last lines a component logged. */
async function logTail(layout: ClusterLayout, component: ClusterComponent, lines = 15): Promise<string> {
  const text = await readFile(layout.log(component), 'utf8').catch(() => '');
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}
