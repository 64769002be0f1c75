/**
 * Whether the host's service CIDR guard (scripts/setup-host.sh) covers the proxy's service CIDR.
 * The guard rejects what no proxy rule rewrote, so nothing addressed to a ClusterIP leaves the
 * host even while the proxy is down; a proxy given a CIDR outside it would run without it. A
 * CIDR inside a guarded one is covered (a test node's slice of the range kept for them).
 */
import { cidrCovers, parseIpv4Cidr } from '../common/util/ipv4.js';
import type { CommandRunner } from '../common/util/command-runner.js';
import { ServiceGuardChain } from './datapath/iptables/chains.js';

export type GuardCheck = { covered: true } | { covered: false; reason: string };

export async function checkServiceGuard(runner: CommandRunner, serviceCIDR: string): Promise<GuardCheck> {
  const listed = await runner.run('iptables', ['-w', '5', '-S', ServiceGuardChain]);
  if (listed.code !== 0) return { covered: false, reason: `the ${ServiceGuardChain} chain is not installed (${listed.stderr.trim() || `exit code ${listed.code}`})` };
  const wanted = parseIpv4Cidr(serviceCIDR);
  const rejects = listed.stdout.split('\n').some((rule) => {
    // "! -d X" rejects everything but X: it guards nothing of X.
    const guarded = /(?<!!) -d (\S+) /.exec(rule)?.[1];
    const cidr = guarded === undefined ? undefined : parseIpv4Cidr(guarded.includes('/') ? guarded : `${guarded}/32`);
    return rule.includes('-j REJECT') && cidr !== undefined && wanted !== undefined && cidrCovers(cidr, wanted);
  });
  if (!rejects) return { covered: false, reason: `the ${ServiceGuardChain} chain does not reject ${serviceCIDR}` };
  return { covered: true };
}
