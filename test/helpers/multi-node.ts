/**
 * Several dockerlet nodes on this one machine, each as if it were a host of its own, for the
 * end-to-end tests of a cluster's pod network:
 *
 *   host netns   bridge mnbr<lab> 10.251.0.1/24 (the API server binds here)
 *                  │ veth mn<lab>v<i>        (one per node)
 *   node i       netns dkl-mn-<lab>-<i>: eth0 10.251.0.(10+i)/24, lo up,
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
 * pids), each engine's containers and the engine, the namespaces, the links, the rules, the
 * directories and the nodes' cgroups. The host's part (rules, bridge, host veth ends) is removed
 * apart from the engines', so that an engine that does not stop leaves nothing on the host.
 *
 * `<lab>` is `<pid>-<n>`: this process's full pid and a count of its labs. One lab at a time holds
 * HostAddress on the machine: create() refuses while another lab (of this process, or a live one of
 * another) has it, and first removes what a killed run left, found by the pid in its names
 * (bridges mnbr<pid>…, host veths mn<pid>…, namespaces dkl-mn-<pid>-…, host rules commented
 * `dockerlet multi-node test <pid>`), only where no process of that pid is alive (in this pid
 * namespace).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { unmountAll } from '../../agent/volumes/mounts.js';
import { parseIptablesSave } from '../../common/util/iptables-save.js';
import { NodeFlags } from '../../cli/node-flags.js';
import { DockerletBin } from './agent-process.js';
import { removeNodeCgroups } from './cgroups.js';
import { ServiceClusterIPRange, type ControlPlane } from './control-plane.js';
import { startPrivateDocker, type PrivateDocker } from './private-docker.js';
import { waitFor } from './wait-for.js';

const run = promisify(execFile);
/** The guard chain's name, as scripts/setup-host.sh makes it. */
const ServiceGuardChain = 'DOCKERLET-SERVICE-GUARD';
/** iptables waits this long (s) for the xtables lock, then fails, rather than waiting for ever. */
const XtablesWait = '5';
/** The comment on the host rules of the labs of the process `pid`. */
const RuleCommentPrefix = 'dockerlet multi-node test ';
const ruleComment = (pid: number): string => `${RuleCommentPrefix}${pid}`;
/** Such a comment, read back: its pid. */
const RuleCommentPattern = new RegExp(`^${RuleCommentPrefix}(\\d+)$`);
/** Labs made by this process so far, for names of their own. */
let labCount = 0;
/** The lab of this process that holds HostAddress, until its destroy() ends. */
let liveLab: MultiNodeLab | undefined;

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
  /** Set as destroy() is called: a start in flight stops at its next step, no new one begins. */
  #destroying = false;
  #destroyed: Promise<void> | undefined;
  /** The engine starts and agent launches under way, which the teardown waits for. */
  readonly #inFlight = new Set<Promise<unknown>>();
  readonly #crashes: Array<Promise<string>> = [];
  // What create() made, each set once its command succeeded: the teardown removes only that.
  #bridgeAdded = false;
  #forwardRuleAdded = false;
  #natRuleAdded = false;
  readonly #netnsAdded = new Set<string>();
  readonly #hostVethsAdded = new Set<string>();

  private constructor(base: string, count: number, images: readonly string[]) {
    // Interface names are at most 15 characters: mnbr + a pid of up to 7 digits + -<n>.
    const id = `${process.pid}-${++labCount}`;
    this.#base = base;
    this.#images = images;
    this.#bridge = `mnbr${id}`;
    const comment = ['-m', 'comment', '--comment', ruleComment(process.pid)];
    this.#forwardRule = ['FORWARD', '-i', this.#bridge, '-o', this.#bridge, ...comment, '-j', 'ACCEPT'];
    this.#natRule = ['POSTROUTING', '-o', this.#bridge, ...comment, '-j', 'RETURN'];
    this.nodes = Array.from({ length: count }, (_, index) => {
      const dir = join(base, `node-${index}`);
      return {
        index,
        name: `mn-${id}-${index}`,
        ip: `10.251.0.${10 + index}`,
        netns: `dkl-mn-${id}-${index}`,
        dir,
        logFile: join(dir, 'dockerlet.log'),
        podsCgroup: `dockerlet-mn-${id}-${index}`,
        engine: undefined,
        agent: undefined,
      };
    });
  }

  #hostVeth(node: LabNode): string {
    return `${this.#bridge.replace(/^mnbr/, 'mn')}v${node.index}`;
  }

  /**
   * The host side and each node's namespace and link, before the control plane starts (it binds
   * HostAddress). On failure, what was made is removed. `images`: local images each node's engine
   * gets besides busybox and pause.
   */
  static async create(count: number, options: { images?: readonly string[] } = {}): Promise<MultiNodeLab> {
    if (liveLab) throw new Error(`a multi-node lab of this process (bridge ${liveLab.#bridge}) holds ${HostAddress} still: destroy() it before creating another`);
    await removeDeadRunsLeftovers();
    const holder = await hostAddressHolder();
    if (holder !== undefined) throw new Error(`${HostAddress} is on ${holder} already, another multi-node lab's that is still running: one lab at a time on this machine`);
    const lab = new MultiNodeLab(await mkdtemp(join(tmpdir(), 'dkl-mn-')), count, options.images ?? []);
    liveLab = lab;
    try {
      await ip('link', 'add', lab.#bridge, 'type', 'bridge');
      lab.#bridgeAdded = true;
      await ip('addr', 'add', `${HostAddress}/24`, 'dev', lab.#bridge);
      await ip('link', 'set', lab.#bridge, 'up');
      await iptables('-A', ...lab.#forwardRule);
      lab.#forwardRuleAdded = true;
      await iptables('-t', 'nat', '-I', ...lab.#natRule.slice(0, 1), '1', ...lab.#natRule.slice(1));
      lab.#natRuleAdded = true;
      for (const node of lab.nodes) {
        await mkdir(node.dir, { recursive: true });
        await ip('netns', 'add', node.netns);
        lab.#netnsAdded.add(node.netns);
        const hostEnd = lab.#hostVeth(node);
        await ip('link', 'add', hostEnd, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', node.netns);
        lab.#hostVethsAdded.add(hostEnd);
        await ip('link', 'set', hostEnd, 'master', lab.#bridge);
        await ip('link', 'set', hostEnd, 'up');
        await lab.ip(node, 'link', 'set', 'lo', 'up');
        await lab.ip(node, 'addr', 'add', `${node.ip}/24`, 'dev', 'eth0');
        await lab.ip(node, 'link', 'set', 'eth0', 'up');
        await lab.ip(node, 'route', 'add', ServiceClusterIPRange, 'via', HostAddress);
      }
    } catch (err) {
      // The first failure is the one to see: one in the cleanup after it is only reported.
      await lab.destroy().catch((cleanupErr: unknown) => console.warn(`multi-node lab: cleanup after a failed create() failed too: ${errorText(cleanupErr)}`));
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
    // Every start is let finish (or fail) before any error is thrown, so that the caller's
    // destroy() finds each engine and agent that was made.
    await firstRejection(await Promise.allSettled(this.nodes.map((node) => this.#track(() => this.#startEngine(node)))));
    await firstRejection(await Promise.allSettled(this.nodes.map((node) => this.start(node))));
  }

  /** Starts the node's agent (after a stop()); resolves once its Node is Ready. */
  async start(node: LabNode): Promise<void> {
    if (node.agent) throw new Error(`node ${node.name}: its agent runs already`);
    // Ready as this agent said it: a heartbeat since it was launched (to the second, as the API has it).
    const since = Math.floor(Date.now() / 1000) * 1000;
    await this.#track(() => this.#launch(node));
    await Promise.race([
      waitFor(`node ${node.name} to be Ready`, async () => {
        if (this.#destroying) return true;
        const conditions = (await this.nodeObject(node))?.status?.conditions ?? [];
        return conditions.some((condition) => condition.type === 'Ready' && condition.status === 'True' && Date.parse(condition.lastHeartbeatTime ?? '') >= since);
      }, { timeoutMs: 90_000, intervalMs: 250 }).then(() => this.#refuseIfDestroying(node)),
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

  /**
   * Everything goes, whatever failed before; idempotent. Starts under way are let reach their
   * next step first (where they stop), so that what they made is removed too. The first error is
   * thrown at the end.
   */
  destroy(): Promise<void> {
    this.#destroying = true;
    return (this.#destroyed ??= this.#teardown());
  }

  async #teardown(): Promise<void> {
    const errors: unknown[] = [];
    const step = (action: () => Promise<unknown>): Promise<void> => action().then(() => undefined, (err: unknown) => void errors.push(err));
    try {
      await Promise.allSettled([...this.#inFlight]);
      await Promise.all(this.nodes.map((node) => step(() => this.stop(node))));
      // The host's part does not wait for the engines: one that does not stop leaves nothing on the host.
      await Promise.all([this.#removeNodes(step), this.#removeHostPart(step)]);
      // The agents' tmpfs volumes were mounted in their engines' mount namespaces, gone with them; any here too.
      await step(() => unmountAll(this.#base));
      await step(() => rm(this.#base, { recursive: true, force: true }));
    } finally {
      if (liveLab === this) liveLab = undefined;
    }
    if (errors.length > 0) throw errors[0];
  }

  /** Each node's engine (containers, pod network, dockerd and its containerd, files), cgroups and namespace. */
  async #removeNodes(step: (action: () => Promise<unknown>) => Promise<void>): Promise<void> {
    await Promise.all(
      this.nodes.map(async (node) => {
        const engine = node.engine;
        if (!engine) return;
        await step(() => engine.remove());
        node.engine = undefined;
        await removeNodeCgroups(node.podsCgroup);
      }),
    );
    // What still runs in a node's namespace is the test's (an engine that would not stop, its shims and pods): it goes with it.
    for (const netns of this.#netnsAdded) await step(() => killNamespaceProcesses(netns).then(() => ip('netns', 'del', netns)));
    this.#netnsAdded.clear();
  }

  /** The host's rules, its veth ends (gone already with their namespace, or not) and the bridge. */
  async #removeHostPart(step: (action: () => Promise<unknown>) => Promise<void>): Promise<void> {
    if (this.#forwardRuleAdded) await step(() => iptables('-D', ...this.#forwardRule));
    this.#forwardRuleAdded = false;
    if (this.#natRuleAdded) await step(() => iptables('-t', 'nat', '-D', ...this.#natRule));
    this.#natRuleAdded = false;
    for (const hostEnd of this.#hostVethsAdded) await step(() => ip('link', 'del', hostEnd).catch(ignoreNoDevice));
    this.#hostVethsAdded.clear();
    if (this.#bridgeAdded) await step(() => ip('link', 'del', this.#bridge));
    this.#bridgeAdded = false;
  }

  /** Runs a start step, known to the teardown until it settles; refused once destroy() was called. */
  async #track(work: () => Promise<void>): Promise<void> {
    if (this.#destroying) throw new Error('the multi-node lab is being destroyed: no node starts now');
    const started = work();
    this.#inFlight.add(started);
    try {
      await started;
    } finally {
      this.#inFlight.delete(started);
    }
  }

  /** Throws when destroy() was called: a start goes no further, and leaves what it made to the teardown. */
  #refuseIfDestroying(node: LabNode): void {
    if (this.#destroying) throw new Error(`node ${node.name}: the lab is being destroyed, its start goes no further`);
  }

  async #startEngine(node: LabNode): Promise<void> {
    node.engine = await startPrivateDocker({ netns: node.netns, removedBy: 'caller', images: this.#images });
    this.#refuseIfDestroying(node);
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
    this.#refuseIfDestroying(node);
    await this.#installServiceGuard(node);
  }

  /**
   * The service CIDR guard as scripts/setup-host.sh installs it on a host, in the node's own
   * tables (after its dockerd made DOCKER-USER): what no proxy rule rewrote is refused there.
   */
  async #installServiceGuard(node: LabNode): Promise<void> {
    const iptables = (...args: string[]): Promise<unknown> => run('ip', ['netns', 'exec', node.netns, 'iptables', '-w', XtablesWait, ...args]);
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
    const [kubeconfig, proxyKubeconfig] = [await plane.nodeKubeconfig(node.name), await plane.proxyKubeconfig()];
    this.#refuseIfDestroying(node);
    const args = [
      'up',
      '--config', config,
      '--kubeconfig', kubeconfig,
      '--proxy-kubeconfig', proxyKubeconfig,
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
  spec?: { podCIDR?: string; podCIDRs?: string[]; taints?: Array<{ key: string; effect: string }> };
  status?: { conditions?: Array<{ type: string; status: string; lastHeartbeatTime?: string }>; addresses?: Array<{ type: string; address: string }> };
}

/** `ip` on the host; rejects with its stderr. */
async function ip(...args: string[]): Promise<void> {
  await run('ip', args);
}

/** `iptables` on the host, waiting a bounded time for the xtables lock. */
async function iptables(...args: string[]): Promise<void> {
  await run('iptables', ['-w', XtablesWait, ...args]);
}

/** A link already gone (a veth end goes with its peer's namespace) is no failure. */
function ignoreNoDevice(err: unknown): void {
  if (!/Cannot find device|does not exist/.test(errorText(err))) throw err;
}

function errorText(err: unknown): string {
  if (err instanceof Error) return `${err.message}${'stderr' in err ? ` ${String(err.stderr)}` : ''}`;
  return String(err);
}

/** Throws the first rejection's reason, once all have settled. */
function firstRejection(results: ReadonlyArray<PromiseSettledResult<unknown>>): void {
  const failed = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (failed) throw failed.reason;
}

const isDeadPid = (pid: number): boolean => pid > 0 && pid !== process.pid && !existsSync(`/proc/${pid}`);

/**
 * Removes what labs of processes no longer alive left (a run killed before its teardown): their
 * host rules, bridges, host veth ends and namespace names. A live run's are never touched.
 */
async function removeDeadRunsLeftovers(): Promise<void> {
  const failures: string[] = [];
  const attempt = (what: string, action: () => Promise<unknown>): Promise<void> => action().then(() => undefined, (err: unknown) => void failures.push(`${what}: ${errorText(err)}`));
  for (const [table, chain] of [['filter', 'FORWARD'], ['nat', 'POSTROUTING']] as const) {
    // A table that cannot be read leaves its rules, not the links and namespaces after it.
    await attempt(`reading the ${table} table`, async () => {
      const { stdout } = await run('iptables-save', ['-t', table], { encoding: 'utf8' });
      for (const rule of parseIptablesSave(stdout).get(table)?.rules ?? []) {
        const at = rule.args.indexOf('--comment');
        const comment = at >= 0 ? (rule.args[at + 1] ?? '') : '';
        if (rule.chain !== chain || !isDeadPid(Number(RuleCommentPattern.exec(comment)?.[1]))) continue;
        await attempt(`the ${table} rule ${chain} ${rule.args.join(' ')}`, () => iptables('-t', table, '-D', chain, ...rule.args));
      }
    });
  }
  const { stdout: links } = await run('ip', ['-o', 'link', 'show'], { encoding: 'utf8' });
  for (const match of links.matchAll(/^\d+: (mn(?:br)?(\d+)-\d+(?:v\d+)?)[@:]/gm)) {
    const [, name, pid] = match;
    if (name !== undefined && isDeadPid(Number(pid))) await attempt(`the link ${name}`, () => ip('link', 'del', name).catch(ignoreNoDevice));
  }
  const { stdout: namespaces } = await run('ip', ['netns', 'list'], { encoding: 'utf8' });
  for (const match of namespaces.matchAll(/^(dkl-mn-(\d+)-\S*)/gm)) {
    const [, name, pid] = match;
    if (name !== undefined && isDeadPid(Number(pid))) await attempt(`the network namespace ${name}`, () => killNamespaceProcesses(name).then(() => ip('netns', 'del', name)));
  }
  if (failures.length > 0) console.warn(`multi-node lab: could not remove all that earlier runs left: ${failures.join('; ')}`);
}

/**
 * The lab's teardown, then the control plane's whatever the first did. With `failure` (the run
 * already failed), a teardown error is only warned about, so that it never hides the failure.
 */
export async function tearDownLab(lab: MultiNodeLab | undefined, plane: ControlPlane | undefined, failure?: unknown): Promise<void> {
  try {
    try {
      await lab?.destroy();
    } finally {
      await plane?.stop();
    }
  } catch (err) {
    if (failure === undefined) throw err;
    console.warn(`multi-node lab: the teardown after a failure failed too: ${errorText(err)}`);
  }
}

/** SIGKILL to every process in a network namespace of a lab's (its engine, shims, pods and agent): all of them the lab's own. */
async function killNamespaceProcesses(netns: string): Promise<void> {
  const { stdout } = await run('ip', ['netns', 'pids', netns], { encoding: 'utf8' }).catch(() => ({ stdout: '' }));
  for (const pid of stdout.split('\n').map(Number).filter((pid) => pid > 0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
}

/** The interface that has HostAddress on the host, if any. */
async function hostAddressHolder(): Promise<string | undefined> {
  const { stdout } = await run('ip', ['-o', '-4', 'addr', 'show', 'to', `${HostAddress}/32`], { encoding: 'utf8' });
  return /^\d+: (\S+)/.exec(stdout)?.[1];
}
