/**
 * The kernel datapath: Services as iptables NAT rules, in the spirit of kube-proxy's iptables
 * proxier. Each sync writes our chains in one `iptables-restore --noflush` run (rules.ts), so
 * Docker's rules and everything else in the tables stay as they are.
 *
 *   first sync:  detect the backend (backend.ts), whose iptables-save shows our chains and jumps
 *                an earlier process left
 *   every sync:  iptables-restore: the fixed chains, the per-service chains that changed (all of
 *                them on the first sync and hourly), stale SVC/SVL/EXT/SEP chains deleted →
 *                jumps from the built-in chains checked (first sync, then every jumpCheckIntervalMs) →
 *                route_localnet=1, on the first sync (old value saved) →
 *                stale UDP conntrack entries deleted (conntrack.ts; failures are only logged)
 *   cleanup():   route_localnet restored → jumps removed → every DOCKERLET- chain but the
 *                service CIDR guard flushed and deleted; each step tried whatever failed before
 *   stop():      nothing: a restarted proxy takes over the rules as they are
 *
 * Syncs run one at a time; calls that arrive while one runs are coalesced into one more run
 * with the newest state. After a failed restore the tables are read again and everything is
 * rewritten.
 */
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { DockerletError, errorMessage, isDockerletError } from '../../../common/api/errors.js';
import { systemClock, type Clock } from '../../../common/util/clock.js';
import type { EndpointInfo, Proxier, ProxyState, ServicePortInfo } from '../proxier.js';
import { detectIptablesBackend, type IptablesCommands } from './backend.js';
import { FirewallChain, isOwnChain, type IptablesTable } from './chains.js';
import { ExecCommandRunner, formatCommand, type CommandResult, type CommandRunner } from '../../../common/util/command-runner.js';
import { isNothingDeleted, staleConntrackDeletions } from './conntrack.js';
import { cidrContains, isIpv4, isValidPort, type Ipv4Cidr } from '../../../common/util/ipv4.js';
import { jumpArgs, JumpRules, jumpsIntoOwnChains, type JumpRule } from './jumps.js';
import { RouteLocalnet, RouteLocalnetSysctl } from './route-localnet.js';
import { buildCleanupRules, buildIptablesRules } from './rules.js';
import { parseIptablesSave, type SavedTable } from '../../../common/util/iptables-save.js';

export interface IptablesProxierOptions {
  /** The CIDR ClusterIPs come from; a service port whose ClusterIP is outside it is not programmed. */
  serviceCIDR: Ipv4Cidr;
  /** The pods' CIDR: traffic to a ClusterIP from anywhere else is masqueraded. */
  podCIDR: Ipv4Cidr;
  /** Where the proxier keeps what it must restore on cleanup (the route_localnet value it found). */
  stateDir: string;
  logger: Logger;
  /** Runs the iptables, sysctl and conntrack commands; the default runs them on this host. */
  runner?: CommandRunner;
  clock?: Clock;
  /** How often a sync re-checks the jumps from the built-in chains (kube-proxy's syncPeriod); default 30 s. */
  jumpCheckIntervalMs?: number;
  /**
   * How often a sync rewrites every chain; the others write only the per-service chains that
   * changed (as kube-proxy, which also rewrites everything hourly). Default 1 hour.
   */
  fullSyncIntervalMs?: number;
}

/**
 * Service ports per iptables-nft-restore commit (see RulesOptions.servicePortsPerCommit):
 * measured on this kind of machine, 1,000 service ports with 2 endpoints each restore in
 * 0.35-0.45 s in one commit and 0.17-0.19 s in commits of 50.
 */
const NftServicePortsPerCommit = 50;

const Tables: readonly IptablesTable[] = ['nat', 'filter'];

type ChainSets = Record<IptablesTable, ReadonlySet<string>>;

export class IptablesProxier implements Proxier {
  readonly mode = 'iptables' as const;
  readonly #runner: CommandRunner;
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly #serviceCIDR: Ipv4Cidr;
  readonly #podCIDR: Ipv4Cidr;
  readonly #jumpCheckIntervalMs: number;
  readonly #fullSyncIntervalMs: number;
  readonly #routeLocalnet: RouteLocalnet;

  #commands: IptablesCommands | undefined;
  /** The whole ruleset backend detection read, used once instead of reading the tables again. */
  #detectedRuleset: string | undefined;
  /** Our chains in each table as far as we know; undefined: read them with iptables-save first. */
  #chains: ChainSets | undefined;
  /** Jumps into our chains found by that iptables-save, to make exactly once. */
  #savedJumps: Map<IptablesTable, SavedTable> | undefined;
  #jumpsCheckedAt: number | undefined;
  /** The per-service chains as last written, for partial syncs; undefined: the next sync writes all. */
  #serviceChains: ReadonlyMap<string, string> | undefined;
  #fullSyncAt: number | undefined;
  /** route_localnet was set (or tried: a failure is logged once, not every sync). */
  #localnetDone = false;
  /** The state the datapath matches (after a successful sync), for the conntrack cleanup. */
  #applied: ProxyState | undefined;
  /** Why each skipped service port or endpoint was skipped, so it is logged once, not every sync. */
  #skipped = new Map<string, string>();
  #stopped = false;

  #queue: Promise<unknown> = Promise.resolve();
  #pending: Promise<void> | undefined;
  #wanted: ProxyState | undefined;

  constructor(options: IptablesProxierOptions) {
    this.#serviceCIDR = options.serviceCIDR;
    this.#podCIDR = options.podCIDR;
    this.#runner = options.runner ?? new ExecCommandRunner();
    this.#log = options.logger.child({ component: 'iptables-proxier' });
    this.#clock = options.clock ?? systemClock;
    this.#jumpCheckIntervalMs = options.jumpCheckIntervalMs ?? 30_000;
    this.#fullSyncIntervalMs = options.fullSyncIntervalMs ?? 3_600_000;
    this.#routeLocalnet = new RouteLocalnet(this.#runner, options.stateDir, this.#log);
  }

  sync(state: ProxyState): Promise<void> {
    this.#wanted = state;
    this.#pending ??= this.#serialize(async () => {
      this.#pending = undefined;
      const wanted = this.#wanted;
      this.#wanted = undefined;
      if (!wanted) return;
      if (this.#stopped) {
        this.#log.debug('sync after stop() ignored');
        return;
      }
      await this.#syncOnce(wanted);
    });
    return this.#pending;
  }

  cleanup(): Promise<void> {
    return this.#serialize(() => this.#cleanupOnce());
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#queue;
  }

  #serialize<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(task, task);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #syncOnce(input: ProxyState): Promise<void> {
    const started = performance.now();
    const commands = await this.#backend();
    const state = this.#proxiable(input);

    if (!this.#chains) {
      const saved = await this.#readTables(commands);
      this.#chains = ownChains(saved);
      this.#savedJumps = saved;
      this.#serviceChains = undefined;
    }

    const now = this.#clock.now();
    const full = !this.#serviceChains || this.#fullSyncAt === undefined || now - this.#fullSyncAt >= this.#fullSyncIntervalMs;
    const rules = buildIptablesRules(state, {
      podCIDR: this.#podCIDR.text,
      existingChains: this.#chains,
      ...(full ? {} : { previousChains: this.#serviceChains }),
      ...(commands.backend === 'nft' ? { servicePortsPerCommit: NftServicePortsPerCommit } : {}),
    });
    const restoreStarted = performance.now();
    const restore = await this.#runner.run(commands.restore, ['-w', '5', '--noflush'], rules.text);
    const restoreMs = performance.now() - restoreStarted;
    if (restore.code !== 0) {
      // What is in the tables is unknown now (with several commits, some may have been applied):
      // read it again, and write everything, before the next attempt.
      this.#chains = undefined;
      this.#serviceChains = undefined;
      throw new DockerletError('DKL_ERR_RUNTIME', `${commands.restore} failed: ${restoreError(restore, rules.text)}`);
    }
    this.#chains = rules.chains;
    this.#serviceChains = rules.serviceChains;
    if (full) this.#fullSyncAt = now;

    await this.#ensureJumps(commands);
    // Only now: route_localnet=1 without DOCKERLET-FIREWALL hooked in would open loopback to other hosts.
    if (!this.#localnetDone) {
      await this.#routeLocalnet.enable();
      this.#localnetDone = true;
    }

    const previous = this.#applied;
    this.#applied = state;
    await this.#deleteStaleConntrack(previous, state);

    this.#log.debug(
      {
        servicePorts: state.servicePorts.length,
        full,
        writtenChains: rules.writtenServiceChains,
        rules: rules.ruleCount,
        deletedChains: rules.deleted.nat.length + rules.deleted.filter.length,
        restoreMs: Math.round(restoreMs),
        totalMs: Math.round(performance.now() - started),
      },
      'iptables rules synced',
    );
  }

  async #backend(): Promise<IptablesCommands> {
    if (!this.#commands) {
      this.#commands = await detectIptablesBackend(this.#runner, this.#log);
      this.#detectedRuleset = this.#commands.ruleset;
      this.#log.info({ backend: this.#commands.backend, restore: this.#commands.restore, reason: this.#commands.reason }, 'iptables backend chosen');
    }
    return this.#commands;
  }

  async #readTables(commands: IptablesCommands): Promise<Map<IptablesTable, SavedTable>> {
    const tables = new Map<IptablesTable, SavedTable>();
    const detected = this.#detectedRuleset;
    this.#detectedRuleset = undefined;
    if (detected !== undefined) {
      const parsed = parseIptablesSave(detected);
      for (const table of Tables) {
        const saved = parsed.get(table);
        if (saved) tables.set(table, saved);
      }
      return tables;
    }
    for (const table of Tables) {
      const saved = await this.#runner.run(commands.save, ['-t', table]);
      if (saved.code !== 0) {
        throw new DockerletError('DKL_ERR_RUNTIME', `${commands.save} -t ${table} failed (exit ${saved.code}): ${saved.stderr.trim()}`);
      }
      const parsed = parseIptablesSave(saved.stdout).get(table);
      if (parsed) tables.set(table, parsed);
    }
    return tables;
  }

  /**
   * Each jump of JumpRules exactly once, at the top of its chain, as the tables say (the reading
   * the sync started from, or a fresh one at most every jumpCheckInterval: one iptables-save per
   * table rather than an `iptables -C` per jump); jumps into our chains that are repeated, differ
   * from ours or come from elsewhere are removed.
   */
  async #ensureJumps(commands: IptablesCommands): Promise<void> {
    let saved = this.#savedJumps;
    // Used once: if an insertion fails, the next attempt must not trust this reading any more.
    this.#savedJumps = undefined;
    const now = this.#clock.now();
    if (!saved) {
      if (this.#jumpsCheckedAt !== undefined && now - this.#jumpsCheckedAt < this.#jumpCheckIntervalMs) return;
      saved = await this.#readTables(commands);
    }

    // The jumps into our chains the tables held, by table; those matched to a JumpRule are taken out.
    const leftovers = new Map(Tables.map((table) => [table, jumpsIntoOwnChains(saved.get(table))]));

    for (const rule of JumpRules) {
      const found = leftovers.get(rule.table) ?? [];
      const same = found.filter((j) => j.chain === rule.chain && j.target === rule.target);
      leftovers.set(rule.table, found.filter((j) => !same.includes(j)));
      if (same.length === 1 && same[0]!.args.join('\0') === rule.args.join('\0')) continue;
      for (const old of same) await this.#deleteJump(commands, rule.table, old.chain, old.args);
      await this.#insertJump(commands, rule);
    }
    // Jumps into our chains that are not ours to keep (an earlier version's): gone, so cleanup can delete the chains.
    for (const [table, found] of leftovers) {
      for (const old of found) await this.#deleteJump(commands, table, old.chain, old.args);
    }
    this.#jumpsCheckedAt = now;
  }

  async #insertJump(commands: IptablesCommands, rule: JumpRule): Promise<void> {
    const args = jumpArgs('-I', rule);
    const result = await this.#iptables(commands, args);
    if (result.code !== 0) {
      throw new DockerletError('DKL_ERR_RUNTIME', `${formatCommand(commands.iptables, args)} failed (exit ${result.code}): ${result.stderr.trim()}`);
    }
    this.#log.info({ table: rule.table, chain: rule.chain, target: rule.target }, 'jump rule inserted');
  }

  async #deleteJump(commands: IptablesCommands, table: IptablesTable, chain: string, args: readonly string[]): Promise<void> {
    const argv = ['-w', '5', '-t', table, '-D', chain, ...args];
    const result = await this.#iptables(commands, argv);
    if (result.code !== 0) {
      this.#log.warn({ command: formatCommand(commands.iptables, argv), stderr: result.stderr.trim() }, 'could not delete a jump rule');
    }
  }

  #iptables(commands: IptablesCommands, args: readonly string[]): Promise<CommandResult> {
    return this.#runner.run(commands.iptables, args);
  }

  async #deleteStaleConntrack(previous: ProxyState | undefined, next: ProxyState): Promise<void> {
    for (const deletion of staleConntrackDeletions(previous, next)) {
      const result = await this.#runner.run('conntrack', deletion.args);
      if (result.code === 0 || isNothingDeleted(result.stderr)) {
        this.#log.debug({ command: formatCommand('conntrack', deletion.args), reason: deletion.reason }, 'stale UDP conntrack entries deleted');
      } else {
        this.#log.warn(
          { command: formatCommand('conntrack', deletion.args), reason: deletion.reason, code: result.code, stderr: result.stderr.trim() },
          'could not delete stale UDP conntrack entries; UDP clients may keep reaching a gone endpoint until the entries expire',
        );
      }
    }
  }

  /**
   * route_localnet goes back first: with it still 1 and the firewall jump gone, localhost
   * services would be reachable from the network (CVE-2020-8558). Each step is tried even when
   * one before it failed; the failures are reported together.
   */
  async #cleanupOnce(): Promise<void> {
    const problems: string[] = [];
    /** The step's result; undefined when it failed, its error kept for the end. */
    const attempt = async <T>(step: () => Promise<T>): Promise<T | undefined> => {
      try {
        return await step();
      } catch (err) {
        problems.push(errorMessage(err));
        return undefined;
      }
    };
    // true: put back; false: no value saved here; undefined: could not be put back.
    const restored = await attempt(() => this.#routeLocalnet.restore());
    let commands: IptablesCommands | undefined;
    try {
      commands = await this.#backend();
    } catch (err) {
      if (!isDockerletError(err, 'DKL_ERR_RUNTIME_UNAVAILABLE')) throw err;
      this.#log.info({ err }, 'no iptables: no rules to clean up');
    }
    if (commands) {
      const found = commands;
      const saved = await this.#readTables(found);
      // route_localnet still 1 (not restored; restored to the 1 it was; or no value saved here,
      // another --root-dir's proxy having set it): the firewall that closes its hole stays.
      const keepFirewall = Boolean(saved.get('filter')?.chains.includes(FirewallChain)) && (await this.#routeLocalnet.current()) !== '0';
      if (keepFirewall && restored === false) {
        problems.push(`${RouteLocalnetSysctl} is not 0 and no value to restore was saved under this --root-dir: ${FirewallChain} is kept; set it back and clean up again`);
      } else if (keepFirewall && restored === true) {
        this.#log.info({ sysctl: RouteLocalnetSysctl }, `${RouteLocalnetSysctl} is 1 as it was before the proxy ran: ${FirewallChain} is kept to close the hole it opens`);
      }
      const keep = (chain: string): boolean => keepFirewall && chain === FirewallChain;
      for (const table of Tables) {
        for (const jump of jumpsIntoOwnChains(saved.get(table))) {
          if (!keep(jump.target)) await this.#deleteJump(found, table, jump.chain, jump.args);
        }
      }
      const text = buildCleanupRules(ownChains(saved, keep));
      if (text) {
        await attempt(async () => {
          const restore = await this.#runner.run(found.restore, ['-w', '5', '--noflush'], text);
          if (restore.code !== 0) throw new DockerletError('DKL_ERR_RUNTIME', `${found.restore} failed to delete dockerlet's chains: ${restoreError(restore, text)}`);
        });
      }
    }
    this.#chains = undefined;
    this.#serviceChains = undefined;
    this.#savedJumps = undefined;
    this.#jumpsCheckedAt = undefined;
    this.#localnetDone = false;
    this.#applied = undefined;
    if (problems.length > 0) throw new DockerletError('DKL_ERR_RUNTIME', `iptables cleanup was incomplete: ${problems.join('; ')}`);
    this.#log.info({ backend: commands?.backend }, 'iptables rules cleaned up');
  }

  /** `state` without what cannot or must not be programmed: non-IPv4 addresses, bad ports, ClusterIPs outside the service CIDR. */
  #proxiable(state: ProxyState): ProxyState {
    const servicePorts: ServicePortInfo[] = [];
    const endpoints = new Map<string, readonly EndpointInfo[]>();
    const skipped = new Map<string, string>();
    for (const sp of state.servicePorts) {
      const problem = this.#servicePortProblem(sp);
      if (problem) {
        skipped.set(sp.id, problem);
        continue;
      }
      servicePorts.push(sp);
      const eps = state.endpoints.get(sp.id) ?? [];
      const good = eps.filter((ep) => isIpv4(ep.ip) && isValidPort(ep.port));
      if (good.length !== eps.length) skipped.set(`${sp.id} endpoints`, 'endpoints that are not IPv4 address:port pairs');
      endpoints.set(sp.id, good);
    }
    for (const [id, problem] of skipped) {
      if (this.#skipped.get(id) !== problem) this.#log.warn({ servicePort: id, problem }, 'service port not programmed as it is');
    }
    this.#skipped = skipped;
    return { servicePorts, endpoints };
  }

  #servicePortProblem(sp: ServicePortInfo): string | undefined {
    if (sp.protocol !== 'TCP' && sp.protocol !== 'UDP') return `protocol ${String(sp.protocol)} is not supported`;
    if (!isIpv4(sp.clusterIP)) return `cluster IP "${sp.clusterIP}" is not an IPv4 address`;
    if (!cidrContains(this.#serviceCIDR, sp.clusterIP)) return `cluster IP ${sp.clusterIP} is outside the service CIDR ${this.#serviceCIDR.text}`;
    if (!isValidPort(sp.port)) return `port ${sp.port} is not a valid port`;
    if (sp.nodePort !== undefined && !isValidPort(sp.nodePort)) return `nodePort ${sp.nodePort} is not a valid port`;
    return undefined;
  }
}

function ownChains(saved: Map<IptablesTable, SavedTable>, except: (chain: string) => boolean = () => false): ChainSets {
  const sets = {} as Record<IptablesTable, Set<string>>;
  for (const table of Tables) sets[table] = new Set((saved.get(table)?.chains ?? []).filter((chain) => isOwnChain(chain) && !except(chain)));
  return sets;
}

/** iptables-restore's complaint, with the input line it names ("Error occurred at line: N"). */
function restoreError(result: CommandResult, input: string): string {
  const stderr = result.stderr.trim();
  const line = /line:? (\d+)/.exec(stderr)?.[1];
  const offending = line !== undefined ? input.split('\n')[Number(line) - 1] : undefined;
  return `exit ${result.code}: ${stderr}${offending ? ` (line ${line}: ${offending})` : ''}`;
}
