import { describe, expect, it } from 'vitest';
import { endpointChainName, servicePortChains } from '../../../proxy/datapath/iptables/chains.js';
import { buildCleanupRules, buildIptablesRules, probability, type RulesOptions } from '../../../proxy/datapath/iptables/rules.js';
import type { EndpointInfo, ProxyState } from '../../../proxy/datapath/proxier.js';
import { proxyState, servicePort } from '../../helpers/iptables-fixtures.js';

const options: RulesOptions = { podCIDR: '10.244.0.0/16' };

// Chain names of the fixtures (see "chain names" below for how they are made).
const WebSvc = 'DOCKERLET-SVC-CDGGSHYLG3RE2F';
const WebExt = 'DOCKERLET-EXT-CDGGSHYLG3RE2F';
const WebSep2 = 'DOCKERLET-SEP-QA4PSDNF5R2OJO'; // 10.244.0.2:8080
const WebSep3 = 'DOCKERLET-SEP-TCD3IFXQZW3ZEZ'; // 10.244.0.3:8080
const WebSep4 = 'DOCKERLET-SEP-MQPSSF2DIKDEHI'; // 10.244.0.4:8080
const MetricsSvc = 'DOCKERLET-SVC-I6PCZM52FOLORX';
const MetricsSep2 = 'DOCKERLET-SEP-EVW2SLHOQFMJV2'; // 10.244.0.2:9090
const MetricsSep3 = 'DOCKERLET-SEP-KT6Z7ZAY2E5EJS'; // 10.244.0.3:9090
const DnsSvc = 'DOCKERLET-SVC-2KKYJRIGYGQNRO';
const DnsSep = 'DOCKERLET-SEP-P3NUPYDZHCBLEW'; // 10.244.0.5:53

const FirewallRule =
  '-A DOCKERLET-FIREWALL -m comment --comment "block incoming localnet connections" -d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP';
const NodePortsJump =
  '-A DOCKERLET-SERVICES -m comment --comment "dockerlet service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j DOCKERLET-NODEPORTS';
const MarkMasqRules = ['-A DOCKERLET-MARK-MASQ -j MARK --or-mark 0x4000'];
const PostroutingRules = [
  '-A DOCKERLET-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN',
  '-A DOCKERLET-POSTROUTING -j MARK --xor-mark 0x4000',
  '-A DOCKERLET-POSTROUTING -m comment --comment "dockerlet service traffic requiring SNAT" -j MASQUERADE',
];

function lines(...all: string[]): string {
  return `${all.join('\n')}\n`;
}

function filterTable(services: string[] = [], external: string[] = []): string {
  return lines(
    '*filter',
    ':DOCKERLET-SERVICES - [0:0]',
    ':DOCKERLET-EXTERNAL-SERVICES - [0:0]',
    ':DOCKERLET-FIREWALL - [0:0]',
    ...services,
    ...external,
    FirewallRule,
    'COMMIT',
  );
}

interface NatParts {
  chains?: string[];
  services?: string[];
  nodePorts?: string[];
  perService?: string[];
  deleted?: string[];
}

function natTable({ chains = [], services = [], nodePorts = [], perService = [], deleted = [] }: NatParts = {}): string {
  return lines(
    '*nat',
    ':DOCKERLET-SERVICES - [0:0]',
    ':DOCKERLET-NODEPORTS - [0:0]',
    ':DOCKERLET-MARK-MASQ - [0:0]',
    ':DOCKERLET-POSTROUTING - [0:0]',
    ...chains.map((c) => `:${c} - [0:0]`),
    ...services,
    NodePortsJump,
    ...nodePorts,
    ...MarkMasqRules,
    ...PostroutingRules,
    ...perService,
    ...deleted.map((c) => `-X ${c}`),
    'COMMIT',
  );
}

describe('iptables rules', () => {
  it('sends a ClusterIP with two endpoints to each with probability 1/2', () => {
    const state = proxyState([servicePort(), ['10.244.0.2:8080', '10.244.0.3:8080']]);
    expect(buildIptablesRules(state, options).text).toBe(`*filter
:DOCKERLET-SERVICES - [0:0]
:DOCKERLET-EXTERNAL-SERVICES - [0:0]
:DOCKERLET-FIREWALL - [0:0]
-A DOCKERLET-FIREWALL -m comment --comment "block incoming localnet connections" -d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP
COMMIT
*nat
:DOCKERLET-SERVICES - [0:0]
:DOCKERLET-NODEPORTS - [0:0]
:DOCKERLET-MARK-MASQ - [0:0]
:DOCKERLET-POSTROUTING - [0:0]
:DOCKERLET-SVC-CDGGSHYLG3RE2F - [0:0]
:DOCKERLET-SEP-QA4PSDNF5R2OJO - [0:0]
:DOCKERLET-SEP-TCD3IFXQZW3ZEZ - [0:0]
-A DOCKERLET-SERVICES -m comment --comment "default/web:http cluster IP" -d 10.96.0.10/32 -p tcp --dport 80 -j DOCKERLET-SVC-CDGGSHYLG3RE2F
-A DOCKERLET-SERVICES -m comment --comment "dockerlet service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j DOCKERLET-NODEPORTS
-A DOCKERLET-MARK-MASQ -j MARK --or-mark 0x4000
-A DOCKERLET-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN
-A DOCKERLET-POSTROUTING -j MARK --xor-mark 0x4000
-A DOCKERLET-POSTROUTING -m comment --comment "dockerlet service traffic requiring SNAT" -j MASQUERADE
-A DOCKERLET-SVC-CDGGSHYLG3RE2F -m comment --comment "default/web:http cluster IP" -d 10.96.0.10/32 -p tcp --dport 80 ! -s 10.244.0.0/16 -j DOCKERLET-MARK-MASQ
-A DOCKERLET-SVC-CDGGSHYLG3RE2F -m comment --comment "default/web:http -> 10.244.0.2:8080" -m statistic --mode random --probability 0.5000000000 -j DOCKERLET-SEP-QA4PSDNF5R2OJO
-A DOCKERLET-SVC-CDGGSHYLG3RE2F -m comment --comment "default/web:http -> 10.244.0.3:8080" -j DOCKERLET-SEP-TCD3IFXQZW3ZEZ
-A DOCKERLET-SEP-QA4PSDNF5R2OJO -m comment --comment "default/web:http" -s 10.244.0.2/32 -j DOCKERLET-MARK-MASQ
-A DOCKERLET-SEP-QA4PSDNF5R2OJO -m comment --comment "default/web:http" -p tcp -j DNAT --to-destination 10.244.0.2:8080
-A DOCKERLET-SEP-TCD3IFXQZW3ZEZ -m comment --comment "default/web:http" -s 10.244.0.3/32 -j DOCKERLET-MARK-MASQ
-A DOCKERLET-SEP-TCD3IFXQZW3ZEZ -m comment --comment "default/web:http" -p tcp -j DNAT --to-destination 10.244.0.3:8080
COMMIT
`);
  });

  it('rejects a ClusterIP with no endpoints in filter and writes nothing for it in nat', () => {
    const state = proxyState([servicePort(), []]);
    expect(buildIptablesRules(state, options).text).toBe(
      filterTable([
        '-A DOCKERLET-SERVICES -m comment --comment "default/web:http has no endpoints" -d 10.96.0.10/32 -p tcp --dport 80 -j REJECT',
      ]) + natTable(),
    );
  });

  it('treats a service port absent from the endpoints map as having none', () => {
    const state: ProxyState = { servicePorts: [servicePort()], endpoints: new Map() };
    expect(buildIptablesRules(state, options).text).toBe(buildIptablesRules(proxyState([servicePort(), []]), options).text);
  });

  it('rejects a NodePort with no endpoints on local addresses too', () => {
    const state = proxyState([servicePort({ nodePort: 30080 }), []]);
    expect(buildIptablesRules(state, options).text).toBe(
      filterTable(
        ['-A DOCKERLET-SERVICES -m comment --comment "default/web:http has no endpoints" -d 10.96.0.10/32 -p tcp --dport 80 -j REJECT'],
        [
          '-A DOCKERLET-EXTERNAL-SERVICES -m comment --comment "default/web:http has no endpoints" -m addrtype --dst-type LOCAL -p tcp --dport 30080 -j REJECT',
        ],
      ) + natTable(),
    );
  });

  it('sends a NodePort through an EXT chain that marks it for masquerade', () => {
    const state = proxyState([servicePort({ nodePort: 30080 }), ['10.244.0.2:8080']]);
    expect(buildIptablesRules(state, options).text).toBe(
      filterTable() +
        natTable({
          chains: [WebExt, WebSvc, WebSep2],
          services: [
            `-A DOCKERLET-SERVICES -m comment --comment "default/web:http cluster IP" -d 10.96.0.10/32 -p tcp --dport 80 -j ${WebSvc}`,
          ],
          nodePorts: [`-A DOCKERLET-NODEPORTS -m comment --comment "default/web:http" -p tcp --dport 30080 -j ${WebExt}`],
          perService: [
            `-A ${WebExt} -m comment --comment "masquerade traffic for default/web:http external destinations" -j DOCKERLET-MARK-MASQ`,
            `-A ${WebExt} -m comment --comment "default/web:http" -j ${WebSvc}`,
            `-A ${WebSvc} -m comment --comment "default/web:http cluster IP" -d 10.96.0.10/32 -p tcp --dport 80 ! -s 10.244.0.0/16 -j DOCKERLET-MARK-MASQ`,
            `-A ${WebSvc} -m comment --comment "default/web:http -> 10.244.0.2:8080" -j ${WebSep2}`,
            `-A ${WebSep2} -m comment --comment "default/web:http" -s 10.244.0.2/32 -j DOCKERLET-MARK-MASQ`,
            `-A ${WebSep2} -m comment --comment "default/web:http" -p tcp -j DNAT --to-destination 10.244.0.2:8080`,
          ],
        }),
    );
  });

  describe('traffic policies', () => {
    const WebSvl = 'DOCKERLET-SVL-CDGGSHYLG3RE2F';
    const clusterIPMasq = (chain: string): string =>
      `-A ${chain} -m comment --comment "default/web:http cluster IP" -d 10.96.0.10/32 -p tcp --dport 80 ! -s 10.244.0.0/16 -j DOCKERLET-MARK-MASQ`;
    const sep = (chain: string, ip: string): string[] => [
      `-A ${chain} -m comment --comment "default/web:http" -s ${ip}/32 -j DOCKERLET-MARK-MASQ`,
      `-A ${chain} -m comment --comment "default/web:http" -p tcp -j DNAT --to-destination ${ip}:8080`,
    ];

    it('internalTrafficPolicy Local: the ClusterIP goes to an SVL chain of the local endpoints only, and the others get no chain', () => {
      const state = proxyState([servicePort({ internalPolicyLocal: true }), ['10.244.0.2:8080 local', '10.244.0.3:8080', '10.244.0.4:8080 local']]);
      expect(buildIptablesRules(state, options).text).toBe(
        filterTable() +
          natTable({
            chains: [WebSvl, WebSep2, WebSep4],
            services: [`-A DOCKERLET-SERVICES -m comment --comment "default/web:http cluster IP" -d 10.96.0.10/32 -p tcp --dport 80 -j ${WebSvl}`],
            perService: [
              clusterIPMasq(WebSvl),
              `-A ${WebSvl} -m comment --comment "default/web:http -> 10.244.0.2:8080" -m statistic --mode random --probability 0.5000000000 -j ${WebSep2}`,
              `-A ${WebSvl} -m comment --comment "default/web:http -> 10.244.0.4:8080" -j ${WebSep4}`,
              ...sep(WebSep2, '10.244.0.2'),
              ...sep(WebSep4, '10.244.0.4'),
            ],
          }),
      );
    });

    it('internalTrafficPolicy Local with endpoints on other nodes only: the ClusterIP is dropped, not rejected', () => {
      const state = proxyState([servicePort({ internalPolicyLocal: true }), ['10.244.0.3:8080']]);
      expect(buildIptablesRules(state, options).text).toBe(
        filterTable(['-A DOCKERLET-SERVICES -m comment --comment "default/web:http has no local endpoints" -d 10.96.0.10/32 -p tcp --dport 80 -j DROP']) + natTable(),
      );
    });

    it("externalTrafficPolicy Local: outside traffic to the NodePort goes to the local endpoints unmasqueraded; pods' and the node's own go to all, the node's masqueraded", () => {
      const state = proxyState([servicePort({ nodePort: 30080, externalPolicyLocal: true }), ['10.244.0.2:8080 local', '10.244.0.3:8080']]);
      expect(buildIptablesRules(state, options).text).toBe(
        filterTable() +
          natTable({
            chains: [WebExt, WebSvc, WebSvl, WebSep2, WebSep3],
            services: [`-A DOCKERLET-SERVICES -m comment --comment "default/web:http cluster IP" -d 10.96.0.10/32 -p tcp --dport 80 -j ${WebSvc}`],
            nodePorts: [`-A DOCKERLET-NODEPORTS -m comment --comment "default/web:http" -p tcp --dport 30080 -j ${WebExt}`],
            perService: [
              `-A ${WebExt} -m comment --comment "pod traffic for default/web:http external destinations" -s 10.244.0.0/16 -j ${WebSvc}`,
              `-A ${WebExt} -m comment --comment "masquerade LOCAL traffic for default/web:http external destinations" -m addrtype --src-type LOCAL -j DOCKERLET-MARK-MASQ`,
              `-A ${WebExt} -m comment --comment "route LOCAL traffic for default/web:http external destinations" -m addrtype --src-type LOCAL -j ${WebSvc}`,
              `-A ${WebExt} -m comment --comment "default/web:http" -j ${WebSvl}`,
              clusterIPMasq(WebSvc),
              `-A ${WebSvc} -m comment --comment "default/web:http -> 10.244.0.2:8080" -m statistic --mode random --probability 0.5000000000 -j ${WebSep2}`,
              `-A ${WebSvc} -m comment --comment "default/web:http -> 10.244.0.3:8080" -j ${WebSep3}`,
              `-A ${WebSvl} -m comment --comment "default/web:http -> 10.244.0.2:8080" -j ${WebSep2}`,
              ...sep(WebSep2, '10.244.0.2'),
              ...sep(WebSep3, '10.244.0.3'),
            ],
          }),
      );
    });

    it('externalTrafficPolicy Local with no local endpoint: outside traffic to the NodePort is dropped; the ClusterIP, pods and the node itself are still served', () => {
      const state = proxyState([servicePort({ nodePort: 30080, externalPolicyLocal: true }), ['10.244.0.3:8080']]);
      const rules = buildIptablesRules(state, options).text;
      expect(rules).toContain(
        '-A DOCKERLET-EXTERNAL-SERVICES -m comment --comment "default/web:http has no local endpoints" -m addrtype --dst-type LOCAL -p tcp --dport 30080 -j DROP',
      );
      expect(rules).not.toContain(WebSvl);
      expect(rules).toContain(`-A ${WebExt} -m comment --comment "route LOCAL traffic for default/web:http external destinations" -m addrtype --src-type LOCAL -j ${WebSvc}`);
      expect(rules).toContain(`-A DOCKERLET-SERVICES -m comment --comment "default/web:http cluster IP" -d 10.96.0.10/32 -p tcp --dport 80 -j ${WebSvc}`);
    });

    it('both policies Local: the ClusterIP and outside NodePort traffic share the SVL chain, which alone masquerades for the ClusterIP', () => {
      const state = proxyState([servicePort({ nodePort: 30080, internalPolicyLocal: true, externalPolicyLocal: true }), ['10.244.0.2:8080 local', '10.244.0.3:8080']]);
      const { serviceChains } = buildIptablesRules(state, options);
      expect(serviceChains.get(WebSvl)).toBe([clusterIPMasq(WebSvl), `-A ${WebSvl} -m comment --comment "default/web:http -> 10.244.0.2:8080" -j ${WebSep2}`].join('\n'));
      expect(serviceChains.get(WebSvc)).not.toContain('cluster IP');
    });
  });

  it('writes UDP service ports with -p udp', () => {
    const dns = servicePort({ namespace: 'kube-system', name: 'dns', portName: 'dns', protocol: 'UDP', port: 53 });
    const state = proxyState([dns, ['10.244.0.5:53']]);
    expect(buildIptablesRules(state, options).text).toBe(
      filterTable() +
        natTable({
          chains: [DnsSvc, DnsSep],
          services: [
            `-A DOCKERLET-SERVICES -m comment --comment "kube-system/dns:dns cluster IP" -d 10.96.0.10/32 -p udp --dport 53 -j ${DnsSvc}`,
          ],
          perService: [
            `-A ${DnsSvc} -m comment --comment "kube-system/dns:dns cluster IP" -d 10.96.0.10/32 -p udp --dport 53 ! -s 10.244.0.0/16 -j DOCKERLET-MARK-MASQ`,
            `-A ${DnsSvc} -m comment --comment "kube-system/dns:dns -> 10.244.0.5:53" -j ${DnsSep}`,
            `-A ${DnsSep} -m comment --comment "kube-system/dns:dns" -s 10.244.0.5/32 -j DOCKERLET-MARK-MASQ`,
            `-A ${DnsSep} -m comment --comment "kube-system/dns:dns" -p udp -j DNAT --to-destination 10.244.0.5:53`,
          ],
        }),
    );
  });

  it('keeps a client on its endpoint with ClientIP affinity (recent --rcheck in SVC, --set in SEP)', () => {
    const state = proxyState([servicePort({ affinityTimeoutSeconds: 600 }), ['10.244.0.2:8080', '10.244.0.3:8080']]);
    expect(buildIptablesRules(state, options).text).toBe(
      filterTable() +
        natTable({
          chains: [WebSvc, WebSep2, WebSep3],
          services: [
            `-A DOCKERLET-SERVICES -m comment --comment "default/web:http cluster IP" -d 10.96.0.10/32 -p tcp --dport 80 -j ${WebSvc}`,
          ],
          perService: [
            `-A ${WebSvc} -m comment --comment "default/web:http cluster IP" -d 10.96.0.10/32 -p tcp --dport 80 ! -s 10.244.0.0/16 -j DOCKERLET-MARK-MASQ`,
            `-A ${WebSvc} -m comment --comment "default/web:http -> 10.244.0.2:8080" -m recent --name ${WebSep2} --mask 255.255.255.255 --rsource --rcheck --seconds 600 --reap -j ${WebSep2}`,
            `-A ${WebSvc} -m comment --comment "default/web:http -> 10.244.0.3:8080" -m recent --name ${WebSep3} --mask 255.255.255.255 --rsource --rcheck --seconds 600 --reap -j ${WebSep3}`,
            `-A ${WebSvc} -m comment --comment "default/web:http -> 10.244.0.2:8080" -m statistic --mode random --probability 0.5000000000 -j ${WebSep2}`,
            `-A ${WebSvc} -m comment --comment "default/web:http -> 10.244.0.3:8080" -j ${WebSep3}`,
            `-A ${WebSep2} -m comment --comment "default/web:http" -s 10.244.0.2/32 -j DOCKERLET-MARK-MASQ`,
            `-A ${WebSep2} -m comment --comment "default/web:http" -m recent --name ${WebSep2} --mask 255.255.255.255 --rsource --set -p tcp -j DNAT --to-destination 10.244.0.2:8080`,
            `-A ${WebSep3} -m comment --comment "default/web:http" -s 10.244.0.3/32 -j DOCKERLET-MARK-MASQ`,
            `-A ${WebSep3} -m comment --comment "default/web:http" -m recent --name ${WebSep3} --mask 255.255.255.255 --rsource --set -p tcp -j DNAT --to-destination 10.244.0.3:8080`,
          ],
        }),
    );
  });

  it('spreads three endpoints with probabilities 1/3, 1/2 and the rest', () => {
    const state = proxyState([servicePort(), ['10.244.0.2:8080', '10.244.0.3:8080', '10.244.0.4:8080']]);
    expect(buildIptablesRules(state, options).text).toBe(
      filterTable() +
        natTable({
          chains: [WebSvc, WebSep2, WebSep3, WebSep4],
          services: [
            `-A DOCKERLET-SERVICES -m comment --comment "default/web:http cluster IP" -d 10.96.0.10/32 -p tcp --dport 80 -j ${WebSvc}`,
          ],
          perService: [
            `-A ${WebSvc} -m comment --comment "default/web:http cluster IP" -d 10.96.0.10/32 -p tcp --dport 80 ! -s 10.244.0.0/16 -j DOCKERLET-MARK-MASQ`,
            `-A ${WebSvc} -m comment --comment "default/web:http -> 10.244.0.2:8080" -m statistic --mode random --probability 0.3333333333 -j ${WebSep2}`,
            `-A ${WebSvc} -m comment --comment "default/web:http -> 10.244.0.3:8080" -m statistic --mode random --probability 0.5000000000 -j ${WebSep3}`,
            `-A ${WebSvc} -m comment --comment "default/web:http -> 10.244.0.4:8080" -j ${WebSep4}`,
            `-A ${WebSep2} -m comment --comment "default/web:http" -s 10.244.0.2/32 -j DOCKERLET-MARK-MASQ`,
            `-A ${WebSep2} -m comment --comment "default/web:http" -p tcp -j DNAT --to-destination 10.244.0.2:8080`,
            `-A ${WebSep3} -m comment --comment "default/web:http" -s 10.244.0.3/32 -j DOCKERLET-MARK-MASQ`,
            `-A ${WebSep3} -m comment --comment "default/web:http" -p tcp -j DNAT --to-destination 10.244.0.3:8080`,
            `-A ${WebSep4} -m comment --comment "default/web:http" -s 10.244.0.4/32 -j DOCKERLET-MARK-MASQ`,
            `-A ${WebSep4} -m comment --comment "default/web:http" -p tcp -j DNAT --to-destination 10.244.0.4:8080`,
          ],
        }),
    );
  });

  it('flushes and deletes per-service chains that are no longer wanted, and only those', () => {
    const state = proxyState([servicePort(), ['10.244.0.2:8080']]);
    const existing = {
      nat: [
        'DOCKERLET-SERVICES',
        'DOCKERLET-NODEPORTS',
        WebSvc,
        WebSep2,
        WebSep3, // endpoint gone
        'DOCKERLET-SVC-UJBI2K64V4MA2M', // service gone
        'DOCKERLET-EXT-UJBI2K64V4MA2M',
        'DOCKERLET-SEP-EEPIH73WBN2EB4',
        'DOCKERLET-PORTALS-HOST', // ours but not per-service: left to cleanup()
        'KUBE-SVC-XPGD46QRK7WJZT7O', // kube-proxy's
        'DOCKER',
      ],
      filter: ['DOCKERLET-SERVICES', 'DOCKERLET-SERVICE-GUARD', 'DOCKER-USER'],
    };
    const rules = buildIptablesRules(state, { ...options, existingChains: existing });
    const stale = [WebSep3, 'DOCKERLET-SVC-UJBI2K64V4MA2M', 'DOCKERLET-EXT-UJBI2K64V4MA2M', 'DOCKERLET-SEP-EEPIH73WBN2EB4'];
    expect(rules.text).toBe(
      filterTable() +
        natTable({
          chains: [WebSvc, WebSep2, ...stale],
          services: [
            `-A DOCKERLET-SERVICES -m comment --comment "default/web:http cluster IP" -d 10.96.0.10/32 -p tcp --dport 80 -j ${WebSvc}`,
          ],
          perService: [
            `-A ${WebSvc} -m comment --comment "default/web:http cluster IP" -d 10.96.0.10/32 -p tcp --dport 80 ! -s 10.244.0.0/16 -j DOCKERLET-MARK-MASQ`,
            `-A ${WebSvc} -m comment --comment "default/web:http -> 10.244.0.2:8080" -j ${WebSep2}`,
            `-A ${WebSep2} -m comment --comment "default/web:http" -s 10.244.0.2/32 -j DOCKERLET-MARK-MASQ`,
            `-A ${WebSep2} -m comment --comment "default/web:http" -p tcp -j DNAT --to-destination 10.244.0.2:8080`,
          ],
          deleted: stale,
        }),
    );
    expect(rules.deleted).toEqual({ filter: [], nat: stale });
    expect([...rules.chains.nat]).toEqual(['DOCKERLET-SERVICES', 'DOCKERLET-NODEPORTS', 'DOCKERLET-MARK-MASQ', 'DOCKERLET-POSTROUTING', WebSvc, WebSep2]);
  });

  it('gives each port of a multi-port service its own chains', () => {
    const web = servicePort();
    const metrics = servicePort({ portName: 'metrics', port: 9090 });
    const state = proxyState([web, ['10.244.0.2:8080', '10.244.0.3:8080']], [metrics, ['10.244.0.2:9090', '10.244.0.3:9090']]);
    expect(buildIptablesRules(state, options).text).toBe(
      filterTable() +
        natTable({
          chains: [WebSvc, WebSep2, WebSep3, MetricsSvc, MetricsSep2, MetricsSep3],
          services: [
            `-A DOCKERLET-SERVICES -m comment --comment "default/web:http cluster IP" -d 10.96.0.10/32 -p tcp --dport 80 -j ${WebSvc}`,
            `-A DOCKERLET-SERVICES -m comment --comment "default/web:metrics cluster IP" -d 10.96.0.10/32 -p tcp --dport 9090 -j ${MetricsSvc}`,
          ],
          perService: [
            `-A ${WebSvc} -m comment --comment "default/web:http cluster IP" -d 10.96.0.10/32 -p tcp --dport 80 ! -s 10.244.0.0/16 -j DOCKERLET-MARK-MASQ`,
            `-A ${WebSvc} -m comment --comment "default/web:http -> 10.244.0.2:8080" -m statistic --mode random --probability 0.5000000000 -j ${WebSep2}`,
            `-A ${WebSvc} -m comment --comment "default/web:http -> 10.244.0.3:8080" -j ${WebSep3}`,
            `-A ${WebSep2} -m comment --comment "default/web:http" -s 10.244.0.2/32 -j DOCKERLET-MARK-MASQ`,
            `-A ${WebSep2} -m comment --comment "default/web:http" -p tcp -j DNAT --to-destination 10.244.0.2:8080`,
            `-A ${WebSep3} -m comment --comment "default/web:http" -s 10.244.0.3/32 -j DOCKERLET-MARK-MASQ`,
            `-A ${WebSep3} -m comment --comment "default/web:http" -p tcp -j DNAT --to-destination 10.244.0.3:8080`,
            `-A ${MetricsSvc} -m comment --comment "default/web:metrics cluster IP" -d 10.96.0.10/32 -p tcp --dport 9090 ! -s 10.244.0.0/16 -j DOCKERLET-MARK-MASQ`,
            `-A ${MetricsSvc} -m comment --comment "default/web:metrics -> 10.244.0.2:9090" -m statistic --mode random --probability 0.5000000000 -j ${MetricsSep2}`,
            `-A ${MetricsSvc} -m comment --comment "default/web:metrics -> 10.244.0.3:9090" -j ${MetricsSep3}`,
            `-A ${MetricsSep2} -m comment --comment "default/web:metrics" -s 10.244.0.2/32 -j DOCKERLET-MARK-MASQ`,
            `-A ${MetricsSep2} -m comment --comment "default/web:metrics" -p tcp -j DNAT --to-destination 10.244.0.2:9090`,
            `-A ${MetricsSep3} -m comment --comment "default/web:metrics" -s 10.244.0.3/32 -j DOCKERLET-MARK-MASQ`,
            `-A ${MetricsSep3} -m comment --comment "default/web:metrics" -p tcp -j DNAT --to-destination 10.244.0.3:9090`,
          ],
        }),
    );
  });

  it('writes a repeated service port or endpoint once', () => {
    const state: ProxyState = {
      servicePorts: [servicePort(), servicePort()],
      endpoints: new Map([[servicePort().id, [{ ip: '10.244.0.2', port: 8080 }, { ip: '10.244.0.2', port: 8080 }]]]),
    };
    expect(buildIptablesRules(state, options).text).toBe(buildIptablesRules(proxyState([servicePort(), ['10.244.0.2:8080']]), options).text);
  });

  it('writes comments without characters that would break iptables-restore', () => {
    const odd = servicePort({ name: 'we"b\\x', id: 'default/odd:http' });
    const text = buildIptablesRules(proxyState([odd, []]), options).text;
    expect(text).toContain('--comment "default/webx:http has no endpoints"');
  });
});

describe('partial syncs', () => {
  const metrics = servicePort({ portName: 'metrics', port: 9090 });
  const before = proxyState([servicePort(), ['10.244.0.2:8080', '10.244.0.3:8080']], [metrics, ['10.244.0.2:9090']]);

  it('rewrite the fixed chains and only the per-service chains that changed', () => {
    const previous = buildIptablesRules(before, options);
    const after = proxyState([servicePort(), ['10.244.0.2:8080', '10.244.0.4:8080']], [metrics, ['10.244.0.2:9090']]);
    const rules = buildIptablesRules(after, { ...options, existingChains: previous.chains, previousChains: previous.serviceChains });
    // web's SVC chain changed (new endpoint), its SEP for .2 did not; metrics is untouched; .3's SEP goes.
    expect(rules.text).toBe(
      filterTable() +
        natTable({
          chains: [WebSvc, WebSep4, WebSep3],
          services: [
            `-A DOCKERLET-SERVICES -m comment --comment "default/web:http cluster IP" -d 10.96.0.10/32 -p tcp --dport 80 -j ${WebSvc}`,
            `-A DOCKERLET-SERVICES -m comment --comment "default/web:metrics cluster IP" -d 10.96.0.10/32 -p tcp --dport 9090 -j ${MetricsSvc}`,
          ],
          perService: [
            `-A ${WebSvc} -m comment --comment "default/web:http cluster IP" -d 10.96.0.10/32 -p tcp --dport 80 ! -s 10.244.0.0/16 -j DOCKERLET-MARK-MASQ`,
            `-A ${WebSvc} -m comment --comment "default/web:http -> 10.244.0.2:8080" -m statistic --mode random --probability 0.5000000000 -j ${WebSep2}`,
            `-A ${WebSvc} -m comment --comment "default/web:http -> 10.244.0.4:8080" -j ${WebSep4}`,
            `-A ${WebSep4} -m comment --comment "default/web:http" -s 10.244.0.4/32 -j DOCKERLET-MARK-MASQ`,
            `-A ${WebSep4} -m comment --comment "default/web:http" -p tcp -j DNAT --to-destination 10.244.0.4:8080`,
          ],
          deleted: [WebSep3],
        }),
    );
    expect(rules.writtenServiceChains).toBe(2);
    expect([...rules.chains.nat]).toEqual([
      'DOCKERLET-SERVICES',
      'DOCKERLET-NODEPORTS',
      'DOCKERLET-MARK-MASQ',
      'DOCKERLET-POSTROUTING',
      WebSvc,
      WebSep2,
      WebSep4,
      MetricsSvc,
      MetricsSep2,
    ]);
  });

  it('rewrite an unchanged chain that is not there any more', () => {
    const previous = buildIptablesRules(before, options);
    const existing = [...previous.chains.nat].filter((c) => c !== MetricsSep2);
    const rules = buildIptablesRules(before, { ...options, existingChains: { nat: existing }, previousChains: previous.serviceChains });
    expect(rules.text.match(/^:DOCKERLET-(SVC|EXT|SEP)-\S+/gm)).toEqual([`:${MetricsSep2}`]);
  });
});

describe('commits of a few service ports (iptables-nft)', () => {
  const three = proxyState(
    [servicePort({ name: 'a', clusterIP: '10.96.0.1' }), ['10.244.0.2:8080']],
    [servicePort({ name: 'b', clusterIP: '10.96.0.2', nodePort: 30002 }), ['10.244.0.3:8080']],
    [servicePort({ name: 'c', clusterIP: '10.96.0.3' }), ['10.244.0.4:8080']],
  );

  /** Per commit of a table: its chain declarations and deletions. */
  function commits(text: string): string[][] {
    return text
      .split('COMMIT\n')
      .filter((part) => part.length > 0)
      .map((part) => part.split('\n').filter((line) => /^(\*|:|-X )/.test(line)));
  }

  it('write MARK-MASQ and POSTROUTING first, then the service ports, then DOCKERLET-SERVICES with the deletions', () => {
    const a = servicePort({ name: 'a', clusterIP: '10.96.0.1' });
    const b = servicePort({ name: 'b', clusterIP: '10.96.0.2', nodePort: 30002 });
    const c = servicePort({ name: 'c', clusterIP: '10.96.0.3' });
    const rules = buildIptablesRules(three, { ...options, servicePortsPerCommit: 2, existingChains: { nat: ['DOCKERLET-SVC-UJBI2K64V4MA2M'] } });
    expect(commits(rules.text)).toEqual([
      ['*filter', ':DOCKERLET-SERVICES - [0:0]', ':DOCKERLET-EXTERNAL-SERVICES - [0:0]', ':DOCKERLET-FIREWALL - [0:0]'],
      ['*nat', ':DOCKERLET-MARK-MASQ - [0:0]', ':DOCKERLET-POSTROUTING - [0:0]'],
      [
        '*nat',
        `:${servicePortChains(a).svc} - [0:0]`,
        `:${endpointChainName(a, '10.244.0.2:8080')} - [0:0]`,
        `:DOCKERLET-EXT-${servicePortChains(b).svc.slice(14)} - [0:0]`,
        `:${servicePortChains(b).svc} - [0:0]`,
        `:${endpointChainName(b, '10.244.0.3:8080')} - [0:0]`,
      ],
      ['*nat', `:${servicePortChains(c).svc} - [0:0]`, `:${endpointChainName(c, '10.244.0.4:8080')} - [0:0]`],
      [
        '*nat',
        ':DOCKERLET-SERVICES - [0:0]',
        ':DOCKERLET-NODEPORTS - [0:0]',
        ':DOCKERLET-SVC-UJBI2K64V4MA2M - [0:0]',
        '-X DOCKERLET-SVC-UJBI2K64V4MA2M',
      ],
    ]);
    // The same rules, only split differently.
    const single = buildIptablesRules(three, options).text;
    const ruleLines = (text: string): string[] => text.split('\n').filter((l) => l.startsWith('-A ')).sort();
    expect(ruleLines(rules.text)).toEqual(ruleLines(single));
  });

  it('are not used when everything fits in one', () => {
    expect(buildIptablesRules(three, { ...options, servicePortsPerCommit: 3 }).text).toBe(buildIptablesRules(three, options).text);
  });
});

describe('chain names', () => {
  it('are kube-proxy’s hashes cut to fit the 28-character limit of iptables', () => {
    // kube-proxy's own test fixtures: KUBE-SVC-XPGD46QRK7WJZT7O and KUBE-SEP-SXIVWICOYRO3J4NJ.
    const sp = servicePort({ namespace: 'ns1', name: 'svc1', portName: 'p80' });
    expect(servicePortChains(sp).svc).toBe('DOCKERLET-SVC-XPGD46QRK7WJZT');
    expect(endpointChainName(sp, '10.180.0.1:80')).toBe('DOCKERLET-SEP-SXIVWICOYRO3J4');
    expect(servicePortChains(sp).svc).toHaveLength(28);
  });

  it('hash an unnamed port as "<namespace>/<name>" like kube-proxy', () => {
    // base32(sha256("default/webtcp")), computed apart from chains.ts.
    const unnamed = servicePort({ portName: '', id: 'default/web:' });
    expect(servicePortChains(unnamed).svc).toBe('DOCKERLET-SVC-LOLE4ISW44XBNF');
    expect(buildIptablesRules(proxyState([unnamed, []]), options).text).toContain('--comment "default/web has no endpoints"');
  });

  it('differ by protocol', () => {
    expect(servicePortChains(servicePort({ protocol: 'UDP' })).svc).not.toBe(servicePortChains(servicePort()).svc);
  });
});

describe('probability', () => {
  it('prints 1/n with ten decimals as kube-proxy does', () => {
    expect([probability(3), probability(2), probability(7)]).toEqual(['0.3333333333', '0.5000000000', '0.1428571429']);
  });
});

describe('cleanup rules', () => {
  it('flush and delete every chain of ours but the service CIDR guard', () => {
    const text = buildCleanupRules({
      nat: ['DOCKER', 'DOCKERLET-SERVICES', 'DOCKERLET-SVC-CDGGSHYLG3RE2F', 'DOCKERLET-PORTALS-HOST'],
      filter: ['DOCKERLET-SERVICE-GUARD', 'DOCKERLET-FIREWALL', 'DOCKER-USER'],
    });
    expect(text).toBe(
      lines(
        '*filter',
        ':DOCKERLET-FIREWALL - [0:0]',
        '-X DOCKERLET-FIREWALL',
        'COMMIT',
        '*nat',
        ':DOCKERLET-SERVICES - [0:0]',
        ':DOCKERLET-SVC-CDGGSHYLG3RE2F - [0:0]',
        ':DOCKERLET-PORTALS-HOST - [0:0]',
        '-X DOCKERLET-SERVICES',
        '-X DOCKERLET-SVC-CDGGSHYLG3RE2F',
        '-X DOCKERLET-PORTALS-HOST',
        'COMMIT',
      ),
    );
  });

  it('are empty when there is nothing of ours', () => {
    expect(buildCleanupRules({ nat: ['DOCKER'], filter: ['DOCKERLET-SERVICE-GUARD'] })).toBe('');
  });
});

// ---- property: any state gives well-formed restore input ----

/** A small deterministic PRNG, so a failing case can be reproduced from its seed. */
function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomState(random: () => number): { state: ProxyState; existing: string[] } {
  const pick = (n: number): number => Math.floor(random() * n);
  const servicePorts = [];
  const endpoints = new Map<string, EndpointInfo[]>();
  const count = pick(12);
  for (let i = 0; i < count; i++) {
    const sp = servicePort({
      name: `svc${pick(6)}`,
      portName: ['', 'http', 'dns', 'metrics'][pick(4)]!,
      protocol: random() < 0.3 ? 'UDP' : 'TCP',
      clusterIP: `10.96.0.${1 + pick(200)}`,
      port: 1 + pick(65535),
      ...(random() < 0.4 ? { nodePort: 30000 + pick(2768) } : {}),
      ...(random() < 0.3 ? { affinityTimeoutSeconds: 1 + pick(86400) } : {}),
      ...(random() < 0.3 ? { internalPolicyLocal: true } : {}),
      ...(random() < 0.3 ? { externalPolicyLocal: true } : {}),
    });
    servicePorts.push(sp);
    endpoints.set(
      sp.id,
      Array.from({ length: pick(5) }, () => ({ ip: `10.244.0.${2 + pick(5)}`, port: 8000 + pick(3), isLocal: random() < 0.5 })),
    );
  }
  const existing = [
    'DOCKERLET-SERVICES',
    'DOCKERLET-SVC-UJBI2K64V4MA2M',
    'DOCKERLET-SEP-EEPIH73WBN2EB4',
    ...servicePorts.slice(0, pick(servicePorts.length + 1)).map((sp) => servicePortChains(sp).svc),
  ];
  return { state: { servicePorts, endpoints }, existing };
}

const BuiltinTargets = new Set(['ACCEPT', 'DROP', 'RETURN', 'REJECT', 'DNAT', 'SNAT', 'MASQUERADE', 'MARK']);

/** Our chains of each table and their rules, as iptables would hold them. */
type Tables = Map<string, Map<string, string[]>>;

/**
 * Applies iptables-restore --noflush input to `tables` as iptables would, commit by commit, and
 * returns every problem iptables would refuse the input for: a chain declared twice in a commit,
 * a rule in or a jump to a chain that does not exist, a chain name over 28 characters, deleting a
 * chain that a rule still jumps to.
 */
function applyRestore(tables: Tables, text: string): string[] {
  const problems: string[] = [];
  let name = '';
  let work = new Map<string, string[]>();
  let declared = new Set<string>();
  for (const line of text.trimEnd().split('\n')) {
    if (line.startsWith('*')) {
      name = line.slice(1);
      work = new Map([...(tables.get(name) ?? new Map<string, string[]>())].map(([c, r]) => [c, [...r]]));
      declared = new Set();
    } else if (line.startsWith(':')) {
      const chain = line.slice(1).split(' ')[0]!;
      if (declared.has(chain)) problems.push(`${name}: ${chain} declared twice`);
      if (chain.length > 28) problems.push(`${name}: ${chain} is longer than 28 characters`);
      declared.add(chain);
      work.set(chain, []);
    } else if (line.startsWith('-A ')) {
      const chain = line.split(' ')[1]!;
      const target = / -j (\S+)/.exec(line)?.[1];
      const recent = / --name (\S+)/.exec(line)?.[1];
      if (!work.has(chain)) problems.push(`${name}: rule in missing chain ${chain}`);
      else work.get(chain)!.push(line);
      if (!target) problems.push(`${name}: rule without a target: ${line}`);
      else if (!BuiltinTargets.has(target) && !work.has(target)) problems.push(`${name}: jump to missing ${target}`);
      if (recent && !work.has(recent)) problems.push(`${name}: recent list ${recent} names no chain`);
    } else if (line.startsWith('-X ')) {
      const chain = line.slice(3);
      if (!work.has(chain)) problems.push(`${name}: deletes missing ${chain}`);
      const users = [...work.values()].flat().filter((rule) => rule.endsWith(` -j ${chain}`) || rule.includes(` -j ${chain} `));
      if (users.length > 0) problems.push(`${name}: deletes ${chain}, which a rule jumps to`);
      work.delete(chain);
    } else if (line === 'COMMIT') {
      tables.set(name, work);
    } else {
      problems.push(`unexpected line: ${line}`);
    }
  }
  return problems;
}

/** A state that shares some of `state`'s service ports (some with other endpoints) and adds others. */
function mutate(state: ProxyState, random: () => number): ProxyState {
  const { state: extra } = randomState(random);
  const kept = state.servicePorts.filter(() => random() < 0.6);
  const endpoints = new Map<string, EndpointInfo[]>();
  for (const sp of kept) {
    const eps = [...(state.endpoints.get(sp.id) ?? [])];
    if (random() < 0.4) eps.splice(Math.floor(random() * (eps.length + 1)), 1);
    if (random() < 0.4) eps.push({ ip: `10.244.1.${2 + Math.floor(random() * 5)}`, port: 8080, isLocal: random() < 0.5 });
    endpoints.set(sp.id, eps);
  }
  for (const sp of extra.servicePorts) if (!endpoints.has(sp.id)) endpoints.set(sp.id, [...(extra.endpoints.get(sp.id) ?? [])]);
  return { servicePorts: [...kept, ...extra.servicePorts], endpoints };
}

describe('generated rules (property)', () => {
  it('are accepted by iptables from scratch, and a partial or split resync ends where a full one from scratch does', () => {
    for (let seed = 1; seed <= 300; seed++) {
      const random = mulberry32(seed);
      const { state: first } = randomState(random);
      const second = mutate(first, random);
      const perCommit = [undefined, 1, 3][seed % 3];

      const tables: Tables = new Map();
      const firstRules = buildIptablesRules(first, options);
      expect({ seed, problems: applyRestore(tables, firstRules.text) }).toEqual({ seed, problems: [] });
      const resync = buildIptablesRules(second, {
        ...options,
        existingChains: firstRules.chains,
        previousChains: firstRules.serviceChains,
        ...(perCommit === undefined ? {} : { servicePortsPerCommit: perCommit }),
      });
      expect({ seed, problems: applyRestore(tables, resync.text) }).toEqual({ seed, problems: [] });

      const fresh: Tables = new Map();
      expect(applyRestore(fresh, buildIptablesRules(second, options).text)).toEqual([]);
      expect({ seed, tables: tables }).toEqual({ seed, tables: fresh });
      expect(new Set(tables.get('nat')!.keys())).toEqual(resync.chains.nat);
      expect(resync.ruleCount).toBe(resync.text.split('\n').filter((l) => l.startsWith('-A ')).length);
    }
  });

  it('are checked for what iptables refuses', () => {
    expect(applyRestore(new Map(), '*nat\n:A - [0:0]\n:A - [0:0]\n:E - [0:0]\n-A A -j B\n-A E -j A\n-A C -j RETURN\n-X D\n-X A\nCOMMIT\n')).toEqual([
      'nat: A declared twice',
      'nat: jump to missing B',
      'nat: rule in missing chain C',
      'nat: deletes missing D',
      'nat: deletes A, which a rule jumps to',
    ]);
  });
});
