/**
 * A routed node's own iptables rules for its pods (--node-routes, where the pod network is made
 * without Docker's masquerade), as flannel's host-gw keeps them:
 *
 *   nat     POSTROUTING      -j DKL-POD-MASQ
 *           DKL-POD-MASQ     ! -s <pod subnet> -j RETURN; -o <bridge> -j RETURN;
 *                            -d <each pod subnet of the cluster> -j RETURN; -j MASQUERADE
 *   filter  DOCKER-USER      -j DKL-POD-FORWARD, first (FORWARD where Docker has no DOCKER-USER)
 *           DKL-POD-FORWARD  -d <pod subnet> -o <bridge> -j ACCEPT
 *
 * So a pod keeps its address towards every pod of the cluster and is masqueraded only when its
 * traffic leaves the cluster's pod network; and what other nodes route to this node's pods gets
 * past Docker's FORWARD chain, which drops what Docker did not publish. DOCKER-USER is where
 * Docker lets others put rules ahead of its own, and never flushes them.
 *
 * Each sync writes both chains whole and puts back a jump that is missing or no longer first, so
 * a flush, a Docker restart or a new subnet is mended within a sync. The jumps name no address,
 * so a node's new subnet leaves nothing stale behind. The chains are named DKL-, not DOCKERLET-
 * (the service proxy owns every DOCKERLET- chain of the host), and are one per host, as routes
 * are (one agent with --node-routes per host). They stay when the agent stops, for the pods that
 * use them. iptables waits 5 s at most for the xtables lock, as the proxy's does.
 */
import type { Logger } from 'pino';
import { errorMessage } from '../../common/api/errors.js';
import { CoalescingRunner } from '../../common/util/coalescing-runner.js';
import { ExecCommandRunner, formatCommand, type CommandRunner } from '../../common/util/command-runner.js';

export const MasqueradeChain = 'DKL-POD-MASQ';
export const ForwardChain = 'DKL-POD-FORWARD';
/** Docker's chain for rules of others, first in FORWARD. */
const DockerUserChain = 'DOCKER-USER';
const Wait = ['-w', '5'];
const jumpTo = (chain: string): string[] => ['-m', 'comment', '--comment', 'dockerlet pod network', '-j', chain];

export interface PodNetworkRulesOptions {
  /** This node's pod subnet. */
  podCIDR: string;
  /** The pod bridge's interface. */
  bridge: string;
  logger: Logger;
  runner?: CommandRunner;
}

/** The two chains' whole contents, for iptables-restore --noflush (a chain declared is emptied first). */
export function podNetworkRules(o: Pick<PodNetworkRulesOptions, 'podCIDR' | 'bridge'>, clusterSubnets: readonly string[]): string {
  const subnets = [...new Set([o.podCIDR, ...clusterSubnets])];
  const comment = (text: string): string => `-m comment --comment "${text}"`;
  return [
    '*nat',
    `:${MasqueradeChain} - [0:0]`,
    `-A ${MasqueradeChain} ! -s ${o.podCIDR} ${comment('not from the pods of this node')} -j RETURN`,
    `-A ${MasqueradeChain} -o ${o.bridge} ${comment('to the pods of this node')} -j RETURN`,
    ...subnets.map((subnet) => `-A ${MasqueradeChain} -d ${subnet} ${comment('pod network of the cluster')} -j RETURN`),
    `-A ${MasqueradeChain} ${comment('leaving the pod network of the cluster')} -j MASQUERADE`,
    'COMMIT',
    '*filter',
    `:${ForwardChain} - [0:0]`,
    `-A ${ForwardChain} -d ${o.podCIDR} -o ${o.bridge} ${comment('routed to the pods of this node')} -j ACCEPT`,
    'COMMIT',
    '',
  ].join('\n');
}

/** Keeps the rules for the cluster's pod subnets as last given. One sync at a time; the newest set wins. */
export class PodNetworkRules {
  readonly #o: PodNetworkRulesOptions;
  readonly #runner: CommandRunner;
  readonly #coalescing = new CoalescingRunner(() => this.#reconcile());
  #subnets: readonly string[] = [];

  constructor(options: PodNetworkRulesOptions) {
    this.#o = options;
    this.#runner = options.runner ?? new ExecCommandRunner();
  }

  /** Takes the pod subnets of the other nodes; resolves once the rules match them (or a newer set). */
  sync(clusterSubnets: readonly string[]): Promise<void> {
    this.#subnets = clusterSubnets;
    return this.#coalescing.run();
  }

  stop(): Promise<void> {
    return this.#coalescing.stop();
  }

  async #reconcile(): Promise<void> {
    try {
      await this.#iptables('iptables-restore', [...Wait, '--noflush'], podNetworkRules(this.#o, this.#subnets));
      if (!(await this.#succeeds(['-t', 'nat', '-C', 'POSTROUTING', ...jumpTo(MasqueradeChain)]))) await this.#iptables('iptables', [...Wait, '-t', 'nat', '-A', 'POSTROUTING', ...jumpTo(MasqueradeChain)]);
      const dockerUser = await this.#succeeds(['-S', DockerUserChain]);
      await this.#jumpFirst(dockerUser ? DockerUserChain : 'FORWARD');
      // Made in FORWARD before Docker came: one jump is enough.
      while (dockerUser && (await this.#succeeds(['-D', 'FORWARD', ...jumpTo(ForwardChain)])));
    } catch (err) {
      this.#o.logger.error({ err: errorMessage(err) }, "writing the pod network's masquerade and forward rules failed; will try again at the next sync");
    }
  }

  /** The jump into the forward chain as `parent`'s first rule: inserted, or moved there. */
  async #jumpFirst(parent: string): Promise<void> {
    const listing = await this.#runner.run('iptables', [...Wait, '-S', parent]);
    if (listing.code !== 0) throw new Error(`${formatCommand('iptables', ['-S', parent])}: ${listing.stderr.trim()}`);
    const rules = listing.stdout.split('\n').filter((line) => line.startsWith('-A '));
    const ours = (line: string): boolean => line.endsWith(`-j ${ForwardChain}`);
    if (rules.length > 0 && ours(rules[0]!) && rules.filter(ours).length === 1) return;
    for (let i = rules.filter(ours).length; i > 0; i--) await this.#iptables('iptables', [...Wait, '-D', parent, ...jumpTo(ForwardChain)]);
    await this.#iptables('iptables', [...Wait, '-I', parent, '1', ...jumpTo(ForwardChain)]);
  }

  async #succeeds(args: readonly string[]): Promise<boolean> {
    return (await this.#runner.run('iptables', [...Wait, ...args])).code === 0;
  }

  async #iptables(command: string, args: readonly string[], stdin?: string): Promise<void> {
    const result = await this.#runner.run(command, args, stdin);
    if (result.code !== 0) throw new Error(`${formatCommand(command, args)}: ${result.stderr.trim()}`);
  }
}
