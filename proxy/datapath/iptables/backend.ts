/**
 * Which iptables this host's Docker uses: the nf_tables or the legacy backend. Rules written with
 * the other one would sit in tables the kernel never consults beside Docker's, as kube-proxy
 * learnt on hosts whose distribution switched backends: never mix them. Like kube's iptables-wrapper, the backend whose nat table
 * holds Docker's DOCKER chain wins; if neither has it, the one `iptables --version` names.
 */
import type { Logger } from 'pino';
import { DockerletError } from '../../../common/api/errors.js';
import type { CommandResult, CommandRunner } from '../../../common/util/command-runner.js';
import { parseIptablesSave } from '../../../common/util/iptables-save.js';

export type IptablesBackend = 'nft' | 'legacy';

/** The binaries to run for one backend. */
export interface IptablesCommands {
  backend: IptablesBackend;
  iptables: string;
  save: string;
  restore: string;
  /** How the choice was made, for the log. */
  reason: string;
  /** This backend's whole iptables-save output, when detection read it: the caller need not read it again. */
  ruleset?: string;
}

const DockerChain = 'DOCKER';

/** Detects the backend and returns the binaries to use; throws DKL_ERR_RUNTIME_UNAVAILABLE if there is no iptables. */
export async function detectIptablesBackend(runner: CommandRunner, logger?: Logger): Promise<IptablesCommands> {
  // Without -t: iptables-legacy-save then lists only the tables that exist, and loads no module.
  const [nft, legacy] = await Promise.all([runner.run('iptables-nft-save', []), runner.run('iptables-legacy-save', [])]);
  const nftRules = dockerNatRules(nft.code === 0 ? nft.stdout : '');
  const legacyRules = dockerNatRules(legacy.code === 0 ? legacy.stdout : '');

  if (nftRules !== undefined && legacyRules !== undefined) {
    // Both have it (Docker once ran with the other one): the one with more nat rules is in use.
    const backend: IptablesBackend = legacyRules > nftRules ? 'legacy' : 'nft';
    logger?.warn(
      { nftRules, legacyRules, backend },
      `both the nft and the legacy iptables nat tables have Docker's ${DockerChain} chain; using ${backend}, which has more rules`,
    );
    return withRuleset(commandsFor(backend, `both backends have Docker's chain; ${backend} has more nat rules`, true), backend === 'nft' ? nft : legacy);
  }
  if (nftRules !== undefined) return withRuleset(commandsFor('nft', `Docker's ${DockerChain} chain is in the nft nat table`, true), nft);
  if (legacyRules !== undefined) return withRuleset(commandsFor('legacy', `Docker's ${DockerChain} chain is in the legacy nat table`, true), legacy);

  const version = await runner.run('iptables', ['--version']);
  if (version.code === 0) {
    const backend = backendOfVersion(version.stdout);
    const saved = backend === 'nft' ? nft : legacy;
    return withRuleset(commandsFor(backend, `no DOCKER chain found; ${version.stdout.trim()}`, saved.code !== 127), saved);
  }
  // No plain `iptables` (an unusual alternatives setup), but a suffixed save ran: that one exists.
  if (nft.code === 0) return withRuleset(commandsFor('nft', 'no DOCKER chain found; only iptables-nft is installed', true), nft);
  if (legacy.code === 0) return withRuleset(commandsFor('legacy', 'no DOCKER chain found; only iptables-legacy is installed', true), legacy);
  throw new DockerletError(
    'DKL_ERR_RUNTIME_UNAVAILABLE',
    `iptables is not usable on this host (iptables --version: ${(version.stderr || version.stdout).trim() || `exit ${version.code}`}); ` +
      'install Debian\'s iptables package, or run the proxy with --proxy-mode userspace',
  );
}

/** "iptables v1.8.9 (nf_tables)" is nft; "(legacy)" and the old unsuffixed versions are legacy. */
export function backendOfVersion(versionText: string): IptablesBackend {
  return /nf_tables/.test(versionText) ? 'nft' : 'legacy';
}

/** The number of nat rules when the nat table has a DOCKER chain, else undefined. */
function dockerNatRules(saveText: string): number | undefined {
  const nat = parseIptablesSave(saveText).get('nat');
  if (!nat?.chains.includes(DockerChain)) return undefined;
  return nat.rules.length;
}

function withRuleset(commands: IptablesCommands, saved: CommandResult): IptablesCommands {
  return saved.code === 0 ? { ...commands, ruleset: saved.stdout } : commands;
}

function commandsFor(backend: IptablesBackend, reason: string, suffixed: boolean): IptablesCommands {
  // Old hosts (iptables before 1.8) have only the unsuffixed, legacy binaries.
  const suffix = suffixed ? `-${backend}` : '';
  return {
    backend,
    iptables: `iptables${suffix}`,
    save: `iptables${suffix}-save`,
    restore: `iptables${suffix}-restore`,
    reason,
  };
}
