import { describe, expect, test } from 'vitest';
import type { Service } from '../../../common/api/types.js';
import { KubeApiError } from '../../../common/kube-api/kube-client.js';
import { ApiProxyConfig, discoverEndpointsApi } from '../../../proxy/config/api-config.js';
import { endpointsObjectAddresses, endpointsObjectEndpoints, sliceAddresses, sliceEndpoints, type EndpointSlice, type Endpoints, type SliceEndpoint } from '../../../proxy/config/api-endpoints.js';
import { buildProxyState } from '../../../proxy/config/proxy-state.js';
import { parseIpv4Cidr } from '../../../common/util/ipv4.js';
import { memoryLogger } from '../../helpers/memory-logger.js';
import { waitFor } from '../../helpers/wait-for.js';
import { FakeKubeApi } from '../agent/node/fake-kube-api.js';


const web: Service = {
  metadata: { name: 'web', namespace: 'shop' },
  spec: { clusterIP: '10.96.0.20', ports: [{ name: 'http', port: 80, protocol: 'TCP' }, { name: 'dns', port: 53, protocol: 'UDP' }] },
};

function slice(name: string, init: Partial<EndpointSlice> & { service?: string; namespace?: string }): EndpointSlice {
  const { service = 'web', namespace = 'shop', ...rest } = init;
  return { addressType: 'IPv4', endpoints: [], metadata: { name, namespace, labels: { 'kubernetes.io/service-name': service } }, ...rest };
}

const endpointsOf = (state: ReturnType<typeof buildProxyState>, id: string) => state.endpoints.get(id)?.map((e) => `${e.ip}:${e.port}`);

describe('the addresses DNS publishes', () => {
  const headless: Service = { metadata: { name: 'web', namespace: 'shop' }, spec: { clusterIP: 'None' } };

  test("from EndpointSlices: each ready endpoint's first address once, whatever the ports, with its hostname", () => {
    const slices = [
      slice('web-1', {
        endpoints: [
          { addresses: ['10.244.0.2'], hostname: 'web-0', conditions: { ready: true } },
          { addresses: ['10.244.0.3'] },
          { addresses: ['10.244.0.4'], conditions: { ready: false } },
        ],
      }),
      slice('web-2', { ports: [{ name: 'http', port: 8080 }], endpoints: [{ addresses: ['10.244.0.2'] }, { addresses: ['10.244.0.5'] }] }),
      slice('other', { service: 'other', endpoints: [{ addresses: ['10.244.0.9'] }] }),
      slice('v6', { addressType: 'IPv6', endpoints: [{ addresses: ['fd00::1'] }] }),
    ];
    expect(sliceAddresses(slices)(headless)).toEqual([{ ip: '10.244.0.2', hostname: 'web-0' }, { ip: '10.244.0.3' }, { ip: '10.244.0.5' }]);
  });

  test("from v1 Endpoints: each subset's ready addresses once, with their hostnames; notReadyAddresses are not published", () => {
    const endpoints: Endpoints = {
      metadata: { name: 'web', namespace: 'shop' },
      subsets: [
        { addresses: [{ ip: '10.244.0.2', hostname: 'web-0' }, { ip: '10.244.0.3' }], notReadyAddresses: [{ ip: '10.244.0.4' }], ports: [{ port: 80 }] },
        { addresses: [{ ip: '10.244.0.3' }], ports: [{ port: 81 }] },
      ],
    };
    expect(endpointsObjectAddresses([endpoints])(headless)).toEqual([{ ip: '10.244.0.2', hostname: 'web-0' }, { ip: '10.244.0.3' }]);
  });
});

describe('sliceEndpoints', () => {
  test("the Service's slices, merged: each endpoint not marked unready, at its first address, on the port of the same name and protocol", () => {
    const slices = [
      slice('web-1', {
        ports: [{ name: 'http', port: 8080, protocol: 'TCP' }, { name: 'dns', port: 5353, protocol: 'UDP' }],
        endpoints: [
          { addresses: ['10.244.0.3', '10.244.9.9'], conditions: { ready: true } },
          { addresses: ['10.244.0.2'] },
          { addresses: ['10.244.0.4'], conditions: { ready: false } },
        ],
      }),
      slice('web-2', { ports: [{ name: 'http', port: 8080, protocol: 'TCP' }], endpoints: [{ addresses: ['10.244.0.5'], conditions: { ready: true } }] }),
    ];
    const state = buildProxyState([web], sliceEndpoints(slices, 'node-1'));
    expect(endpointsOf(state, 'shop/web:http')).toEqual(['10.244.0.2:8080', '10.244.0.3:8080', '10.244.0.5:8080']);
    expect(endpointsOf(state, 'shop/web:dns')).toEqual(['10.244.0.2:5353', '10.244.0.3:5353']);
  });

  test("other Services' and namespaces' slices, IPv6 and FQDN slices, and ports of another name or protocol are not the Service's", () => {
    const ready = [{ addresses: ['10.244.0.2'], conditions: { ready: true } }];
    const slices = [
      slice('other', { service: 'other', ports: [{ name: 'http', port: 8080, protocol: 'TCP' }], endpoints: ready }),
      slice('elsewhere', { namespace: 'default', ports: [{ name: 'http', port: 8080, protocol: 'TCP' }], endpoints: ready }),
      slice('v6', { addressType: 'IPv6', ports: [{ name: 'http', port: 8080, protocol: 'TCP' }], endpoints: [{ addresses: ['fd00::2'] }] }),
      slice('names', { ports: [{ name: 'https', port: 8443, protocol: 'TCP' }, { name: 'http', port: 8081, protocol: 'UDP' }], endpoints: ready }),
    ];
    const state = buildProxyState([web], sliceEndpoints(slices, 'node-1'));
    expect(endpointsOf(state, 'shop/web:http')).toEqual([]);
  });

  test('an unnamed service port matches the unnamed slice port; protocol defaults to TCP', () => {
    const single: Service = { metadata: { name: 'web', namespace: 'shop' }, spec: { clusterIP: '10.96.0.20', ports: [{ port: 80 }] } };
    const state = buildProxyState([single], sliceEndpoints([slice('web-1', { ports: [{ port: 9000 }], endpoints: [{ addresses: ['10.244.0.7'] }] })], 'node-1'));
    expect(endpointsOf(state, 'shop/web:')).toEqual(['10.244.0.7:9000']);
  });

  test("an endpoint is this node's by its nodeName, or on a v1beta1 slice without one by its topology's kubernetes.io/hostname", () => {
    // v1beta1's endpoints, as a 1.20 server sends them: topology beside nodeName.
    const endpoints: SliceEndpoint[] = [
      { addresses: ['10.244.0.2'], nodeName: 'node-1' },
      { addresses: ['10.244.1.2'], nodeName: 'node-2' },
      { addresses: ['10.244.0.3'], topology: { 'kubernetes.io/hostname': 'node-1' } },
      { addresses: ['10.244.1.3'], topology: { 'kubernetes.io/hostname': 'node-2' } },
      { addresses: ['10.244.1.4'], nodeName: 'node-2', topology: { 'kubernetes.io/hostname': 'node-1' } },
      { addresses: ['10.244.2.2'] },
    ];
    const slices = [slice('web-1', { ports: [{ name: 'http', port: 8080, protocol: 'TCP' }], endpoints })];
    const local = sliceEndpoints(slices, 'node-1')(web, web.spec!.ports![0]!, 'TCP').filter((endpoint) => endpoint.isLocal).map((endpoint) => endpoint.ip);
    expect(local).toEqual(['10.244.0.2', '10.244.0.3']);
  });
});

describe('endpointsObjectEndpoints', () => {
  test("the ready addresses of each subset with the port of the same name and protocol; notReadyAddresses are not served", () => {
    const object: Endpoints = {
      metadata: { name: 'web', namespace: 'shop' },
      subsets: [
        { addresses: [{ ip: '10.244.0.3' }, { ip: '10.244.0.2' }], notReadyAddresses: [{ ip: '10.244.0.4' }], ports: [{ name: 'http', port: 8080, protocol: 'TCP' }] },
        { addresses: [{ ip: '10.244.0.5' }], ports: [{ name: 'http', port: 9090, protocol: 'TCP' }, { name: 'dns', port: 5353, protocol: 'UDP' }] },
      ],
    };
    const other: Endpoints = { metadata: { name: 'web', namespace: 'default' }, subsets: [{ addresses: [{ ip: '10.244.0.9' }], ports: [{ name: 'http', port: 8080 }] }] };
    const state = buildProxyState([web], endpointsObjectEndpoints([object, other], 'node-1'));
    expect(endpointsOf(state, 'shop/web:http')).toEqual(['10.244.0.2:8080', '10.244.0.3:8080', '10.244.0.5:9090']);
    expect(endpointsOf(state, 'shop/web:dns')).toEqual(['10.244.0.5:5353']);
  });

  test("an address is this node's by its nodeName", () => {
    const object: Endpoints = {
      metadata: { name: 'web', namespace: 'shop' },
      subsets: [{ addresses: [{ ip: '10.244.0.2', nodeName: 'node-1' }, { ip: '10.244.1.2', nodeName: 'node-2' }, { ip: '10.244.2.2' }], ports: [{ name: 'http', port: 8080 }] }],
    };
    const endpoints = endpointsObjectEndpoints([object], 'node-1')(web, web.spec!.ports![0]!, 'TCP');
    expect(endpoints.map((endpoint) => `${endpoint.ip} ${String(endpoint.isLocal)}`)).toEqual(['10.244.0.2 true', '10.244.1.2 false', '10.244.2.2 false']);
  });
});

describe('discoverEndpointsApi', () => {
  test('EndpointSlices of discovery.k8s.io/v1 when served, else v1beta1, else v1 Endpoints', async () => {
    const api = new FakeKubeApi();
    api.objects.set('/apis/discovery.k8s.io', { versions: [{ version: 'v1' }, { version: 'v1beta1' }] });
    expect(await discoverEndpointsApi(api)).toEqual({ path: '/apis/discovery.k8s.io/v1/endpointslices', kind: 'EndpointSlice' });
    api.objects.set('/apis/discovery.k8s.io', { versions: [{ version: 'v1beta1' }] });
    expect(await discoverEndpointsApi(api)).toEqual({ path: '/apis/discovery.k8s.io/v1beta1/endpointslices', kind: 'EndpointSlice' });
    api.objects.set('/apis/discovery.k8s.io', { versions: [{ version: 'v1alpha1' }] });
    expect(await discoverEndpointsApi(api)).toEqual({ path: '/api/v1/endpoints', kind: 'Endpoints' });
    api.objects.delete('/apis/discovery.k8s.io');
    expect(await discoverEndpointsApi(api)).toEqual({ path: '/api/v1/endpoints', kind: 'Endpoints' });
  });

  test('any other failure is not taken for an old server: it is thrown, for the caller to retry', async () => {
    const api = new FakeKubeApi();
    api.objects.set('/apis/discovery.k8s.io', { versions: [{ version: 'v1' }] });
    api.failures.push(new KubeApiError('GET', '/apis/discovery.k8s.io', 503, ''));
    await expect(discoverEndpointsApi(api)).rejects.toThrow(/503/);
  });
});

describe('ApiProxyConfig', () => {
  test('synced once Services and endpoints are listed; a ClusterIP outside the guarded range is not served, and said why', async () => {
    const api = new FakeKubeApi();
    const outside: Service = { metadata: { name: 'far', namespace: 'shop' }, spec: { clusterIP: '10.100.0.9', ports: [{ name: 'http', port: 80 }] } };
    api.objects.set('/api/v1/services', { metadata: { resourceVersion: '5' }, items: [web, outside] });
    api.objects.set('/apis/discovery.k8s.io', { versions: [{ version: 'v1' }] });
    api.objects.set('/apis/discovery.k8s.io/v1/endpointslices', {
      metadata: { resourceVersion: '5' },
      items: [slice('web-1', { ports: [{ name: 'http', port: 8080, protocol: 'TCP' }], endpoints: [{ addresses: ['10.244.0.2'], nodeName: 'node-1' }, { addresses: ['10.244.1.2'], nodeName: 'node-2' }] })],
    });
    const log = memoryLogger();
    const config = new ApiProxyConfig({ client: api, serviceCIDR: parseIpv4Cidr('10.96.0.0/16')!, nodeName: 'node-1', logger: log.logger });
    expect(config.synced()).toBe(false);
    await config.start();
    try {
      await waitFor('the config to be synced', () => config.synced());
      expect(config.services().map((s) => s.metadata?.name)).toEqual(['web']);
      // The endpoints on the config's node are the local ones.
      expect(config.state().endpoints.get('shop/web:http')).toEqual([
        { ip: '10.244.0.2', port: 8080, isLocal: true },
        { ip: '10.244.1.2', port: 8080, isLocal: false },
      ]);
      expect(log.lines.find((line) => line.level === 50)?.msg).toBe(
        'Service shop/far is not served: its ClusterIP 10.100.0.9 is outside --service-cluster-ip-range 10.96.0.0/16, which the host guard protects; give the proxy the API server\'s range',
      );
      // kube-proxy's selector for Services another proxy serves; headless Services' endpoints are listed, for DNS.
      const selector = '!service.kubernetes.io/service-proxy-name';
      expect(api.callsOf('get', '/api/v1/services')[0]?.query).toEqual({ labelSelector: selector });
      expect(api.callsOf('get', '/apis/discovery.k8s.io/v1/endpointslices')[0]?.query).toEqual({ labelSelector: selector });
      // The fake cannot watch, so the reflector lists again: the same refusal is not logged again.
      await waitFor('a second list', () => api.callsOf('get', '/api/v1/services').length >= 2, { timeoutMs: 5_000 });
      expect(log.lines.filter((line) => line.level === 50)).toHaveLength(1);
    } finally {
      await config.stop();
    }
  });
});
