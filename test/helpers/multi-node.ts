/**
 * Several dockerlet nodes on this one machine, each as if it were a host of its own, for the
 * end-to-end tests of a cluster's pod network:
 *
 *   host netns   bridge mnbr<pid> 10.251.0.1/24 (the API server binds here)
 *                  │ veth mn<pid>v<i>        (one per node)
 *   node i       netns dkl-mn-<pid>-<i>: eth0 10.251.0.(10+i)/24, lo up,
 *                10.96.0.0/16 via 10.251.0.1 (a service packet no rule rewrote goes to the host,
 *                whose guard rejects it), no default route: nothing leaves the machine.
 *                Its own dockerd (and managed containerd) inside the namespace, iptables on,
 *                the host setup's service CIDR guard in its tables;
 *                its own `dockerlet up` joined to that dockerd's mount and network namespaces.
 *
 * Where br_netfilter is loaded, frames bridged between the nodes go through the host's own
 * iptables, so the host gets two rules of the test's: FORWARD (policy DROP under Docker) accepts
 * them, and nat POSTROUTING returns them before any host masquerade (a host pod network of
 * 10.244.0.0/16, as a host dockerlet's, is masqueraded `! -o` its bridge: that would rewrite the
 * pod addresses the nodes exchange). Everything is removed by destroy(), pass or fail: the agents (by their
 * pids), each engine's containers and the engine, the namespaces, the links, the rule, the
 * directories and the nodes' cgroups.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { unmountAll } from '../../agent/volumes/mounts.js';
import { NodeFlags } from '../../cli/node-flags.js';
import { removeNodeCgroups } from './agent-harness.js';
import { DockerletBin } from './agent-process.js';
import { ServiceClusterIPRange, type ControlPlane } from './control-plane.js';
import { startPrivateDocker, type PrivateDocker } from './private-docker.js';
import { waitFor } from './wait-for.js';

const run = promisify(execFile);
/** The guard chain's name, as scripts/setup-host.sh makes it. */
const ServiceGuardChain = 'DOCKERLET-SERVICE-GUARD';

/** The host's address on the nodes' network: the API server's. */
export const HostAddress = '10.251.0.1';
/** The CIDR the controller manager gives each Node a /24 of. */
export const ClusterCIDR = '10.244.0.0/16';
export const NodeCIDRMaskSize = 24;

export interface LabNode {
  readonly index: number;
  readonly name: string;
  /** Its address on the nodes' network (InternalIP). */
  readonly ip: string;
  readonly netns: string;
  /** Where its root dir, kubeconfig files and log are. */
  readonly dir: string;
  /** Everything its agent printed, across its starts. */
  readonly logFile: string;
  /** The cgroup its pods go under (--cgroup-root). */
  readonly podsCgroup: string;
  engine: PrivateDocker | undefined;
  agent: ChildProcess | undefined;
}

export class MultiNodeLab {
  readonly nodes: LabNode[];
  readonly #bridge: string;
  readonly #forwardRule: string[];
  readonly #natRule: string[];
  readonly #base: string;
  readonly #images: readonly string[];
  #plane: ControlPlane | undefined;
  #destroyed: Promise<void> | undefined;
  #forwardRuleAdded = false;
  readonly #crashes: Array<Promise<string>> = [];
  #bridgeAdded = false;
  readonly #netnsAdded = new Set<string>();

  private constructor(base: string, count: number, images: readonly string[]) {
    const id = process.pid % 100_000;
    this.#base = base;
    this.#images = images;
    this.#bridge = `mnbr${id}`;
    const comment = ['-m', 'comment', '--comment', `dockerlet multi-node test ${process.pid}`];
    this.#forwardRule = ['FORWARD', '-i', this.#bridge, '-o', this.#bridge, ...comment, '-j', 'ACCEPT'];
    this.#natRule = ['POSTROUTING', '-o', this.#bridge, ...comment, '-j', 'RETURN'];
    this.nodes = Array.from({ length: count }, (_, index) => {
      const name = `mn-${process.pid}-${index}`;
      const dir = join(base, `node-${index}`);
      return {
        index,
        name,
        ip: `10.251.0.${10 + index}`,
        netns: `dkl-mn-${process.pid}-${index}`,
        dir,
        logFile: join(dir, 'dockerlet.log'),
        podsCgroup: `dockerlet-mn-${process.pid}-${index}`,
        engine: undefined,
        agent: undefined,
      };
    });
  }

  /**
   * The host side and each node's namespace and link, before the control plane starts (it binds
   * HostAddress). On failure, what was made is removed. `images`: local images each node's engine
   * gets besides busybox and pause.
   */
  static async create(count: number, options: { images?: readonly string[] } = {}): Promise<MultiNodeLab> {
    const lab = new MultiNodeLab(await mkdtemp(join(tmpdir(), 'dkl-mn-')), count, options.images ?? []);
    try {
      await ip('link', 'add', lab.#bridge, 'type', 'bridge');
      lab.#bridgeAdded = true;
      await ip('addr', 'add', `${HostAddress}/24`, 'dev', lab.#bridge);
      await ip('link', 'set', lab.#bridge, 'up');
      lab.#forwardRuleAdded = true;
      await run('iptables', ['-w', '-A', ...lab.#forwardRule]);
      await run('iptables', ['-w', '-t', 'nat', '-I', ...lab.#natRule.slice(0, 1), '1', ...lab.#natRule.slice(1)]);
      for (const node of lab.nodes) {
        await mkdir(node.dir, { recursive: true });
        await ip('netns', 'add', node.netns);
        lab.#netnsAdded.add(node.netns);
        const hostEnd = `mn${process.pid % 100_000}v${node.index}`;
        await ip('link', 'add', hostEnd, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', node.netns);
        await ip('link', 'set', hostEnd, 'master', lab.#bridge);
        await ip('link', 'set', hostEnd, 'up');
        await lab.ip(node, 'link', 'set', 'lo', 'up');
        await lab.ip(node, 'addr', 'add', `${node.ip}/24`, 'dev', 'eth0');
        await lab.ip(node, 'link', 'set', 'eth0', 'up');
        await lab.ip(node, 'route', 'add', ServiceClusterIPRange, 'via', HostAddress);
      }
    } catch (err) {
      await lab.destroy();
      throw err;
    }
    return lab;
  }

  /** `ip <args>` inside the node's namespace; resolves with its stdout. */
  async ip(node: LabNode, ...args: string[]): Promise<string> {
    return (await run('ip', ['-n', node.netns, ...args], { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } })).stdout;
  }

  /** The node's routes of the agent's (`proto 209`), one line each. */
  async nodeRoutes(node: LabNode): Promise<string[]> {
    return (await this.ip(node, '-4', 'route', 'show', 'proto', '209')).split('\n').map((line) => line.trim()).filter(Boolean);
  }

  /** Starts every node's engine and then its agent, and waits until the control plane has every Node Ready. */
  async startNodes(plane: ControlPlane): Promise<void> {
    this.#plane = plane;
    await Promise.all(this.nodes.map((node) => this.#startEngine(node)));
    await Promise.all(this.nodes.map((node) => this.start(node)));
  }

  /** Starts the node's agent (after a stop()); resolves once its Node is Ready. */
  async start(node: LabNode): Promise<void> {
    if (node.agent) throw new Error(`node ${node.name}: its agent runs already`);
    await this.#launch(node);
    // Ready as this agent said it: a heartbeat since it started (to the second, as the API has it).
    const since = Math.floor(Date.now() / 1000) * 1000 - 1000;
    await Promise.race([
      waitFor(`node ${node.name} to be Ready`, async () => {
        const conditions = (await this.nodeObject(node))?.status?.conditions ?? [];
        return conditions.some((condition) => condition.type === 'Ready' && condition.status === 'True' && Date.parse(condition.lastHeartbeatTime ?? '') >= since);
      }, { timeoutMs: 90_000, intervalMs: 250 }),
      new Promise((_, reject) => node.agent!.once('exit', (code, signal) => reject(new Error(`dockerlet on node ${node.name} exited (${code ?? signal}) before its Node was Ready`)))),
    ]).catch(async (err: unknown) => {
      throw new Error(`${err instanceof Error ? err.message : String(err)}\n--- ${node.name} log ---\n${await this.logTail(node)}`);
    });
  }

  /** A node failure: SIGTERM to its agent (by its pid), SIGKILL after 10 s; its engine and containers stay. */
  async stop(node: LabNode): Promise<void> {
    const agent = node.agent;
    node.agent = undefined;
    if (!agent || agent.exitCode !== null || agent.signalCode !== null) return;
    const exited = new Promise((resolve) => agent.once('exit', resolve));
    agent.kill('SIGTERM');
    const killer = setTimeout(() => agent.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(killer);
  }

  /** The node's Node object as the API server has it, or undefined. */
  async nodeObject(node: LabNode): Promise<NodeObject | undefined> {
    const { status, body } = await this.#plane!.get(`/api/v1/nodes/${node.name}`);
    return status === 200 ? (body as NodeObject) : undefined;
  }

  /** The last lines the node's agent printed. */
  async logTail(node: LabNode, lines = 40): Promise<string> {
    return (await readFile(node.logFile, 'utf8').catch(() => '')).split('\n').slice(-lines).join('\n');
  }

  /** Everything goes, whatever failed before; idempotent. The first error is thrown at the end. */
  destroy(): Promise<void> {
    return (this.#destroyed ??= this.#teardown());
  }

  async #teardown(): Promise<void> {
    const errors: unknown[] = [];
    const step = (action: () => Promise<unknown>): Promise<void> => action().then(() => undefined, (err: unknown) => void errors.push(err));
    await Promise.all(this.nodes.map((node) => step(() => this.stop(node))));
    await Promise.all(
      this.nodes.map(async (node) => {
        const engine = node.engine;
        if (!engine) return;
        // Containers, the pod network, dockerd and its containerd, the engine's files.
        await step(() => engine.remove());
        node.engine = undefined;
        await removeNodeCgroups(node.podsCgroup);
      }),
    );
    for (const netns of this.#netnsAdded) await step(() => ip('netns', 'del', netns));
    this.#netnsAdded.clear();
    // A veth goes with its namespace; the bridge and the host's rule are the host's.
    if (this.#bridgeAdded) await step(() => ip('link', 'del', this.#bridge));
    this.#bridgeAdded = false;
    if (this.#forwardRuleAdded) {
      await step(() => run('iptables', ['-w', '-D', ...this.#forwardRule]));
      await step(() => run('iptables', ['-w', '-t', 'nat', '-D', ...this.#natRule]));
    }
    this.#forwardRuleAdded = false;
    // The agents' tmpfs volumes were mounted in their engines' mount namespaces, gone with them; any here too.
    await step(() => unmountAll(this.#base));
    await step(() => rm(this.#base, { recursive: true, force: true }));
    if (errors.length > 0) throw errors[0];
  }

  async #startEngine(node: LabNode): Promise<void> {
    node.engine = await startPrivateDocker({ netns: node.netns, removedBy: 'caller', images: this.#images });
    // containerd and dockerd must both be the node's: host-network containers live in containerd's (the shim's) namespace.
    const netnsOf = async (pid: number): Promise<string> => (await run('readlink', [`/proc/${pid}/ns/net`])).stdout.trim();
    const [own, dockerd] = [(await run('stat', ['-L', '-c', 'net:[%i]', `/run/netns/${node.netns}`])).stdout.trim(), await netnsOf(node.engine.pid!)];
    const containerd = await waitFor(`the managed containerd of node ${node.name}'s dockerd`, async () => {
      // Any thread of dockerd may have forked it: its children by their parent pid.
      const { stdout } = await run('pgrep', ['-P', String(node.engine!.pid), '-x', 'containerd']).catch(() => ({ stdout: '' }));
      const pid = Number(stdout.trim().split('\n')[0]);
      return pid > 0 ? pid : undefined;
    }, { timeoutMs: 10_000 });
    const containerdNet = await netnsOf(containerd);
    if (dockerd !== own || containerdNet !== own) throw new Error(`node ${node.name}: dockerd (${dockerd}) and containerd (${containerdNet}) must be in the node's network namespace ${own}`);
    await this.#installServiceGuard(node);
  }

  /**
   * The service CIDR guard as scripts/setup-host.sh installs it on a host, in the node's own
   * tables (after its dockerd made DOCKER-USER): what no proxy rule rewrote is refused there.
   */
  async #installServiceGuard(node: LabNode): Promise<void> {
    const iptables = (...args: string[]): Promise<unknown> => run('ip', ['netns', 'exec', node.netns, 'iptables', '-w', ...args]);
    await iptables('-N', ServiceGuardChain);
    await iptables('-A', ServiceGuardChain, '-d', ServiceClusterIPRange, '-p', 'tcp', '-j', 'REJECT', '--reject-with', 'tcp-reset');
    await iptables('-A', ServiceGuardChain, '-d', ServiceClusterIPRange, '-j', 'REJECT', '--reject-with', 'icmp-port-unreachable');
    await iptables('-I', 'OUTPUT', '1', '!', '-o', 'lo', '-j', ServiceGuardChain);
    await iptables('-I', 'FORWARD', '1', '-j', ServiceGuardChain);
    await iptables('-I', 'DOCKER-USER', '1', '-j', ServiceGuardChain);
  }

  async #launch(node: LabNode): Promise<void> {
    const plane = this.#plane!;
    const engine = node.engine!;
    const rootDir = join(node.dir, 'root');
    await mkdir(rootDir, { recursive: true });
    const resolvConf = join(node.dir, 'resolv.conf');
    // Loopback only: no name a pod looks up leaves the machine.
    await writeFile(resolvConf, 'nameserver 127.0.0.1\n');
    // Leases renewed every 2.5 s and statuses computed every 2 s, for the controller manager's short grace period.
    const config = join(node.dir, 'kubelet-config.yaml');
    await writeFile(config, 'kind: KubeletConfiguration\napiVersion: kubelet.config.k8s.io/v1beta1\nnodeLeaseDurationSeconds: 10\nnodeStatusUpdateFrequency: 2s\n');
    const serving = await plane.kubeletServingCert(node.name, node.ip);
    const args = [
      'up',
      '--config', config,
      '--kubeconfig', await plane.nodeKubeconfig(node.name),
      '--proxy-kubeconfig', await plane.proxyKubeconfig(),
      '--hostname-override', node.name,
      '--root-dir', rootDir,
      '--container-runtime-endpoint', `unix://${engine.socketPath}`,
      '--resolv-conf', resolvConf,
      '--node-ip', node.ip,
      '--address', node.ip,
      // The namespace's own ports: every node has the kubelet's.
      '--port', '10250',
      '--read-only-port', '10255',
      '--client-ca-file', plane.caFile,
      '--tls-cert-file', serving.cert,
      '--tls-private-key-file', serving.key,
      '--node-routes',
      '--serve-cluster-dns=false',
      '--service-cluster-ip-range', ServiceClusterIPRange,
      // The proxy's: a source outside the cluster's pod range reaching a Service is masqueraded, not another node's pod.
      '--cluster-cidr', ClusterCIDR,
      '--cgroup-root', node.podsCgroup,
      '--pod-cidr-from-node',
    ];
    const log = openSync(node.logFile, 'a');
    try {
      // In dockerd's network namespace and its mount namespace (the namespace's /sys, the cgroups mounted again there).
      node.agent = spawn('nsenter', ['--target', String(engine.pid), '--mount', '--net', '--', process.execPath, ...NodeFlags, DockerletBin, ...args], { stdio: ['ignore', log, log] });
    } finally {
      closeSync(log);
    }
    const agent = node.agent;
    await new Promise<void>((resolve, reject) => {
      agent.once('spawn', resolve);
      agent.once('error', reject);
    });
    agent.once('exit', (code, signal) => {
      if (node.agent !== agent) return; // stop() ended it
      node.agent = undefined;
      this.#crashes.push(this.logTail(node).then((tail) => `dockerlet on node ${node.name} exited by itself (${code ?? signal}); its log ends:\n${tail}`));
    });
  }

  /** What every agent that exited without stop() said last, since the previous call; empty when none did. */
  async takeCrashes(): Promise<string[]> {
    const crashes = this.#crashes.splice(0);
    return Promise.all(crashes);
  }
}

export interface NodeObject {
  metadata?: { name?: string };
  spec?: { podCIDR?: string; podCIDRs?: string[] };
  status?: { conditions?: Array<{ type: string; status: string; lastHeartbeatTime?: string }>; addresses?: Array<{ type: string; address: string }> };
}

/** `ip` on the host; rejects with its stderr. */
async function ip(...args: string[]): Promise<void> {
  await run('ip', args);
}
