/**
 * The jumps from the built-in chains into ours. They live in chains Docker and others also use,
 * so they are never written by iptables-restore (which would flush those chains): each one is
 * checked with `iptables -C` and inserted at the top with `iptables -I ... 1` when missing.
 */
import { ExternalServicesChain, FirewallChain, isOwnChain, PostroutingChain, ServicesChain, type IptablesTable } from './chains.js';
import type { SavedTable } from '../../../common/util/iptables-save.js';

export interface JumpRule {
  table: IptablesTable;
  /** The built-in chain the jump is in. */
  chain: string;
  /** The rule after `-A <chain>`, ending with `-j <our chain>`. */
  args: readonly string[];
  target: string;
}

function jump(table: IptablesTable, chain: string, target: string, description: string, match: readonly string[] = []): JumpRule {
  return { table, chain, target, args: [...match, '-m', 'comment', '--comment', description, '-j', target] };
}

const NewConnections = ['-m', 'conntrack', '--ctstate', 'NEW'];

/**
 * kube-proxy's iptablesJumpChains, for our chains. As in kube-proxy the filter jumps look at new
 * connections only: packets of established ones skip the service chains.
 */
export const JumpRules: readonly JumpRule[] = [
  jump('nat', 'PREROUTING', ServicesChain, 'dockerlet service portals'),
  jump('nat', 'OUTPUT', ServicesChain, 'dockerlet service portals'),
  jump('nat', 'POSTROUTING', PostroutingChain, 'dockerlet postrouting rules'),
  jump('filter', 'OUTPUT', ServicesChain, 'dockerlet service portals', NewConnections),
  jump('filter', 'FORWARD', ServicesChain, 'dockerlet service portals', NewConnections),
  jump('filter', 'INPUT', ExternalServicesChain, 'dockerlet externally-visible service portals', NewConnections),
  jump('filter', 'FORWARD', ExternalServicesChain, 'dockerlet externally-visible service portals', NewConnections),
  jump('filter', 'INPUT', FirewallChain, 'dockerlet localnet guard'),
];

/** The arguments of `iptables` for `op` (-C, -I, -D) on `rule`, with -w 5 so a held xtables lock cannot stall us forever. */
export function jumpArgs(op: '-C' | '-I' | '-D', rule: JumpRule): string[] {
  return ['-w', '5', '-t', rule.table, op, rule.chain, ...(op === '-I' ? ['1'] : []), ...rule.args];
}

/**
 * The rules in `saved` (one table's iptables-save) that jump into our chains from chains not
 * ours: the jumps to (re)make exactly once, and anything an older version left. The guard
 * chain of scripts/setup-host.sh is not ours and its jumps are never listed.
 */
export function jumpsIntoOwnChains(saved: SavedTable | undefined): Array<{ chain: string; args: string[]; target: string }> {
  const found: Array<{ chain: string; args: string[]; target: string }> = [];
  for (const rule of saved?.rules ?? []) {
    if (rule.target !== undefined && isOwnChain(rule.target) && !isOwnChain(rule.chain)) {
      found.push({ chain: rule.chain, args: rule.args, target: rule.target });
    }
  }
  return found;
}
