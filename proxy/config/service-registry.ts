/**
 * Services as an API server would store them, for a node that has none: each source (the
 * manifest directory, the URL) reports its whole set; every Service gets its ClusterIP and, for
 * NodePort and LoadBalancer types, its node ports, through the allocator. A Service whose
 * requested ClusterIP or nodePort is taken, or out of range, is refused with a message naming
 * the field, logged once, and left out; the others go on. Headless and ExternalName Services are
 * kept, with no ClusterIP.
 *
 * The node's own Services (the cluster DNS's kube-dns, when it has a ClusterIP) come before every
 * source's: their names and requested ClusterIPs are theirs.
 *
 * In cluster mode the API server takes this role: its Services arrive allocated (api-config.ts).
 */
import type { Logger } from 'pino';
import { errorMessage } from '../../common/api/errors.js';
import type { Service } from '../../common/api/types.js';
import { namespacedName } from '../../common/api/types.js';
import type { PodSource } from '../../common/api/well-known.js';
import type { ServiceAllocator } from './allocator.js';

export type ServiceListener = (services: readonly Service[]) => void;

/** Sources in order of precedence: a name declared twice keeps the first's. */
const SourceOrder: readonly PodSource[] = ['file', 'http', 'api'];

export class ServiceRegistry {
  readonly #allocator: ServiceAllocator;
  readonly #log: Logger;
  readonly #bySource = new Map<PodSource, readonly Service[]>();
  readonly #listeners: ServiceListener[] = [];
  readonly #reported = new Set<string>();
  #resolved: Service[] = [];
  /** Whether a resolution has finished since a source reported. */
  #resolvedOnce = false;
  /** The last resolution under way; the first waits for the saved allocations to be read. */
  #round: Promise<void>;

  readonly #sources: readonly PodSource[];
  readonly #builtIn: readonly Service[];

  /** `sources`: the sources that will report; allocations are released only once all have. `builtIn`: the node's own Services. */
  constructor(options: { allocator: ServiceAllocator; sources: readonly PodSource[]; builtIn?: readonly Service[]; logger: Logger }) {
    this.#allocator = options.allocator;
    this.#sources = options.sources;
    this.#builtIn = options.builtIn ?? [];
    this.#log = options.logger.child({ component: 'service-registry' });
    this.#round = this.#allocator.load().catch((err: unknown) => this.#log.error({ err: errorMessage(err) }, 'reading the saved allocations failed'));
  }

  onChange(listener: ServiceListener): void {
    this.#listeners.push(listener);
  }

  /** The resolved Services: ClusterIPs and node ports filled in, refused ones left out. */
  services(): readonly Service[] {
    return this.#resolved;
  }

  /**
   * Whether the Services are known: a source has reported and its Services were resolved (or
   * there is no source). A source that never answers (a manifest URL that is down) does not
   * hold the others back.
   */
  synced(): boolean {
    return this.#resolvedOnce || this.#sources.length === 0;
  }

  /** Replaces `source`'s Services and resolves them all again; resolves once that is done. */
  set(source: PodSource, services: readonly Service[]): Promise<void> {
    this.#bySource.set(source, services);
    this.#round = this.#round.then(() => this.#resolveAll()).catch((err: unknown) => this.#log.error({ err }, 'resolving services failed'));
    return this.#round;
  }

  async #resolveAll(): Promise<void> {
    const wanted = this.#wanted();
    // The node's own first, then requests, so that a dynamic allocation never takes an address someone asked for.
    const requested = (s: Service): boolean => Boolean(s.spec?.clusterIP && s.spec.clusterIP !== 'None');
    const own = new Set(this.#builtIn);
    const mine = wanted.filter((s) => own.has(s));
    const others = wanted.filter((s) => !own.has(s));
    const ordered = [...mine, ...others.filter(requested), ...others.filter((s) => !requested(s))];
    this.#allocator.beginRound();
    const resolved = new Map<string, Service>();
    for (const service of ordered) {
      const result = this.#resolve(service);
      if (result.ok) resolved.set(namespacedName(service), result.service);
      else this.#refuse(service, result.message);
    }
    await this.#allocator.endRound({ release: this.#sources.every((source) => this.#bySource.has(source)) });
    this.#resolved = wanted.filter((s) => resolved.has(namespacedName(s))).map((s) => resolved.get(namespacedName(s))!);
    this.#resolvedOnce = true;
    for (const listener of this.#listeners) listener(this.#resolved);
  }

  /** The node's own Services and every source's, the first winning a name, in a stable order. */
  #wanted(): Service[] {
    const byName = new Map<string, Service>();
    for (const service of this.#builtIn) byName.set(namespacedName(service), service);
    const builtIn = new Set(byName.keys());
    for (const source of SourceOrder) {
      for (const service of this.#bySource.get(source) ?? []) {
        const name = namespacedName(service);
        if (builtIn.has(name)) this.#refuse(service, "the name is dockerlet's own cluster DNS Service (--cluster-dns)");
        else if (!byName.has(name)) byName.set(name, service);
      }
    }
    return [...byName.values()].sort((a, b) => namespacedName(a).localeCompare(namespacedName(b)));
  }

  #resolve(service: Service): { ok: true; service: Service } | { ok: false; message: string } {
    const copy = structuredClone(service);
    const spec = (copy.spec ??= {});
    const name = namespacedName(service);
    if (spec.type === 'ExternalName' || spec.clusterIP === 'None') return { ok: true, service: copy };
    const ip = this.#allocator.clusterIP(name, spec.clusterIP || undefined);
    if (!ip.ok) return { ok: false, message: `spec.clusterIP: ${ip.message}` };
    spec.clusterIP = ip.value;
    spec.clusterIPs = [ip.value];
    if (spec.type === 'NodePort' || spec.type === 'LoadBalancer') {
      for (const [index, port] of (spec.ports ?? []).entries()) {
        const allocated = this.#allocator.nodePort(`${name}:${port.name ?? ''}/${port.protocol ?? 'TCP'}`, port.nodePort);
        if (!allocated.ok) return { ok: false, message: `spec.ports[${index}].nodePort: ${allocated.message}` };
        port.nodePort = allocated.value;
      }
    }
    return { ok: true, service: copy };
  }

  #refuse(service: Service, message: string): void {
    const line = `Service ${namespacedName(service)} is not served: ${message}`;
    if (this.#reported.has(line)) return;
    this.#reported.add(line);
    this.#log.error({ service: namespacedName(service) }, line);
  }
}
