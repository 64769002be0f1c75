import { describe, expect, test } from 'vitest';
import type { Service } from '../../../../common/api/types.js';
import { parseIpv4Cidr } from '../../../../common/util/ipv4.js';
import { ServiceAllocator } from '../../../../proxy/config/allocator.js';
import type { ProxyConfig } from '../../../../proxy/config/proxy-config.js';
import { ServiceRegistry } from '../../../../proxy/config/service-registry.js';
import type { ProxyState } from '../../../../proxy/datapath/proxier.js';
import { kubeDnsService, withClusterDnsService } from '../../../../proxy/dns/dns-service.js';
import { memoryLogger } from '../../../helpers/memory-logger.js';

const web: Service = { metadata: { name: 'web', namespace: 'default' }, spec: { clusterIP: '10.96.0.20', ports: [{ name: 'http', port: 80 }] } };
const webState: ProxyState = {
  servicePorts: [{ id: 'default/web:http', namespace: 'default', name: 'web', portName: 'http', protocol: 'TCP', clusterIP: '10.96.0.20', port: 80 }],
  endpoints: new Map([['default/web:http', [{ ip: '10.244.0.9', port: 8080 }]]]),
};

function config(services: Service[], state: ProxyState = webState): ProxyConfig {
  return {
    services: () => services,
    endpointAddresses: () => [],
    state: () => state,
    synced: () => true,
    onChange: () => undefined,
    start: async () => undefined,
    stop: async () => undefined,
  };
}

describe('the cluster DNS at a ClusterIP', () => {
  test("kube-system/kube-dns joins the Services, its dns and dns-tcp ports routed to the server's address, port 53", () => {
    const withDns = withClusterDnsService(config([web]), { clusterIP: '10.96.0.10', endpoint: '10.244.0.1' }, memoryLogger().logger);
    expect(withDns.services().map((s) => `${s.metadata?.namespace}/${s.metadata?.name} ${s.spec?.clusterIP}`)).toEqual(['default/web 10.96.0.20', 'kube-system/kube-dns 10.96.0.10']);
    const state = withDns.state();
    expect(state.servicePorts.map((port) => `${port.id} ${port.protocol} ${port.clusterIP}:${port.port}`)).toEqual([
      'default/web:http TCP 10.96.0.20:80',
      'kube-system/kube-dns:dns UDP 10.96.0.10:53',
      'kube-system/kube-dns:dns-tcp TCP 10.96.0.10:53',
    ]);
    expect(state.endpoints.get('kube-system/kube-dns:dns')).toEqual([{ ip: '10.244.0.1', port: 53 }]);
    expect(state.endpoints.get('kube-system/kube-dns:dns-tcp')).toEqual([{ ip: '10.244.0.1', port: 53 }]);
    expect(state.endpoints.get('default/web:http')).toEqual([{ ip: '10.244.0.9', port: 8080 }]);
  });

  test("the registry's own kube-dns (standalone) is not added twice, and gets the server as its endpoints", () => {
    const own = { ...kubeDnsService('10.96.0.10') };
    const registryState: ProxyState = {
      servicePorts: [...webState.servicePorts, { id: 'kube-system/kube-dns:dns', namespace: 'kube-system', name: 'kube-dns', portName: 'dns', protocol: 'UDP', clusterIP: '10.96.0.10', port: 53 }],
      endpoints: new Map([...webState.endpoints, ['kube-system/kube-dns:dns', []]]),
    };
    const withDns = withClusterDnsService(config([web, own], registryState), { clusterIP: '10.96.0.10', endpoint: '10.244.0.1' }, memoryLogger().logger);
    expect(withDns.services()).toHaveLength(2);
    expect(withDns.state().servicePorts.filter((port) => port.id === 'kube-system/kube-dns:dns')).toHaveLength(1);
    expect(withDns.state().endpoints.get('kube-system/kube-dns:dns')).toEqual([{ ip: '10.244.0.1', port: 53 }]);
  });

  test("the cluster's own kube-system/kube-dns, at another address, is left alone too", () => {
    const clusters: Service = { metadata: { name: 'kube-dns', namespace: 'kube-system' }, spec: { clusterIP: '10.96.0.53', ports: [{ name: 'dns', port: 53, protocol: 'UDP' }] } };
    const state: ProxyState = {
      servicePorts: [{ id: 'kube-system/kube-dns:dns', namespace: 'kube-system', name: 'kube-dns', portName: 'dns', protocol: 'UDP', clusterIP: '10.96.0.53', port: 53 }],
      endpoints: new Map([['kube-system/kube-dns:dns', [{ ip: '10.244.7.7', port: 53 }]]]),
    };
    const withDns = withClusterDnsService(config([web, clusters], state), { clusterIP: '10.96.0.10', endpoint: '10.244.0.1' }, memoryLogger().logger);
    expect(withDns.services()).toEqual([web, clusters]);
    expect(withDns.state()).toBe(state);
  });

  test("another Service at that ClusterIP (the cluster's own DNS) is left alone, said once", () => {
    const theirs: Service = { metadata: { name: 'coredns', namespace: 'kube-system' }, spec: { clusterIP: '10.96.0.10', ports: [{ name: 'dns', port: 53, protocol: 'UDP' }] } };
    const log = memoryLogger();
    const withDns = withClusterDnsService(config([web, theirs]), { clusterIP: '10.96.0.10', endpoint: '10.244.0.1' }, log.logger);
    expect(withDns.services()).toEqual([web, theirs]);
    expect(withDns.state()).toBe(webState);
    withDns.state();
    expect(log.lines.filter((line) => /not served at 10\.96\.0\.10: the Service kube-system\/coredns \(10\.96\.0\.10\) is the cluster's own/.test(line.msg))).toHaveLength(1);
  });

  test("on a standalone node the registry gives kube-dns its ClusterIP first: a manifest's Service asking for it is refused", async () => {
    const allocator = new ServiceAllocator({ serviceCIDR: parseIpv4Cidr('10.96.0.0/16')!, nodePortRange: { min: 30000, max: 32767 } });
    const log = memoryLogger();
    const registry = new ServiceRegistry({ allocator, sources: ['file'], builtIn: [kubeDnsService('10.96.0.10')], logger: log.logger });
    const squatter: Service = { metadata: { name: 'aaa', namespace: 'default' }, spec: { clusterIP: '10.96.0.10', ports: [{ port: 53 }] } };
    await registry.set('file', [squatter, { metadata: { name: 'kube-dns', namespace: 'kube-system' }, spec: { ports: [{ port: 1 }] } }]);
    expect(registry.services().map((s) => `${s.metadata?.namespace}/${s.metadata?.name} ${s.spec?.clusterIP} ${s.spec?.ports?.[0]?.name}`)).toEqual(['kube-system/kube-dns 10.96.0.10 dns']);
    expect(log.lines.some((line) => line.msg === 'Service default/aaa is not served: spec.clusterIP: Invalid value: "10.96.0.10": provided IP is already allocated')).toBe(true);
    expect(log.lines.some((line) => line.msg === "Service kube-system/kube-dns is not served: the name is dockerlet's own cluster DNS Service (--cluster-dns)")).toBe(true);
  });
});
