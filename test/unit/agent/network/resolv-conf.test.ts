import { describe, expect, test } from 'vitest';
import { formatResolvConf, podResolvConf, type ClusterDns } from '../../../../agent/network/resolv-conf.js';
import { parseResolvConf, type ResolvConf } from '../../../../common/util/resolv-conf.js';
import { pod } from '../../fixtures.js';

const host: ResolvConf = { nameservers: ['192.168.1.1', '192.168.1.2'], searches: ['corp.example'], options: ['timeout:2'] };
const cluster: ClusterDns = { servers: ['10.96.0.10'], domain: 'cluster.local' };
const noCluster: ClusterDns = { servers: [], domain: 'cluster.local' };

describe('podResolvConf', () => {
  test('ClusterFirst with a cluster DNS: the cluster server, the cluster searches then the host ones, ndots:5', () => {
    expect(podResolvConf(pod({}, { namespace: 'shop' }), host, cluster)).toEqual({
      nameservers: ['10.96.0.10'],
      searches: ['shop.svc.cluster.local', 'svc.cluster.local', 'cluster.local', 'corp.example'],
      options: ['ndots:5'],
    });
  });

  test('a host search domain that repeats a cluster one appears once', () => {
    const conf = podResolvConf(pod(), { ...host, searches: ['cluster.local', 'corp.example'] }, cluster);
    expect(conf.searches).toEqual(['default.svc.cluster.local', 'svc.cluster.local', 'cluster.local', 'corp.example']);
  });

  test('ClusterFirst without a cluster DNS falls back to the host resolv.conf', () => {
    expect(podResolvConf(pod(), host, noCluster)).toEqual(host);
  });

  test('ClusterFirst with hostNetwork uses the host resolv.conf', () => {
    expect(podResolvConf(pod({ hostNetwork: true }), host, cluster)).toEqual(host);
  });

  test('ClusterFirstWithHostNet with hostNetwork uses the cluster DNS', () => {
    expect(podResolvConf(pod({ hostNetwork: true, dnsPolicy: 'ClusterFirstWithHostNet' }), host, cluster).nameservers).toEqual(['10.96.0.10']);
  });

  test('Default uses the host resolv.conf even with a cluster DNS', () => {
    expect(podResolvConf(pod({ dnsPolicy: 'Default' }), host, cluster)).toEqual(host);
  });

  test('None starts empty and takes only dnsConfig', () => {
    const p = pod({ dnsPolicy: 'None', dnsConfig: { nameservers: ['1.1.1.1'], searches: ['x.example'], options: [{ name: 'ndots', value: '1' }, { name: 'edns0' }] } });
    expect(podResolvConf(p, host, cluster)).toEqual({ nameservers: ['1.1.1.1'], searches: ['x.example'], options: ['ndots:1', 'edns0'] });
  });

  test('dnsConfig is appended without duplicates; its options replace those of the same name', () => {
    const p = pod({ dnsConfig: { nameservers: ['10.96.0.10', '8.8.8.8'], searches: ['cluster.local', 'extra.example'], options: [{ name: 'ndots', value: '2' }, { name: 'rotate' }] } });
    expect(podResolvConf(p, host, cluster)).toEqual({
      nameservers: ['10.96.0.10', '8.8.8.8'],
      searches: ['default.svc.cluster.local', 'svc.cluster.local', 'cluster.local', 'corp.example', 'extra.example'],
      options: ['ndots:2', 'rotate'],
    });
  });

  test('at most 3 nameservers, whatever the policy', () => {
    const many: ResolvConf = { ...host, nameservers: ['1.0.0.1', '1.0.0.2', '1.0.0.3', '1.0.0.4'] };
    expect(podResolvConf(pod({ dnsPolicy: 'Default' }), many, cluster).nameservers).toEqual(['1.0.0.1', '1.0.0.2', '1.0.0.3']);
  });

  test('at most 32 search domains, none over 253 characters', () => {
    const long = `${'a'.repeat(250)}.example`;
    const searches = [long, ...Array.from({ length: 40 }, (_, i) => `s${i}.example`)];
    const conf = podResolvConf(pod({ dnsPolicy: 'Default' }), { ...host, searches }, cluster);
    expect(conf.searches).toEqual(Array.from({ length: 31 }, (_, i) => `s${i}.example`));
  });

  test('the search line is cut from the end to 2048 characters', () => {
    const searches = Array.from({ length: 10 }, (_, i) => `${String(i).repeat(250)}`);
    const conf = podResolvConf(pod({ dnsPolicy: 'Default' }), { ...host, searches }, cluster);
    expect(conf.searches).toEqual(searches.slice(0, 8));
    expect(conf.searches.join(' ').length).toBeLessThanOrEqual(2048);
  });

  test('without a cluster domain, ClusterFirst keeps just the host searches', () => {
    expect(podResolvConf(pod(), host, { servers: ['10.96.0.10'], domain: '' }).searches).toEqual(['corp.example']);
  });
});

describe('formatResolvConf', () => {
  test('writes nameserver, search and options lines', () => {
    expect(formatResolvConf({ nameservers: ['10.96.0.10', '8.8.8.8'], searches: ['a.example', 'b.example'], options: ['ndots:5'] })).toBe(
      'nameserver 10.96.0.10\nnameserver 8.8.8.8\nsearch a.example b.example\noptions ndots:5\n',
    );
  });

  test('leaves out empty search and options lines', () => {
    expect(formatResolvConf({ nameservers: ['1.1.1.1'], searches: [], options: [] })).toBe('nameserver 1.1.1.1\n');
  });

  test('reads back what it wrote', () => {
    const conf = { nameservers: ['10.96.0.10'], searches: ['a.example'], options: ['ndots:5', 'edns0'] };
    expect(parseResolvConf(formatResolvConf(conf))).toEqual(conf);
  });
});
