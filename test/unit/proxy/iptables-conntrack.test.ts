import { describe, expect, it } from 'vitest';
import { isNothingDeleted, staleConntrackDeletions } from '../../../proxy/datapath/iptables/conntrack.js';
import { proxyState, servicePort } from '../../helpers/iptables-fixtures.js';

const dns = servicePort({ namespace: 'kube-system', name: 'dns', portName: 'dns', protocol: 'UDP', port: 53 });
const dnsNodePort = { ...dns, nodePort: 30053 };
const args = (state: ReturnType<typeof staleConntrackDeletions>): string[] => state.map((d) => d.args.join(' '));

describe('stale UDP conntrack entries', () => {
  it('are left alone on the first sync of a process', () => {
    expect(staleConntrackDeletions(undefined, proxyState([dns, ['10.244.0.5:53']]))).toEqual([]);
  });

  it('are none when nothing changed', () => {
    const state = proxyState([dnsNodePort, ['10.244.0.5:53', '10.244.0.6:53']]);
    expect(staleConntrackDeletions(state, proxyState([dnsNodePort, ['10.244.0.6:53', '10.244.0.5:53']]))).toEqual([]);
  });

  it('are those NATed to an endpoint that went away, by VIP and by NodePort', () => {
    const before = proxyState([dnsNodePort, ['10.244.0.5:53', '10.244.0.6:53']]);
    const after = proxyState([dnsNodePort, ['10.244.0.6:53']]);
    const deletions = staleConntrackDeletions(before, after);
    expect(args(deletions)).toEqual([
      '-D -p udp --orig-dst 10.96.0.10 --orig-port-dst 53 --reply-src 10.244.0.5 --reply-port-src 53',
      '-D -p udp --orig-port-dst 30053 --reply-src 10.244.0.5 --reply-port-src 53',
    ]);
    expect(deletions[0]!.reason).toBe('kube-system/dns:dns lost endpoint 10.244.0.5:53');
  });

  it('are every flow to a service port that went away', () => {
    expect(args(staleConntrackDeletions(proxyState([dnsNodePort, ['10.244.0.5:53']]), proxyState()))).toEqual([
      '-D -p udp --orig-dst 10.96.0.10 --orig-port-dst 53',
      '-D -p udp --orig-port-dst 30053',
    ]);
  });

  it('are the flows to the old VIP when a service port moved, and to the new one', () => {
    const moved = { ...dns, clusterIP: '10.96.0.11' };
    expect(args(staleConntrackDeletions(proxyState([dns, ['10.244.0.5:53']]), proxyState([moved, ['10.244.0.5:53']])))).toEqual([
      '-D -p udp --orig-dst 10.96.0.10 --orig-port-dst 53',
      '-D -p udp --orig-dst 10.96.0.11 --orig-port-dst 53',
    ]);
  });

  it('are the flows created while a service port was rejecting, once it has endpoints', () => {
    const deletions = staleConntrackDeletions(proxyState([dnsNodePort, []]), proxyState([dnsNodePort, ['10.244.0.5:53']]));
    expect(args(deletions)).toEqual(['-D -p udp --orig-dst 10.96.0.10 --orig-port-dst 53', '-D -p udp --orig-port-dst 30053']);
    expect(deletions[0]!.reason).toBe('kube-system/dns:dns has endpoints again');
  });

  it('are the flows to a new service port’s VIP (sent there while nothing served it)', () => {
    expect(args(staleConntrackDeletions(proxyState(), proxyState([dns, ['10.244.0.5:53']])))).toEqual([
      '-D -p udp --orig-dst 10.96.0.10 --orig-port-dst 53',
    ]);
  });

  it('are never TCP flows', () => {
    const web = servicePort({ nodePort: 30080 });
    expect(staleConntrackDeletions(proxyState([web, ['10.244.0.2:8080']]), proxyState([web, ['10.244.0.3:8080']]))).toEqual([]);
    expect(staleConntrackDeletions(proxyState([web, ['10.244.0.2:8080']]), proxyState())).toEqual([]);
  });

  it('count "0 flow entries have been deleted" as success', () => {
    expect(isNothingDeleted('conntrack v1.4.7 (conntrack-tools): 0 flow entries have been deleted.\n')).toBe(true);
    expect(isNothingDeleted('conntrack v1.4.7 (conntrack-tools): Operation not permitted\n')).toBe(false);
  });
});
