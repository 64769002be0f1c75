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
 * use them, until removePodNetworkRules (a node removed for good: `cluster down`). iptables waits
 * 5 s at most for the xtables lock, as the proxy's does.
 */
import type { Logger } from 'pino';
import { errorMessage } from '../../common/api/errors.js';
import { CoalescingRunner } from '../../common/util/coalescing-runner.js';
import { ExecCommandRunner, formatCommand, type CommandRunner } from '../../common/util/command-runner.js';
import { parseIptablesSave, type SavedRule, type SavedTable } from '../../common/util/iptables-save.js';

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
      const nat = await this.#saved('nat');
      await this.#keepOneJump('nat', 'POSTROUTING', MasqueradeChain, nat, 'append');
      const filter = await this.#saved('filter');
      await this.#keepOneJump('filter', filter.chains.includes(DockerUserChain) ? DockerUserChain : 'FORWARD', ForwardChain, filter, 'first');
    } catch (err) {
      this.#o.logger.error({ err: errorMessage(err) }, "writing the pod network's masquerade and forward rules failed; will try again at the next sync");
    }
  }

  /**
   * Exactly one jump into `chain`, ours, in `parent` (first there when `where` says so): any other
   * jump into it, in any chain of the table (an earlier build's, one made by hand, the one left in
   * FORWARD before Docker made DOCKER-USER), is deleted by its own arguments.
   */
  async #keepOneJump(table: string, parent: string, chain: string, saved: SavedTable, where: 'append' | 'first'): Promise<void> {
    const wanted = jumpTo(chain);
    const jumps = saved.rules.filter((rule) => rule.target === chain);
    const parentRules = saved.rules.filter((rule) => rule.chain === parent);
    const isOurs = (rule: SavedRule): boolean => rule.chain === parent && rule.args.join(' ') === wanted.join(' ');
    const found = jumps.find((rule) => isOurs(rule) && (where === 'append' || parentRules[0] === rule));
    // -D deletes the first rule with these arguments: with two alike, none is kept, and one is made again.
    const keep = found && jumps.filter(isOurs).length === 1 ? found : undefined;
    for (const rule of jumps) if (rule !== keep) await this.#iptables('iptables', [...Wait, '-t', table, '-D', rule.chain, ...rule.args]);
    if (!keep) await this.#iptables('iptables', [...Wait, '-t', table, ...(where === 'first' ? ['-I', parent, '1'] : ['-A', parent]), ...wanted]);
  }

  #saved(table: string): Promise<SavedTable> {
    return savedTable(this.#runner, table);
  }

  #iptables(command: string, args: readonly string[], stdin?: string): Promise<void> {
    return succeed(this.#runner, command, args, stdin);
  }
}

async function savedTable(runner: CommandRunner, table: string): Promise<SavedTable> {
  const result = await runner.run('iptables-save', ['-t', table]);
  if (result.code !== 0) throw new Error(`${formatCommand('iptables-save', ['-t', table])}: ${result.stderr.trim()}`);
  return parseIptablesSave(result.stdout).get(table) ?? { chains: [], rules: [] };
}

/** Runs the command; rejects with its stderr when it fails. */
async function succeed(runner: CommandRunner, command: string, args: readonly string[], stdin?: string): Promise<void> {
  const result = await runner.run(command, args, stdin);
  if (result.code !== 0) throw new Error(`${formatCommand(command, args)}: ${result.stderr.trim()}`);
}

/** Removes both chains and every jump into them, for a node removed for good; what is not there is no error. */
export async function removePodNetworkRules(runner: CommandRunner = new ExecCommandRunner()): Promise<void> {
  const iptables = (args: readonly string[]): Promise<void> => succeed(runner, 'iptables', [...Wait, ...args]);
  for (const [table, chain] of [['nat', MasqueradeChain], ['filter', ForwardChain]] as const) {
    const rules = await savedTable(runner, table);
    for (const rule of rules.rules.filter((rule) => rule.target === chain)) await iptables(['-t', table, '-D', rule.chain, ...rule.args]);
    if (rules.chains.includes(chain)) {
      await iptables(['-t', table, '-F', chain]);
      await iptables(['-t', table, '-X', chain]);
    }
  }
}
