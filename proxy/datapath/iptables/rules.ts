/**
 * The iptables rules for a ProxyState, as iptables-restore input: a pure function, so the whole
 * ruleset is generated in one pass and tested as text. The layout is kube-proxy's iptables
 * proxier (pkg/proxy/iptables/proxier.go) with chains of our own:
 *
 *   nat   PREROUTING, OUTPUT ─► DOCKERLET-SERVICES ─(VIP:port)─► DOCKERLET-SVC-h ─(random)─► DOCKERLET-SEP-h ─► DNAT
 *                               └─(dst LOCAL)─► DOCKERLET-NODEPORTS ─(nodePort)─► DOCKERLET-EXT-h ─► DOCKERLET-SVC-h
 *         (a Local traffic policy sends its traffic to DOCKERLET-SVL-h instead: this node's endpoints only)
 *         POSTROUTING ─► DOCKERLET-POSTROUTING (MASQUERADE what DOCKERLET-MARK-MASQ marked)
 *   filter OUTPUT, FORWARD ─► DOCKERLET-SERVICES           (REJECT VIPs with no endpoints, DROP those of a Local policy with no local ones)
 *          INPUT, FORWARD  ─► DOCKERLET-EXTERNAL-SERVICES  (the same for NodePorts)
 *          INPUT           ─► DOCKERLET-FIREWALL           (the route_localnet guard)
 *
 * The text is meant for `iptables-restore --noflush`: each `:CHAIN - [0:0]` line flushes that
 * chain, so the chains we keep are rewritten whole and nothing else in the tables is touched.
 * The jumps from the built-in chains are not in it (see jumps.ts).
 */
import { policyEndpoints, type EndpointInfo, type ProxyState, type ServicePortInfo } from '../proxier.js';
import {
  endpointChainName,
  ExternalServicesChain,
  FirewallChain,
  FixedChains,
  isOwnChain,
  isServiceChain,
  MarkMasqChain,
  MasqueradeMark,
  NodePortsChain,
  PostroutingChain,
  servicePortChains,
  servicePortName,
  ServicesChain,
  type IptablesTable,
} from './chains.js';

export interface RulesOptions {
  /** The pods' CIDR: traffic to a ClusterIP from anywhere else is masqueraded (kube-proxy's --cluster-cidr). */
  podCIDR: string;
  /** Chains of ours that exist in each table now; per-service chains no longer wanted are deleted. */
  existingChains?: Partial<Record<IptablesTable, Iterable<string>>>;
  /**
   * The per-service chains as last written (chain -> its rules, from `serviceChains` of that
   * sync). A chain whose rules are unchanged and which still exists is not written again
   * (kube-proxy's partial sync, KEP-3453); DOCKERLET-SERVICES and the other fixed chains always are.
   */
  previousChains?: ReadonlyMap<string, string>;
  /**
   * Write the per-service chains in commits of this many service ports, then one last commit that
   * rewrites DOCKERLET-SERVICES and DOCKERLET-NODEPORTS and deletes stale chains. For
   * iptables-nft, whose restore does work quadratic in the number of chains one commit names
   * (its cache request is a sorted linked list): 1,000 service ports take half the time in
   * commits of 50. Each service port's chains still change in one commit, and a chain is always
   * written before a commit that jumps to it.
   */
  servicePortsPerCommit?: number;
}

export interface IptablesRules {
  /** iptables-restore input for the filter and nat tables, to be applied with --noflush. */
  text: string;
  /** The chains each table has once `text` is applied. */
  chains: Record<IptablesTable, ReadonlySet<string>>;
  /** The stale chains `text` deletes. */
  deleted: Record<IptablesTable, readonly string[]>;
  /** Every per-service chain wanted -> its rules: `previousChains` for the next sync. */
  serviceChains: ReadonlyMap<string, string>;
  /** How many per-service chains `text` writes (the others are unchanged). */
  writtenServiceChains: number;
  /** How many rules (-A lines) `text` writes. */
  ruleCount: number;
}

/** One per-service chain and its rules. */
interface ChainRules {
  chain: string;
  rules: string[];
}

/** The rules that make the datapath match `state`. */
export function buildIptablesRules(state: ProxyState, options: RulesOptions): IptablesRules {
  const existingNat = new Set(options.existingChains?.nat ?? []);
  const filterServices: string[] = [];
  const filterExternal: string[] = [];
  const natServices: string[] = [];
  const natNodePorts: string[] = [];
  /** Per service port, its chains to write, in packet order (EXT, SVC, SVL, SEPs). */
  const blocks: ChainRules[][] = [];
  const serviceChains = new Map<string, string>();

  const seen = new Set<string>();
  for (const sp of state.servicePorts) {
    if (seen.has(sp.id)) continue;
    seen.add(sp.id);
    const endpoints = uniqueEndpoints(state.endpoints.get(sp.id));
    const name = servicePortName(sp);
    const proto = sp.protocol.toLowerCase();

    if (endpoints.length === 0) {
      filterServices.push(`-A ${ServicesChain} ${comment(`${name} has no endpoints`)} -d ${sp.clusterIP}/32 -p ${proto} --dport ${sp.port} -j REJECT`);
      if (sp.nodePort !== undefined) {
        filterExternal.push(`-A ${ExternalServicesChain} ${comment(`${name} has no endpoints`)} -m addrtype --dst-type LOCAL -p ${proto} --dport ${sp.nodePort} -j REJECT`);
      }
      continue;
    }

    // The traffic policies: each kind of traffic goes to all endpoints (SVC) or this node's (SVL).
    const local = policyEndpoints(endpoints, true);
    const { svc: svcChain, svl: svlChain, ext: extChain } = servicePortChains(sp);
    const internalChain = sp.internalPolicyLocal ? svlChain : svcChain;
    const hasInternal = (sp.internalPolicyLocal ? local : endpoints).length > 0;
    const externalLocal = sp.nodePort !== undefined && sp.externalPolicyLocal === true;
    const hasExternal = (externalLocal ? local : endpoints).length > 0;
    // A NodePort uses all endpoints even with externalTrafficPolicy Local: for the node's own and pods' traffic.
    const usesCluster = !sp.internalPolicyLocal || sp.nodePort !== undefined;
    const usesLocal = local.length > 0 && (sp.internalPolicyLocal || externalLocal);
    const chains: ChainRules[] = [];

    if (hasInternal) {
      natServices.push(`-A ${ServicesChain} ${comment(`${name} cluster IP`)} -d ${sp.clusterIP}/32 -p ${proto} --dport ${sp.port} -j ${internalChain}`);
    } else {
      filterServices.push(`-A ${ServicesChain} ${comment(`${name} has no local endpoints`)} -d ${sp.clusterIP}/32 -p ${proto} --dport ${sp.port} -j DROP`);
    }

    if (sp.nodePort !== undefined) {
      natNodePorts.push(`-A ${NodePortsChain} ${comment(name)} -p ${proto} --dport ${sp.nodePort} -j ${extChain}`);
      const extRules = externalLocal
        ? [
            // Pods and the node itself reach a NodePort as they would through an outside load
            // balancer: served by every endpoint, the node's own traffic masqueraded (its
            // source would be the node's address). Only traffic from outside keeps its source.
            `-A ${extChain} ${comment(`pod traffic for ${name} external destinations`)} -s ${options.podCIDR} -j ${svcChain}`,
            `-A ${extChain} ${comment(`masquerade LOCAL traffic for ${name} external destinations`)} -m addrtype --src-type LOCAL -j ${MarkMasqChain}`,
            `-A ${extChain} ${comment(`route LOCAL traffic for ${name} external destinations`)} -m addrtype --src-type LOCAL -j ${svcChain}`,
          ]
        : [`-A ${extChain} ${comment(`masquerade traffic for ${name} external destinations`)} -j ${MarkMasqChain}`];
      if (hasExternal) extRules.push(`-A ${extChain} ${comment(name)} -j ${externalLocal ? svlChain : svcChain}`);
      else filterExternal.push(`-A ${ExternalServicesChain} ${comment(`${name} has no local endpoints`)} -m addrtype --dst-type LOCAL -p ${proto} --dport ${sp.nodePort} -j DROP`);
      chains.push({ chain: extChain, rules: extRules });
    }

    const affinity = affinitySeconds(sp);
    // Each endpoint's SEP chain name, hashed once: the SVC and SVL chains, affinity and the SEP chain itself use it.
    const sepChains = new Map(endpoints.map((ep) => [ep, endpointChainName(sp, `${ep.ip}:${ep.port}`)]));
    const sepChain = (ep: EndpointInfo): string => sepChains.get(ep)!;
    /** A policy chain: the ClusterIP's masquerade rule when it is the internal chain, then one endpoint of `eps` at random. */
    const policyChain = (chain: string, eps: readonly EndpointInfo[]): ChainRules => {
      // Traffic to the VIP from outside the pod network is masqueraded, so replies come back through us.
      const rules =
        chain === internalChain
          ? [`-A ${chain} ${comment(`${name} cluster IP`)} -d ${sp.clusterIP}/32 -p ${proto} --dport ${sp.port} ! -s ${options.podCIDR} -j ${MarkMasqChain}`]
          : [];
      if (affinity !== undefined) {
        for (const ep of eps) {
          rules.push(`-A ${chain} ${comment(`${name} -> ${ep.ip}:${ep.port}`)} -m recent --name ${sepChain(ep)} --mask 255.255.255.255 --rsource --rcheck --seconds ${affinity} --reap -j ${sepChain(ep)}`);
        }
      }
      eps.forEach((ep, i) => {
        const statistic = i < eps.length - 1 ? ` -m statistic --mode random --probability ${probability(eps.length - i)}` : '';
        rules.push(`-A ${chain} ${comment(`${name} -> ${ep.ip}:${ep.port}`)}${statistic} -j ${sepChain(ep)}`);
      });
      return { chain, rules };
    };
    if (usesCluster) chains.push(policyChain(svcChain, endpoints));
    if (usesLocal) chains.push(policyChain(svlChain, local));

    for (const ep of usesCluster ? endpoints : local) {
      const sep = sepChain(ep);
      const recent = affinity !== undefined ? ` -m recent --name ${sep} --mask 255.255.255.255 --rsource --set` : '';
      chains.push({
        chain: sep,
        rules: [
          // Hairpin: a pod reaching itself through its own Service is masqueraded.
          `-A ${sep} ${comment(name)} -s ${ep.ip}/32 -j ${MarkMasqChain}`,
          `-A ${sep} ${comment(name)}${recent} -p ${proto} -j DNAT --to-destination ${ep.ip}:${ep.port}`,
        ],
      });
    }

    const changed: ChainRules[] = [];
    for (const c of chains) {
      const content = c.rules.join('\n');
      serviceChains.set(c.chain, content);
      if (options.previousChains?.get(c.chain) !== content || !existingNat.has(c.chain)) changed.push(c);
    }
    if (changed.length > 0) blocks.push(changed);
  }

  natServices.push(
    `-A ${ServicesChain} ${comment('dockerlet service nodeports; NOTE: this must be the last rule in this chain')} -m addrtype --dst-type LOCAL -j ${NodePortsChain}`,
  );

  const filter = new TableWriter('filter');
  for (const chain of FixedChains.filter) filter.declare(chain);
  filter.rules(filterServices);
  filter.rules(filterExternal);
  filter.rules([
    `-A ${FirewallChain} ${comment('block incoming localnet connections')} -d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP`,
  ]);
  for (const chain of options.existingChains?.filter ?? []) if (isServiceChain(chain)) filter.remove(chain);

  const markMasq = [`-A ${MarkMasqChain} -j MARK --or-mark ${MasqueradeMark}`];
  const postrouting = [
    `-A ${PostroutingChain} -m mark ! --mark ${MasqueradeMark}/${MasqueradeMark} -j RETURN`,
    // The mark is cleared, so a packet that is re-routed through here is not masqueraded twice.
    `-A ${PostroutingChain} -j MARK --xor-mark ${MasqueradeMark}`,
    `-A ${PostroutingChain} ${comment('dockerlet service traffic requiring SNAT')} -j MASQUERADE`,
  ];
  const perCommit = options.servicePortsPerCommit ?? 0;
  const nat: TableWriter[] = [];
  if (perCommit > 0 && blocks.length > perCommit) {
    // MARK-MASQ and POSTROUTING first (the per-service chains jump to MARK-MASQ), then the
    // per-service chains a few service ports at a time, then the chains that jump to them.
    const head = new TableWriter('nat');
    head.declare(MarkMasqChain);
    head.declare(PostroutingChain);
    head.rules(markMasq);
    head.rules(postrouting);
    nat.push(head);
    for (let i = 0; i < blocks.length; i += perCommit) {
      const writer = new TableWriter('nat');
      writeBlocks(writer, blocks.slice(i, i + perCommit));
      nat.push(writer);
    }
    const tail = new TableWriter('nat');
    tail.declare(ServicesChain);
    tail.declare(NodePortsChain);
    tail.rules(natServices);
    tail.rules(natNodePorts);
    nat.push(tail);
  } else {
    const all = new TableWriter('nat');
    for (const chain of FixedChains.nat) all.declare(chain);
    all.rules(natServices);
    all.rules(natNodePorts);
    all.rules(markMasq);
    all.rules(postrouting);
    writeBlocks(all, blocks);
    nat.push(all);
  }
  // Stale chains go in the last commit, the one that rewrites the chains that jumped to them.
  const last = nat.at(-1)!;

  const wanted = new Set<string>([...FixedChains.nat, ...serviceChains.keys()]);
  for (const chain of existingNat) if (isServiceChain(chain) && !wanted.has(chain)) last.remove(chain);

  const writers = [filter, ...nat];
  return {
    text: writers.map((w) => w.text()).join(''),
    chains: { filter: new Set(FixedChains.filter), nat: wanted },
    deleted: { filter: filter.removed(), nat: last.removed() },
    serviceChains,
    writtenServiceChains: blocks.reduce((sum, block) => sum + block.length, 0),
    ruleCount: writers.reduce((sum, w) => sum + w.ruleCount, 0),
  };
}

/**
 * iptables-restore input that flushes and deletes every chain of ours in `existingChains`
 * (never the service CIDR guard), or '' if there is none. The jumps into them must be gone first.
 */
export function buildCleanupRules(existingChains: Partial<Record<IptablesTable, Iterable<string>>>): string {
  let text = '';
  for (const table of ['filter', 'nat'] as const) {
    const writer = new TableWriter(table);
    for (const chain of existingChains[table] ?? []) if (isOwnChain(chain)) writer.remove(chain);
    if (writer.removed().length > 0) text += writer.text();
  }
  return text;
}

/** Declares the chains of `blocks`, then writes their rules (declarations must come first in a commit). */
function writeBlocks(writer: TableWriter, blocks: readonly ChainRules[][]): void {
  for (const block of blocks) for (const c of block) writer.declare(c.chain);
  for (const block of blocks) for (const c of block) writer.rules(c.rules);
}

/** kube-proxy's probability(): 1/n printed with 10 decimals. */
export function probability(n: number): string {
  return (1 / n).toFixed(10);
}

function affinitySeconds(sp: ServicePortInfo): number | undefined {
  const seconds = sp.affinityTimeoutSeconds;
  if (seconds === undefined || !(seconds > 0)) return undefined;
  return Math.floor(seconds);
}

/** The endpoints without repeats: each "ip:port" has one SEP chain. */
function uniqueEndpoints(endpoints: readonly EndpointInfo[] | undefined): EndpointInfo[] {
  if (!endpoints || endpoints.length === 0) return [];
  const seen = new Set<string>();
  const out: EndpointInfo[] = [];
  for (const ep of endpoints) {
    const key = `${ep.ip}:${ep.port}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(ep);
  }
  return out;
}

/** `-m comment --comment "..."`: always quoted, without the characters iptables-restore would choke on. */
function comment(text: string): string {
  return `-m comment --comment "${text.replace(/["\\\n\r]/g, '').slice(0, 255)}"`;
}

/** One table's part of the restore input: chain lines, rules, then deletions. */
class TableWriter {
  readonly table: IptablesTable;
  ruleCount = 0;
  readonly #declared = new Set<string>();
  readonly #removed: string[] = [];
  readonly #rules: string[] = [];

  constructor(table: IptablesTable) {
    this.table = table;
  }

  declare(chain: string): void {
    this.#declared.add(chain);
  }

  /** Declares `chain` (which flushes it) and deletes it. */
  remove(chain: string): void {
    if (this.#declared.has(chain)) return;
    this.#declared.add(chain);
    this.#removed.push(chain);
  }

  rules(lines: readonly string[]): void {
    for (const line of lines) this.#rules.push(line);
    this.ruleCount += lines.length;
  }

  removed(): readonly string[] {
    return this.#removed;
  }

  text(): string {
    const lines = [`*${this.table}`];
    for (const chain of this.#declared) lines.push(`:${chain} - [0:0]`);
    for (const rule of this.#rules) lines.push(rule);
    for (const chain of this.#removed) lines.push(`-X ${chain}`);
    lines.push('COMMIT');
    return `${lines.join('\n')}\n`;
  }
}
