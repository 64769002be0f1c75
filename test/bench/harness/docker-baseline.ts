/**
 * Baseline (a): the same pods started with the bare Docker API the minimal way a tool would do
 * it — a pause container on the pod network, then each container created and started in order
 * inside its network and IPC namespaces — with no agent around it. A pod is "Running" when its
 * last container's start has returned. It also starts single containers on a network of their
 * own (Docker's embedded DNS, for the DNS benchmark). Everything it makes carries a label of the
 * run, by which it is removed.
 */
import { docker, PauseImage, type ObservedEvent } from '../../helpers/docker.js';
import type { BenchContainer, BenchPod } from './pods.js';
import { now } from './clock.js';

/** dockerlet's pod network (created by the agent at its start): the same bridge, the same IPAM. */
const PodNetwork = 'dockerlet';
const BaselineLabel = 'dockerlet.bench/baseline';
const PodLabel = 'dockerlet.bench/pod';

export class DockerApiBaseline {
  readonly #run: string;

  constructor(runId: string) {
    this.#run = runId;
  }

  /** The label filter that selects what this run made (for Docker's events, say). */
  get labelFilter(): string {
    return `${BaselineLabel}=${this.#run}`;
  }

  /** The pod a container event is about. */
  static podName(event: ObservedEvent): string | undefined {
    return event.attributes[PodLabel];
  }

  /** Whether a container event is about a pod's sandbox (pause) container. */
  static isSandbox(event: ObservedEvent): boolean {
    return event.attributes['name']?.endsWith('_POD') === true;
  }

  /** Starts the pod; resolves with the ms from the first request to the last container started. */
  async start(pod: BenchPod): Promise<number> {
    const labels = { [BaselineLabel]: this.#run, [PodLabel]: pod.name };
    const started = now();
    const sandbox = await docker.createContainer({
      name: `bench_${this.#run}_${pod.name}_POD`,
      Image: PauseImage,
      Labels: labels,
      HostConfig: { NetworkMode: PodNetwork, IpcMode: 'shareable' },
    });
    await sandbox.start();
    for (const container of pod.containers) {
      const created = await docker.createContainer({
        name: `bench_${this.#run}_${pod.name}_${container.name}`,
        Image: container.image,
        Cmd: container.command,
        Labels: labels,
        HostConfig: { NetworkMode: `container:${sandbox.id}`, IpcMode: `container:${sandbox.id}` },
      });
      await created.start();
    }
    return now() - started;
  }

  /**
   * A user-defined bridge network, where Docker's embedded DNS (127.0.0.11) answers container
   * names. Internal: no route off the machine, and the embedded DNS forwards no name from it.
   */
  async createNetwork(name: string): Promise<void> {
    await docker.createNetwork({ Name: name, Driver: 'bridge', Internal: true, CheckDuplicate: true, Labels: { [BaselineLabel]: this.#run } });
  }

  /** Starts one container named `name` on `network`; resolves with its id once started. */
  async startContainer(name: string, container: Pick<BenchContainer, 'image' | 'command'>, network: string): Promise<string> {
    const created = await docker.createContainer({
      name,
      Image: container.image,
      Cmd: container.command,
      Labels: { [BaselineLabel]: this.#run },
      HostConfig: { NetworkMode: network },
    });
    await created.start();
    return created.id;
  }

  /** Removes every container of this run, then its networks. */
  async removeAll(): Promise<void> {
    const containers = await docker.listContainers({ all: true, filters: { label: [this.labelFilter] } });
    await Promise.all(containers.map((c) => docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined)));
    const networks = await docker.listNetworks({ filters: { label: [this.labelFilter] } });
    await Promise.all(networks.map((n) => docker.getNetwork(n.Id).remove().catch(() => undefined)));
  }
}
