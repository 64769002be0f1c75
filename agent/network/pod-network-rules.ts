/**
 * A routed node's own iptables rules for its pods (--node-routes, where the pod network is made
 * without Docker's masquerade), as flannel's host-gw keeps them:
 *
 *   nat     POSTROUTING     -s <pod subnet> ! -o <bridge> -j DKL-POD-MASQ
 *           DKL-POD-MASQ    -d <each pod subnet of the cluster> -j RETURN, then -j MASQUERADE
 *   filter  FORWARD         -j DKL-POD-FORWARD (first)
 *           DKL-POD-FORWARD -d <pod subnet> -o <bridge> -j ACCEPT
 *
 * So a pod keeps its address towards every pod of the cluster and is masqueraded only when its
 * traffic leaves the cluster's pod network; and what other nodes route to this node's pods gets
 * past Docker's FORWARD chain, which drops what Docker did not publish. The chains are named
 * DKL-, not DOCKERLET-: the service proxy owns every DOCKERLET- chain of the host. They stay when
 * the agent stops, for the pods that use them. iptables runs with -w: it waits for the xtables
 * lock rather than failing beside the proxy or Docker.
 */
import { execFile } from 'node:child_process';
import type { Logger } from 'pino';
import { errorMessage } from '../../common/api/errors.js';
import { CoalescingRunner } from '../../common/util/coalescing-runner.js';

export const MasqueradeChain = 'DKL-POD-MASQ';
export const ForwardChain = 'DKL-POD-FORWARD';

/** Runs `command` (iptables or iptables-restore) with `args`, `input` on its standard input; rejects with its standard error. */
export type IptablesCommand = (command: 'iptables' | 'iptables-restore', args: readonly string[], input?: string) => Promise<void>;

const runIptables: IptablesCommand = (command, args, input) =>
  new Promise((resolve, reject) => {
    const child = execFile(command, [...args], { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } }, (err, _stdout, stderr) =>
      err ? reject(new Error(`${command} ${args.join(' ')}: ${stderr.trim() || err.message}`)) : resolve(),
    );
    child.stdin?.end(input ?? '');
  });

export interface PodNetworkRulesOptions {
  /** This node's pod subnet. */
  podCIDR: string;
  /** The pod bridge's interface. */
  bridge: string;
  logger: Logger;
  run?: IptablesCommand;
}

/** The jumps into the two chains, as iptables -C/-I/-A take them: [table, chain, how to add, rule]. */
function jumps(o: PodNetworkRulesOptions): ReadonlyArray<readonly [string, string, '-I' | '-A', readonly string[]]> {
  return [
    ['nat', 'POSTROUTING', '-A', ['-s', o.podCIDR, '!', '-o', o.bridge, '-m', 'comment', '--comment', 'dockerlet pods leaving the node', '-j', MasqueradeChain]],
    // First: ahead of Docker's own, whose policy drops what it did not publish.
    ['filter', 'FORWARD', '-I', ['-m', 'comment', '--comment', "routed to dockerlet pods from other nodes", '-j', ForwardChain]],
  ];
}

/** The two chains' whole contents, for iptables-restore --noflush (a chain declared is emptied first). */
export function podNetworkRules(o: Pick<PodNetworkRulesOptions, 'podCIDR' | 'bridge'>, clusterSubnets: readonly string[]): string {
  const subnets = [...new Set([o.podCIDR, ...clusterSubnets])];
  return [
    '*nat',
    `:${MasqueradeChain} - [0:0]`,
    ...subnets.map((subnet) => `-A ${MasqueradeChain} -d ${subnet} -m comment --comment "pod network of the cluster" -j RETURN`),
    `-A ${MasqueradeChain} -m comment --comment "leaving the pod network of the cluster" -j MASQUERADE`,
    'COMMIT',
    '*filter',
    `:${ForwardChain} - [0:0]`,
    `-A ${ForwardChain} -d ${o.podCIDR} -o ${o.bridge} -m comment --comment "routed to the pods of this node" -j ACCEPT`,
    'COMMIT',
    '',
  ].join('\n');
}

/**
 * Keeps the rules for the cluster's pod subnets as last given: each sync writes the chains when
 * the subnets changed, and puts back a jump someone removed. One sync at a time; the newest set
 * wins.
 */
export class PodNetworkRules {
  readonly #o: PodNetworkRulesOptions;
  readonly #run: IptablesCommand;
  readonly #runner = new CoalescingRunner(() => this.#reconcile());
  #subnets: readonly string[] = [];
  /** The rules last written, to skip a write that would change nothing. */
  #written: string | undefined;

  constructor(options: PodNetworkRulesOptions) {
    this.#o = options;
    this.#run = options.run ?? runIptables;
  }

  /** Takes the pod subnets of the other nodes; resolves once the rules match them (or a newer set). */
  sync(clusterSubnets: readonly string[]): Promise<void> {
    this.#subnets = clusterSubnets;
    return this.#runner.run();
  }

  stop(): Promise<void> {
    return this.#runner.stop();
  }

  async #reconcile(): Promise<void> {
    const rules = podNetworkRules(this.#o, this.#subnets);
    try {
      if (rules !== this.#written) {
        await this.#run('iptables-restore', ['-w', '--noflush'], rules);
        this.#written = rules;
      }
      for (const [table, chain, add, rule] of jumps(this.#o)) {
        const present = await this.#run('iptables', ['-w', '-t', table, '-C', chain, ...rule]).then(
          () => true,
          () => false,
        );
        if (!present) await this.#run('iptables', ['-w', '-t', table, add, chain, ...rule]);
      }
    } catch (err) {
      this.#written = undefined;
      this.#o.logger.error({ err: errorMessage(err) }, "writing the pod network's masquerade and forward rules failed; will try again at the next sync");
    }
  }
}
