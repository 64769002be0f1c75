/**
 * The cluster domain's records, as the Kubernetes DNS specification (schema 1.1.0) defines them,
 * built from the Services the proxy serves and the endpoint addresses of headless ones:
 *
 *   <svc>.<ns>.svc.<zone>                    A      the ClusterIP; for a headless Service each ready endpoint's IP
 *   <hostname>.<svc>.<ns>.svc.<zone>         A      a headless Service's endpoint (its hostname, else its IP dashed)
 *   _<port>._<proto>.<svc>.<ns>.svc.<zone>   SRV    each named port: the Service, or each endpoint of a headless one
 *   <d>.<c>.<b>.<a>.in-addr.arpa             PTR    a ClusterIP -> its Service; an endpoint IP -> its name above
 *   <svc>.<ns>.svc.<zone>                    CNAME  an ExternalName Service's externalName
 *   <a>-<b>-<c>-<d>.<ns>.pod.<zone>          A      <a>.<b>.<c>.<d>, for any address (CoreDNS's `pods insecure`)
 *   dns-version.<zone>                       TXT    the schema version
 *   <zone>                                   SOA, NS
 *
 * Names compare case-insensitively. A name with records of other types, or under which records
 * exist (svc.<zone>, <ns>.svc.<zone>, pod.<zone>, <ns>.pod.<zone>), is NODATA; any other name in
 * the zone is NXDOMAIN; both
 * carry the SOA, whose minimum is the TTL. A reverse name the zone does not know, and any name
 * outside it, is not the zone's: the server forwards it.
 *
 * A headless Service's SRV records carry the Service's port, as the specification writes them
 * (CoreDNS gives each endpoint's own port; the two differ only when targetPort does).
 *
 * The records are built once per snapshot of the Services (ClusterZone.build), so that a query
 * is a map lookup.
 */
import type { Answer, OptAnswer, RecordType, SoaData, SrvData } from 'dns-packet';
import type { Service } from '../../common/api/types.js';
import { isIpv4 } from '../../common/util/ipv4.js';
import type { EndpointAddress } from '../config/proxy-config.js';

/** The TTL of every record and of negative answers (CoreDNS's kubernetes plugin's default). */
export const ZoneTtlSeconds = 5;

/** How many CNAMEs in the zone one answer follows. */
const MaxCnameChain = 8;

/** The version of the Kubernetes DNS specification these records follow. */
export const DnsSchemaVersion = '1.1.0';

export interface ZoneInput {
  /** The cluster domain, such as cluster.local. */
  domain: string;
  services: readonly Service[];
  /** The ready endpoint addresses of a headless Service. */
  addressesOf(service: Service): readonly EndpointAddress[];
  /** The address the DNS server answers on: the zone's NS record points there. */
  serverAddress: string;
}

/** The zone's answer to one question. */
export interface ZoneAnswer {
  rcode: 'NOERROR' | 'NXDOMAIN';
  answers: Answer[];
  /** The SOA on a negative answer. */
  authorities: Answer[];
  /** The A records of SRV targets. */
  additionals: Answer[];
  /** A CNAME's target outside the zone, for the server to resolve and append. */
  chase?: string;
}

type ZoneRecord = Exclude<Answer, OptAnswer>;

const lower = (name: string): string => name.toLowerCase().replace(/\.$/, '');

/** Whether `name` is `domain` or under it, compared as DNS names are (case, final dot). */
export function inDomain(name: string, domain: string): boolean {
  const key = lower(name);
  const apex = lower(domain);
  return key === apex || key.endsWith(`.${apex}`);
}

/** "10.96.0.10" -> "10.0.96.10.in-addr.arpa". */
export function reverseName(ip: string): string {
  return `${ip.split('.').reverse().join('.')}.in-addr.arpa`;
}

export class ClusterZone {
  readonly domain: string;
  readonly #byName = new Map<string, ZoneRecord[]>();
  /** Every name that exists, records or not (the empty non-terminals above records). */
  readonly #names = new Set<string>();
  readonly #ptr = new Map<string, ZoneRecord[]>();
  readonly #soa: ZoneRecord;

  private constructor(domain: string, serial: number) {
    this.domain = lower(domain);
    const soa: SoaData = {
      mname: `ns.dns.${this.domain}`,
      rname: `hostmaster.${this.domain}`,
      serial,
      refresh: 7200,
      retry: 1800,
      expire: 86400,
      minimum: ZoneTtlSeconds,
    };
    this.#soa = { name: this.domain, type: 'SOA', ttl: ZoneTtlSeconds, data: soa };
  }

  /** The zone for `input`; `serial` tells one build from the next (the SOA's serial). */
  static build(input: ZoneInput, serial: number): ClusterZone {
    const zone = new ClusterZone(input.domain, serial);
    zone.#add(zone.#soa);
    zone.#add({ name: zone.domain, type: 'NS', ttl: ZoneTtlSeconds, data: `ns.dns.${zone.domain}` });
    zone.#add({ name: `ns.dns.${zone.domain}`, type: 'A', ttl: ZoneTtlSeconds, data: input.serverAddress });
    zone.#add({ name: `dns-version.${zone.domain}`, type: 'TXT', ttl: ZoneTtlSeconds, data: DnsSchemaVersion });
    for (const service of input.services) zone.#addService(service, input.addressesOf);
    return zone;
  }

  /** Whether `name` is in the zone, or a reverse name the zone holds: the names it answers. */
  owns(name: string): boolean {
    return inDomain(name, this.domain) || this.#ptr.has(lower(name));
  }

  /** The answer to `name`/`type`, or undefined when the name is not the zone's (owns() is false). */
  answer(name: string, type: RecordType): ZoneAnswer | undefined {
    return this.#answer(name, type, 0);
  }

  #answer(name: string, type: RecordType, depth: number): ZoneAnswer | undefined {
    const key = lower(name);
    if (!this.owns(key)) return undefined;
    const records = this.#recordsAt(key);
    const found = records.find((record) => record.type === 'CNAME');
    // Owned by the name as asked, as every answer is.
    const cname = found && { ...found, name };
    if (cname && type !== 'CNAME') return this.#chase(cname, type, depth);
    const matching = records.filter((record) => (type as string) === 'ANY' || record.type === type);
    if (matching.length > 0) return { rcode: 'NOERROR', answers: matching.map((r) => ({ ...r, name })), authorities: [], additionals: this.#additionalsFor(matching) };
    const exists = records.length > 0 || this.#names.has(key) || this.#isPodTree(key);
    return { rcode: exists ? 'NOERROR' : 'NXDOMAIN', answers: [], authorities: [this.#soa], additionals: [] };
  }

  #recordsAt(key: string): readonly ZoneRecord[] {
    return this.#byName.get(key) ?? this.#ptr.get(key) ?? this.#podRecord(key);
  }

  /** pod.<zone> and <ns>.pod.<zone>: the names above the pod records, which exist with none of their own. */
  #isPodTree(key: string): boolean {
    return key === `pod.${this.domain}` || (key.endsWith(`.pod.${this.domain}`) && !key.slice(0, -(this.domain.length + 5)).includes('.'));
  }

  /** <a>-<b>-<c>-<d>.<ns>.pod.<zone>: the address its first label spells. */
  #podRecord(key: string): ZoneRecord[] {
    const labels = key.slice(0, -(this.domain.length + 1)).split('.');
    if (labels.length !== 3 || labels[2] !== 'pod') return [];
    const ip = labels[0]!.replaceAll('-', '.');
    return isIpv4(ip) ? [{ name: key, type: 'A', ttl: ZoneTtlSeconds, data: ip }] : [];
  }

  /** A CNAME and, when its target is in the zone, the target's records of `type` (a chain of ExternalNames ends after a few links). */
  #chase(cname: ZoneRecord, type: RecordType, depth: number): ZoneAnswer {
    const target = cname.data as string;
    if (!this.owns(target)) return { rcode: 'NOERROR', answers: [cname], authorities: [], additionals: [], chase: target };
    if (depth >= MaxCnameChain) return { rcode: 'NOERROR', answers: [cname], authorities: [], additionals: [] };
    const inZone = this.#answer(target, type, depth + 1)!;
    return { ...inZone, answers: [cname, ...inZone.answers] };
  }

  #additionalsFor(records: readonly ZoneRecord[]): Answer[] {
    return records.filter((record) => record.type === 'SRV').flatMap((srv) => (this.#byName.get(lower((srv.data as SrvData).target)) ?? []).filter((r) => r.type === 'A'));
  }

  #addService(service: Service, addressesOf: ZoneInput['addressesOf']): void {
    const namespace = service.metadata?.namespace ?? 'default';
    const spec = service.spec ?? {};
    const name = lower(`${service.metadata?.name ?? ''}.${namespace}.svc.${this.domain}`);
    this.#addName(name);
    if (spec.type === 'ExternalName') {
      if (spec.externalName) this.#add({ name, type: 'CNAME', ttl: ZoneTtlSeconds, data: lower(spec.externalName) });
      return;
    }
    const namedPorts = (spec.ports ?? []).filter((port) => port.name);
    const srv = (target: string, port: { name?: string; protocol?: string; port: number }): ZoneRecord => ({
      name: `_${port.name}._${(port.protocol ?? 'TCP').toLowerCase()}.${name}`,
      type: 'SRV',
      ttl: ZoneTtlSeconds,
      data: { priority: 0, weight: 100, port: port.port, target },
    });
    if (spec.clusterIP && spec.clusterIP !== 'None') {
      this.#add({ name, type: 'A', ttl: ZoneTtlSeconds, data: spec.clusterIP });
      for (const port of namedPorts) this.#add(srv(name, port));
      this.#addPtr(spec.clusterIP, name);
      return;
    }
    for (const address of addressesOf(service)) {
      const host = `${lower(address.hostname ?? address.ip.replaceAll('.', '-'))}.${name}`;
      this.#add({ name, type: 'A', ttl: ZoneTtlSeconds, data: address.ip });
      this.#add({ name: host, type: 'A', ttl: ZoneTtlSeconds, data: address.ip });
      for (const port of namedPorts) this.#add(srv(host, port));
      this.#addPtr(address.ip, host);
    }
  }

  #add(record: ZoneRecord): void {
    const key = lower(record.name);
    this.#byName.set(key, [...(this.#byName.get(key) ?? []), record]);
    this.#addName(key);
  }

  /** `key` exists, and so does every name between it and the zone's apex. */
  #addName(key: string): void {
    for (let at = key; at.length > this.domain.length; at = at.slice(at.indexOf('.') + 1)) this.#names.add(at);
  }

  #addPtr(ip: string, target: string): void {
    const key = reverseName(ip);
    const existing = this.#ptr.get(key) ?? [];
    if (!existing.some((record) => record.data === target)) this.#ptr.set(key, [...existing, { name: key, type: 'PTR', ttl: ZoneTtlSeconds, data: target }]);
  }
}
