/**
 * The cluster DNS on real sockets on loopback: the zone's answers through the wire format, the
 * forwarder against a resolver of the test's own (tests/helpers/dns-upstream.ts), over UDP and
 * TCP, with truncation, caching, failures and the metrics.
 */
import * as dnsPacket from 'dns-packet';
import type { DecodedPacket, RecordType } from 'dns-packet';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, onTestFinished, test } from 'vitest';
import type { Service } from '../../../../common/api/types.js';
import type { EndpointAddress, ProxyConfig } from '../../../../proxy/config/proxy-config.js';
import type { ProxyState } from '../../../../proxy/datapath/proxier.js';
import { ClusterDns } from '../../../../proxy/dns/cluster-dns.js';
import { dnsClients } from '../../../../proxy/dns/dns-server.js';
import { frame, tcpExchange, udpExchange, type DnsEndpoint } from '../../../../proxy/dns/dns-transport.js';
import { parseIpv4Cidr } from '../../../../common/util/ipv4.js';
import { connect } from 'node:net';
import { startFakeUpstream, type FakeUpstream } from '../../../helpers/dns-upstream.js';
import { memoryLogger } from '../../../helpers/memory-logger.js';

class TestConfig implements ProxyConfig {
  services_: Service[] = [];
  addresses: Record<string, EndpointAddress[]> = {};
  isSynced = true;
  readonly #listeners: Array<() => void> = [];
  services(): readonly Service[] {
    return this.services_;
  }
  endpointAddresses(service: Service): readonly EndpointAddress[] {
    return this.addresses[service.metadata?.name ?? ''] ?? [];
  }
  state(): ProxyState {
    return { servicePorts: [], endpoints: new Map() };
  }
  synced(): boolean {
    return this.isSynced;
  }
  onChange(listener: () => void): void {
    this.#listeners.push(listener);
  }
  changed(): void {
    for (const listener of this.#listeners) listener();
  }
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
}

const web: Service = { metadata: { name: 'web', namespace: 'default' }, spec: { clusterIP: '10.96.0.20', ports: [{ name: 'http', port: 80 }] } };

const running: Array<{ stop?(): Promise<void>; close?(): Promise<void> }> = [];
afterEach(async () => {
  for (const part of running.splice(0)) await (part.stop ?? part.close)!.call(part);
});

async function start(records: Record<string, string[]> = {}): Promise<{ dns: ClusterDns; server: DnsEndpoint; config: TestConfig; upstream: FakeUpstream; metrics: Registry }> {
  const upstream = await startFakeUpstream(records);
  running.push(upstream);
  const config = new TestConfig();
  config.services_ = [web];
  const metrics = new Registry();
  const dns = new ClusterDns({ listen: { host: '127.0.0.1', port: 0 }, domain: 'cluster.local', upstreams: [upstream] }, { config, metrics, logger: memoryLogger().logger });
  await dns.start();
  running.push(dns);
  return { dns, server: dns.address!, config, upstream, metrics };
}

let nextId = 1;
async function ask(server: DnsEndpoint, name: string, type: RecordType, options: { tcp?: boolean; edns?: number; flags?: number } = {}): Promise<DecodedPacket & { rcode: string }> {
  const query = dnsPacket.encode({
    type: 'query',
    id: nextId++,
    flags: options.flags ?? dnsPacket.RECURSION_DESIRED,
    questions: [{ name, type, class: 'IN' }],
    ...(options.edns ? { additionals: [{ type: 'OPT', name: '.', udpPayloadSize: options.edns, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }] } : {}),
  });
  const reply = await (options.tcp ? tcpExchange : udpExchange)(server, query, 3_000);
  return dnsPacket.decode(reply) as DecodedPacket & { rcode: string };
}

const addressesOf = (reply: DecodedPacket): string[] => (reply.answers ?? []).filter((r) => r.type === 'A').map((r) => (r as { data: string }).data);

describe('the cluster DNS', () => {
  test('answers cluster names with authority over UDP and TCP, echoing the ID and the question', async () => {
    const { server } = await start();
    for (const tcp of [false, true]) {
      const reply = await ask(server, 'web.default.svc.cluster.local', 'A', { tcp });
      expect(reply).toMatchObject({ type: 'response', rcode: 'NOERROR', flag_aa: true, flag_rd: true, flag_ra: true });
      expect(reply.questions).toEqual([{ name: 'web.default.svc.cluster.local', type: 'A', class: 'IN' }]);
      expect(addressesOf(reply)).toEqual(['10.96.0.20']);
    }
    const missing = await ask(server, 'nope.default.svc.cluster.local', 'A');
    expect(missing.rcode).toBe('NXDOMAIN');
    expect(missing.authorities?.map((r) => r.type)).toEqual(['SOA']);
  });

  test('follows the Services as they change', async () => {
    const { server, config } = await start();
    expect((await ask(server, 'db.default.svc.cluster.local', 'A')).rcode).toBe('NXDOMAIN');
    config.services_ = [web, { metadata: { name: 'db', namespace: 'default' }, spec: { clusterIP: 'None' } }];
    config.addresses = { db: [{ ip: '10.244.0.7' }] };
    config.changed();
    expect(addressesOf(await ask(server, 'db.default.svc.cluster.local', 'A'))).toEqual(['10.244.0.7']);
    config.services_ = [];
    config.changed();
    expect((await ask(server, 'web.default.svc.cluster.local', 'A')).rcode).toBe('NXDOMAIN');
  });

  test('answers SERVFAIL for cluster names until the Services are known, while other names are forwarded', async () => {
    const { server, config } = await start({ 'example.test': ['192.0.2.10'] });
    config.isSynced = false;
    expect((await ask(server, 'web.default.svc.cluster.local', 'A')).rcode).toBe('SERVFAIL');
    expect(addressesOf(await ask(server, 'example.test', 'A'))).toEqual(['192.0.2.10']);
    config.isSynced = true;
    config.changed();
    expect((await ask(server, 'web.default.svc.cluster.local', 'A')).rcode).toBe('NOERROR');
  });

  test('forwards other names to the upstream and keeps the answer for its TTL, capped', async () => {
    const { server, upstream } = await start({ 'example.test': ['192.0.2.10'] });
    const first = await ask(server, 'example.test', 'A');
    expect(first).toMatchObject({ rcode: 'NOERROR', flag_aa: false, flag_ra: true });
    expect(addressesOf(first)).toEqual(['192.0.2.10']);
    const second = await ask(server, 'EXAMPLE.test', 'A');
    expect(addressesOf(second)).toEqual(['192.0.2.10']);
    expect(second.questions?.[0]?.name).toBe('EXAMPLE.test');
    expect((second.answers![0] as { ttl: number }).ttl).toBeLessThanOrEqual(30);
    expect(upstream.asked).toEqual(['example.test/A']);
    expect((await ask(server, 'missing.test', 'A')).rcode).toBe('NXDOMAIN');
    // A PTR the zone does not hold is forwarded too.
    await ask(server, '1.2.0.192.in-addr.arpa', 'PTR');
    expect(upstream.asked).toContain('1.2.0.192.in-addr.arpa/PTR');
  });

  test('a silent upstream: SERVFAIL, not kept', async () => {
    const { server, upstream } = await start({ 'example.test': ['192.0.2.10'] });
    upstream.answering = false;
    expect((await ask(server, 'example.test', 'A')).rcode).toBe('SERVFAIL');
    upstream.answering = true;
    expect(addressesOf(await ask(server, 'example.test', 'A'))).toEqual(['192.0.2.10']);
  }, 10_000);

  test('an ExternalName to a name outside the cluster: the CNAME and the upstream\'s records for its target', async () => {
    const { server, config } = await start({ 'mail.example.test': ['192.0.2.25'] });
    config.services_ = [{ metadata: { name: 'mail', namespace: 'default' }, spec: { type: 'ExternalName', externalName: 'mail.example.test' } }];
    config.changed();
    const reply = await ask(server, 'mail.default.svc.cluster.local', 'A');
    expect(reply.answers?.map((r) => `${r.type} ${(r as { data: string }).data}`)).toEqual(['CNAME mail.example.test', 'A 192.0.2.25']);
  });

  test('an answer too long for the client: as many whole records as fit, and TC; over TCP whole, up to 64 KiB', async () => {
    const { server, config } = await start();
    config.services_ = [{ metadata: { name: 'big', namespace: 'default' }, spec: { clusterIP: 'None', ports: [{ name: 'pg', port: 5432 }] } }];
    config.addresses = { big: Array.from({ length: 60 }, (_, i) => ({ ip: `10.244.1.${i + 1}` })) };
    config.changed();
    const plain = await ask(server, 'big.default.svc.cluster.local', 'A');
    expect(plain.flag_tc).toBe(true);
    expect(addressesOf(plain).length).toBeGreaterThan(0);
    expect(addressesOf(plain).length).toBeLessThan(60);
    const edns = await ask(server, 'big.default.svc.cluster.local', 'A', { edns: 4096 });
    expect(edns.flag_tc).toBe(true);
    expect(addressesOf(edns).length).toBeGreaterThan(addressesOf(plain).length);
    const tcp = await ask(server, 'big.default.svc.cluster.local', 'A', { tcp: true });
    expect(tcp.flag_tc).toBe(false);
    expect(addressesOf(tcp)).toHaveLength(60);
    // Longer than TCP can frame: cut to fit, not a crash.
    config.addresses = { big: Array.from({ length: 3000 }, (_, i) => ({ ip: `10.244.${Math.floor(i / 250) + 2}.${(i % 250) + 1}` })) };
    config.changed();
    const huge = await ask(server, '_pg._tcp.big.default.svc.cluster.local', 'SRV', { tcp: true });
    expect(huge.flag_tc).toBe(true);
    expect(huge.answers!.length).toBeGreaterThan(500);
    expect(huge.answers!.length).toBeLessThan(3000);
  });

  test('a forwarded answer truncated over UDP is asked again over TCP', async () => {
    const addresses = Array.from({ length: 60 }, (_, i) => `192.0.2.${i + 1}`);
    const { server, upstream } = await start({ 'many.example.test': addresses });
    expect(addressesOf(await ask(server, 'many.example.test', 'A', { tcp: true }))).toHaveLength(60);
    expect(upstream.asked).toEqual(['many.example.test/A', 'many.example.test/A']);
  });

  test('a query it cannot read: FORMERR; another opcode: NOTIMP; garbage shorter than a header: nothing', async () => {
    const { server } = await start();
    const header = Buffer.from([0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff]);
    const formerr = dnsPacket.decode(await udpExchange(server, header, 3_000)) as DecodedPacket & { rcode: string };
    expect(formerr).toMatchObject({ id: 0x1234, rcode: 'FORMERR' });
    const notify = await ask(server, 'web.default.svc.cluster.local', 'SOA', { flags: 4 << 11 });
    expect(notify.rcode).toBe('NOTIMP');
    await expect(udpExchange(server, Buffer.from([1, 2, 3]), 300)).rejects.toThrow(/no answer/);
  });

  test('the response keeps the ID, the opcode (NOTIMP), RD and CD; a malformed message that says it is a response gets nothing', async () => {
    const { server } = await start();
    const checked = await ask(server, 'web.default.svc.cluster.local', 'A', { flags: dnsPacket.RECURSION_DESIRED | dnsPacket.CHECKING_DISABLED });
    expect(checked).toMatchObject({ flag_rd: true, flag_cd: true, rcode: 'NOERROR' });
    const status = await ask(server, 'web.default.svc.cluster.local', 'A', { flags: 2 << 11 });
    expect(status).toMatchObject({ rcode: 'NOTIMP', opcode: 'STATUS', flag_rd: false });
    const response = Buffer.from([0x12, 0x34, 0x81, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff]);
    await expect(udpExchange(server, response, 300)).rejects.toThrow(/no answer/);
  });

  test('TCP: queries split across segments and several in one segment are each answered', async () => {
    const { server } = await start();
    const query = (id: number): Buffer => frame(dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ name: 'web.default.svc.cluster.local', type: 'A', class: 'IN' }] }));
    const socket = connect(server.port, server.host);
    onTestFinished(() => void socket.destroy());
    const ids: number[] = [];
    let pending = Buffer.alloc(0);
    const received = new Promise<void>((resolve) => {
      socket.on('data', (chunk: Buffer) => {
        pending = Buffer.concat([pending, chunk]);
        while (pending.length >= 2 && pending.length >= 2 + pending.readUInt16BE(0)) {
          ids.push(dnsPacket.decode(pending.subarray(2, 2 + pending.readUInt16BE(0))).id!);
          pending = pending.subarray(2 + pending.readUInt16BE(0));
        }
        if (ids.length === 3) resolve();
      });
    });
    const first = query(1);
    // Its own segment: no Nagle, and written out before the rest.
    socket.setNoDelay(true);
    await new Promise((resolve) => socket.write(first.subarray(0, 5), resolve));
    socket.write(Buffer.concat([first.subarray(5), query(2), query(3)]));
    await received;
    expect(ids.toSorted()).toEqual([1, 2, 3]);
  });

  test("with clients given, only loopback, the host's own addresses and those networks are answered; without, everyone is", () => {
    const allowed = dnsClients([parseIpv4Cidr('10.244.0.0/16')!], { hostAddresses: () => ['198.51.100.7'] });
    for (const client of ['10.244.3.7', '::ffff:10.244.3.7', '127.0.0.1', '::1', '198.51.100.7']) expect(allowed(client), client).toBe(true);
    for (const client of ['192.0.2.1', '10.245.0.1']) expect(allowed(client), client).toBe(false);
    const anyone = dnsClients(undefined);
    for (const client of ['192.0.2.1', '10.245.0.1']) expect(anyone(client), client).toBe(true);
  });

  test('/metrics counts queries by type, rcode and source, with their duration', async () => {
    const { server, metrics } = await start({ 'example.test': ['192.0.2.10'] });
    await ask(server, 'web.default.svc.cluster.local', 'A');
    await ask(server, 'nope.default.svc.cluster.local', 'SRV');
    await ask(server, 'example.test', 'A');
    const text = await metrics.metrics();
    expect(text).toContain('dockerlet_dns_queries_total{type="A",rcode="NOERROR",source="cluster"} 1');
    expect(text).toContain('dockerlet_dns_queries_total{type="SRV",rcode="NXDOMAIN",source="cluster"} 1');
    expect(text).toContain('dockerlet_dns_queries_total{type="A",rcode="NOERROR",source="upstream"} 1');
    expect(text).toMatch(/dockerlet_dns_query_duration_seconds_count\{source="upstream"\} 1/);
    // Rare and made-up types share one label value.
    await ask(server, 'web.default.svc.cluster.local', 'NAPTR');
    expect(await metrics.metrics()).toContain('dockerlet_dns_queries_total{type="other",rcode="NOERROR",source="cluster"} 1');
  });

  test('an address that does not exist yet is waited for; one that is taken fails start with what to do', async () => {
    const { server } = await start();
    const config = new TestConfig();
    const taken = new ClusterDns({ listen: server, domain: 'cluster.local', upstreams: [] }, { config, metrics: new Registry(), logger: memoryLogger().logger });
    await expect(taken.start()).rejects.toThrow(/cannot listen on 127\.0\.0\.1:\d+ .*EADDRINUSE.*--serve-cluster-dns=false/);
    const log = memoryLogger();
    const later = new ClusterDns({ listen: { host: '192.0.2.53', port: 0 }, domain: 'cluster.local', upstreams: [] }, { config, metrics: new Registry(), logger: log.logger });
    await later.start();
    expect(later.address).toBeUndefined();
    expect(log.lines.some((line) => /does not exist yet/.test(String(line.msg)))).toBe(true);
    await later.stop();
  });
});
