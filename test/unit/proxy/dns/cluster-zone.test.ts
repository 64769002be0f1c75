import { describe, expect, test } from 'vitest';
import type { Service } from '../../../../common/api/types.js';
import type { EndpointAddress } from '../../../../proxy/config/proxy-config.js';
import { ClusterZone, reverseName, type ZoneAnswer } from '../../../../proxy/dns/cluster-zone.js';

function service(name: string, namespace: string, spec: Service['spec']): Service {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace }, spec };
}

const web = service('web', 'default', { clusterIP: '10.96.0.20', ports: [{ name: 'http', port: 80, protocol: 'TCP' }, { port: 9090 }] });
const db = service('db', 'data', {
  clusterIP: 'None',
  ports: [
    { name: 'pg', port: 5432, protocol: 'TCP' },
    { name: 'stats', port: 9187, protocol: 'UDP' },
  ],
});
const empty = service('empty', 'data', { clusterIP: 'None', ports: [{ name: 'pg', port: 5432 }] });
const external = service('mail', 'default', { type: 'ExternalName', externalName: 'smtp.example.test.' });
const alias = service('site', 'default', { type: 'ExternalName', externalName: 'web.default.svc.cluster.local' });

const addresses: Record<string, EndpointAddress[]> = {
  'data/db': [{ ip: '10.244.0.5', hostname: 'db-0' }, { ip: '10.244.0.6' }],
};

function zone(services: Service[] = [web, db, empty, external, alias]): ClusterZone {
  return ClusterZone.build(
    { domain: 'cluster.local', services, addressesOf: (s) => addresses[`${s.metadata?.namespace}/${s.metadata?.name}`] ?? [], serverAddress: '10.244.0.1' },
    7,
  );
}

/** The answer's records as "name type data" lines. */
function lines(records: ZoneAnswer['answers']): string[] {
  return records.map((record) => {
    const data = 'data' in record ? record.data : undefined;
    const text = typeof data === 'object' && data !== null && 'target' in data ? `${data.priority} ${data.weight} ${data.port} ${data.target}` : String(data);
    return `${record.name} ${record.type} ${text}`;
  });
}

describe('the cluster zone', () => {
  test('a Service with a ClusterIP: A, SRV for each named port only, PTR', () => {
    const z = zone();
    const a = z.answer('web.default.svc.cluster.local', 'A')!;
    expect(a.rcode).toBe('NOERROR');
    expect(lines(a.answers)).toEqual(['web.default.svc.cluster.local A 10.96.0.20']);
    expect(a.answers[0]).toMatchObject({ ttl: 5 });
    const srv = z.answer('_http._tcp.web.default.svc.cluster.local', 'SRV')!;
    expect(lines(srv.answers)).toEqual(['_http._tcp.web.default.svc.cluster.local SRV 0 100 80 web.default.svc.cluster.local']);
    expect(lines(srv.additionals)).toEqual(['web.default.svc.cluster.local A 10.96.0.20']);
    expect(lines(z.answer(reverseName('10.96.0.20'), 'PTR')!.answers)).toEqual(['20.0.96.10.in-addr.arpa PTR web.default.svc.cluster.local']);
  });

  test('a headless Service: each ready endpoint, by the Service name and by its hostname (its IP dashed without one); SRV per endpoint; PTR', () => {
    const z = zone();
    expect(lines(z.answer('db.data.svc.cluster.local', 'A')!.answers)).toEqual(['db.data.svc.cluster.local A 10.244.0.5', 'db.data.svc.cluster.local A 10.244.0.6']);
    expect(lines(z.answer('db-0.db.data.svc.cluster.local', 'A')!.answers)).toEqual(['db-0.db.data.svc.cluster.local A 10.244.0.5']);
    expect(lines(z.answer('10-244-0-6.db.data.svc.cluster.local', 'A')!.answers)).toEqual(['10-244-0-6.db.data.svc.cluster.local A 10.244.0.6']);
    const srv = z.answer('_pg._tcp.db.data.svc.cluster.local', 'SRV')!;
    expect(lines(srv.answers)).toEqual([
      '_pg._tcp.db.data.svc.cluster.local SRV 0 100 5432 db-0.db.data.svc.cluster.local',
      '_pg._tcp.db.data.svc.cluster.local SRV 0 100 5432 10-244-0-6.db.data.svc.cluster.local',
    ]);
    expect(lines(srv.additionals)).toEqual(['db-0.db.data.svc.cluster.local A 10.244.0.5', '10-244-0-6.db.data.svc.cluster.local A 10.244.0.6']);
    expect(lines(z.answer('_stats._udp.db.data.svc.cluster.local', 'SRV')!.answers)).toHaveLength(2);
    expect(lines(z.answer('5.0.244.10.in-addr.arpa', 'PTR')!.answers)).toEqual(['5.0.244.10.in-addr.arpa PTR db-0.db.data.svc.cluster.local']);
  });

  test('a headless Service without ready endpoints exists with no records: NODATA, not NXDOMAIN', () => {
    const answer = zone().answer('empty.data.svc.cluster.local', 'A')!;
    expect(answer).toMatchObject({ rcode: 'NOERROR', answers: [] });
    expect(answer.authorities[0]).toMatchObject({ type: 'SOA', name: 'cluster.local', data: { mname: 'ns.dns.cluster.local', serial: 7, minimum: 5 } });
  });

  test('an ExternalName Service is a CNAME; a target outside the zone is left for the server to chase, one inside is followed', () => {
    const z = zone();
    const outside = z.answer('mail.default.svc.cluster.local', 'A')!;
    expect(lines(outside.answers)).toEqual(['mail.default.svc.cluster.local CNAME smtp.example.test']);
    expect(outside.chase).toBe('smtp.example.test');
    const inside = z.answer('site.default.svc.cluster.local', 'A')!;
    expect(lines(inside.answers)).toEqual(['site.default.svc.cluster.local CNAME web.default.svc.cluster.local', 'web.default.svc.cluster.local A 10.96.0.20']);
    expect(inside.chase).toBeUndefined();
    expect(lines(z.answer('mail.default.svc.cluster.local', 'CNAME')!.answers)).toEqual(['mail.default.svc.cluster.local CNAME smtp.example.test']);
  });

  test('ExternalNames that point at each other end after a few links', () => {
    const loop = [service('a', 'default', { type: 'ExternalName', externalName: 'b.default.svc.cluster.local' }), service('b', 'default', { type: 'ExternalName', externalName: 'a.default.svc.cluster.local' })];
    const answer = zone(loop).answer('a.default.svc.cluster.local', 'A')!;
    expect(answer.rcode).toBe('NOERROR');
    expect(answer.answers.every((record) => record.type === 'CNAME')).toBe(true);
    // The question's CNAME, then the links followed: the chain stops after a few.
    expect(answer.answers).toHaveLength(9);
    expect(answer.chase).toBeUndefined();
  });

  test('pod names spell their address (any namespace); other labels under pod are NXDOMAIN; the names above them exist', () => {
    const z = zone();
    expect(z.answer('pod.cluster.local', 'A')).toMatchObject({ rcode: 'NOERROR', answers: [] });
    expect(z.answer('shop.pod.cluster.local', 'A')).toMatchObject({ rcode: 'NOERROR', answers: [] });
    expect(lines(z.answer('10-244-0-9.shop.pod.cluster.local', 'A')!.answers)).toEqual(['10-244-0-9.shop.pod.cluster.local A 10.244.0.9']);
    expect(z.answer('10-244-0-999.shop.pod.cluster.local', 'A')!.rcode).toBe('NXDOMAIN');
    expect(z.answer('web.shop.pod.cluster.local', 'A')!.rcode).toBe('NXDOMAIN');
  });

  test('NXDOMAIN for names that do not exist, NODATA for names that do with other types, or that lie above records', () => {
    const z = zone();
    expect(z.answer('nothere.default.svc.cluster.local', 'A')).toMatchObject({ rcode: 'NXDOMAIN', answers: [] });
    expect(z.answer('web.other.svc.cluster.local', 'A')!.rcode).toBe('NXDOMAIN');
    expect(z.answer('web.default.svc.cluster.local', 'AAAA')).toMatchObject({ rcode: 'NOERROR', answers: [] });
    expect(z.answer('default.svc.cluster.local', 'A')).toMatchObject({ rcode: 'NOERROR', answers: [] });
    expect(z.answer('svc.cluster.local', 'A')).toMatchObject({ rcode: 'NOERROR', answers: [] });
    expect(z.answer('web.default.svc.cluster.local', 'AAAA')!.authorities.map((r) => r.type)).toEqual(['SOA']);
  });

  test('names compare case-insensitively and with or without the final dot; the answer keeps the question\'s spelling', () => {
    const answer = zone().answer('WEB.Default.SVC.cluster.local.', 'A')!;
    expect(lines(answer.answers)).toEqual(['WEB.Default.SVC.cluster.local. A 10.96.0.20']);
    expect(lines(zone().answer('Mail.default.svc.cluster.local', 'A')!.answers)).toEqual(['Mail.default.svc.cluster.local CNAME smtp.example.test']);
  });

  test('the apex has its SOA and NS, the schema version its TXT', () => {
    const z = zone();
    expect(z.answer('cluster.local', 'SOA')!.answers.map((r) => r.type)).toEqual(['SOA']);
    expect(lines(z.answer('cluster.local', 'NS')!.answers)).toEqual(['cluster.local NS ns.dns.cluster.local']);
    expect(lines(z.answer('ns.dns.cluster.local', 'A')!.answers)).toEqual(['ns.dns.cluster.local A 10.244.0.1']);
    expect(lines(z.answer('dns-version.cluster.local', 'TXT')!.answers)).toEqual(['dns-version.cluster.local TXT 1.1.0']);
  });

  test('names outside the zone, and reverse names it does not hold, are not its own', () => {
    const z = zone();
    expect(z.answer('example.test', 'A')).toBeUndefined();
    expect(z.answer('cluster.local.example.test', 'A')).toBeUndefined();
    expect(z.answer(reverseName('192.0.2.1'), 'PTR')).toBeUndefined();
    expect(z.owns(reverseName('10.96.0.20'))).toBe(true);
  });

  test('another domain', () => {
    const z = ClusterZone.build({ domain: 'corp.internal', services: [web], addressesOf: () => [], serverAddress: '10.0.0.1' }, 1);
    expect(lines(z.answer('web.default.svc.corp.internal', 'A')!.answers)).toEqual(['web.default.svc.corp.internal A 10.96.0.20']);
    expect(z.answer('web.default.svc.cluster.local', 'A')).toBeUndefined();
  });
});
