import { describe, expect, test } from 'vitest';
import type { Pod, PodStatus, Service } from '../../../common/api/types.js';
import { findPort, podEndpointAddresses, podEndpoints, type PodWithStatus } from '../../../proxy/config/pod-endpoints.js';
import { buildProxyState as buildFromLookup, isProxied } from '../../../proxy/config/proxy-state.js';

const buildProxyState = (services: Service[], pods: PodWithStatus[]) => buildFromLookup(services, podEndpoints(pods));

const ready = (ip: string): PodStatus => ({ phase: 'Running', podIP: ip, conditions: [{ type: 'Ready', status: 'True' }] });
const notReady = (ip: string): PodStatus => ({ phase: 'Running', podIP: ip, conditions: [{ type: 'Ready', status: 'False' }] });

function pod(name: string, labels: Record<string, string>, status: PodStatus | undefined, ports: Array<{ name: string; containerPort: number; protocol?: string }> = []): PodWithStatus {
  const p: Pod = { metadata: { name, namespace: 'default', labels }, spec: { containers: [{ name: 'main', image: 'x', ports: ports as never }] } };
  return { pod: p, status };
}

function service(spec: Service['spec'], name = 'web', namespace = 'default'): Service {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace }, spec: { clusterIP: '10.96.1.0', selector: { app: 'web' }, ...spec } };
}

describe('buildProxyState', () => {
  test('ready pods matching the selector in the namespace are the endpoints of each port', () => {
    const pods = [pod('a', { app: 'web' }, ready('10.244.0.2')), pod('b', { app: 'web' }, ready('10.244.0.3')), pod('c', { app: 'db' }, ready('10.244.0.4'))];
    const state = buildProxyState([service({ ports: [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' }] })], pods);
    expect(state.servicePorts).toEqual([{ id: 'default/web:http', namespace: 'default', name: 'web', portName: 'http', protocol: 'TCP', clusterIP: '10.96.1.0', port: 80 }]);
    expect(state.endpoints.get('default/web:http')).toEqual([
      { ip: '10.244.0.2', port: 8080, isLocal: true },
      { ip: '10.244.0.3', port: 8080, isLocal: true },
    ]);
  });

  test('pods that are not ready, not running or without an IP are left out, unless publishNotReadyAddresses', () => {
    const pods = [
      pod('a', { app: 'web' }, notReady('10.244.0.2')),
      pod('b', { app: 'web' }, { ...ready('10.244.0.3'), phase: 'Failed' }),
      pod('c', { app: 'web' }, { phase: 'Pending' }),
      pod('d', { app: 'web' }, undefined),
    ];
    const ports = [{ port: 80, targetPort: 80, protocol: 'TCP' }];
    expect(buildProxyState([service({ ports })], pods).endpoints.get('default/web:')).toEqual([]);
    expect(buildProxyState([service({ ports, publishNotReadyAddresses: true })], pods).endpoints.get('default/web:')).toEqual([{ ip: '10.244.0.2', port: 80, isLocal: true }]);
  });

  test('loopback and link-local endpoints are left out of the state both datapaths get, and listed for the log', () => {
    const pods = ['127.0.0.1', '127.8.0.3', '169.254.169.254', '224.0.0.5', '10.244.0.2'].map((ip, i) => pod(`p${i}`, { app: 'web' }, ready(ip)));
    const state = buildProxyState([service({ ports: [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' }] })], pods);
    expect(state.endpoints.get('default/web:http')).toEqual([{ ip: '10.244.0.2', port: 8080, isLocal: true }]);
    expect(state.unproxyable).toEqual(['default/web:http 127.0.0.1:8080', 'default/web:http 127.8.0.3:8080', 'default/web:http 169.254.169.254:8080', 'default/web:http 224.0.0.5:8080']);
    expect(buildProxyState([service({ ports: [{ port: 80, targetPort: 80, protocol: 'TCP' }] })], [pod('a', { app: 'web' }, ready('10.244.0.2'))]).unproxyable).toBeUndefined();
  });

  test('pods of another namespace are not endpoints', () => {
    const other = pod('a', { app: 'web' }, ready('10.244.0.2'));
    other.pod.metadata!.namespace = 'other';
    expect(buildProxyState([service({ ports: [{ port: 80, protocol: 'TCP' }] })], [other]).endpoints.get('default/web:')).toEqual([]);
  });

  test('a named targetPort is resolved per pod; a pod without it is no endpoint of that port', () => {
    const pods = [
      pod('a', { app: 'web' }, ready('10.244.0.2'), [{ name: 'http', containerPort: 8080 }]),
      pod('b', { app: 'web' }, ready('10.244.0.3'), [{ name: 'http', containerPort: 9090 }]),
      pod('c', { app: 'web' }, ready('10.244.0.4'), [{ name: 'metrics', containerPort: 9100 }]),
    ];
    const state = buildProxyState([service({ ports: [{ name: 'web', port: 80, targetPort: 'http', protocol: 'TCP' }] })], pods);
    expect(state.endpoints.get('default/web:web')).toEqual([
      { ip: '10.244.0.2', port: 8080, isLocal: true },
      { ip: '10.244.0.3', port: 9090, isLocal: true },
    ]);
  });

  test('NodePort and ClientIP affinity reach the datapath; ClusterIP services carry no nodePort', () => {
    const nodePort = service({ type: 'NodePort', sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 60 } }, ports: [{ port: 80, nodePort: 30080, protocol: 'UDP' }] });
    expect(buildProxyState([nodePort], []).servicePorts[0]).toMatchObject({ protocol: 'UDP', nodePort: 30080, affinityTimeoutSeconds: 60 });
  });

  test.each([
    ['internalTrafficPolicy Local', { internalTrafficPolicy: 'Local' }, { internalPolicyLocal: true }],
    ['externalTrafficPolicy Local on a NodePort', { type: 'NodePort', externalTrafficPolicy: 'Local', ports: [{ port: 80, nodePort: 30080 }] }, { externalPolicyLocal: true, nodePort: 30080 }],
    ['externalTrafficPolicy Local on a LoadBalancer', { type: 'LoadBalancer', externalTrafficPolicy: 'Local', ports: [{ port: 80, nodePort: 30080 }] }, { externalPolicyLocal: true }],
  ] as const)('%s reaches the datapath', (_, spec, expected) => {
    const [sp] = buildProxyState([service({ ports: [{ port: 80 }], ...spec } as Service['spec'])], []).servicePorts;
    expect(sp).toMatchObject(expected);
  });

  test('externalTrafficPolicy Local means nothing without a node port, and Cluster sets no flag', () => {
    const states = [
      buildProxyState([service({ type: 'LoadBalancer', externalTrafficPolicy: 'Local', ports: [{ port: 80 }] })], []),
      buildProxyState([service({ type: 'NodePort', externalTrafficPolicy: 'Cluster', internalTrafficPolicy: 'Cluster', ports: [{ port: 80, nodePort: 30080 }] })], []),
    ];
    for (const state of states) {
      expect(state.servicePorts[0]).not.toHaveProperty('externalPolicyLocal');
      expect(state.servicePorts[0]).not.toHaveProperty('internalPolicyLocal');
    }
  });

  test('headless, ExternalName and selector-less services get no endpoints from pods; the first two are not proxied', () => {
    expect(isProxied(service({ clusterIP: 'None' }))).toBe(false);
    expect(isProxied(service({ type: 'ExternalName', externalName: 'example.com', clusterIP: '' }))).toBe(false);
    const pods = [pod('a', { app: 'web' }, ready('10.244.0.2'))];
    const state = buildProxyState([service({ clusterIP: 'None', ports: [{ port: 80 }] }), service({ selector: {}, ports: [{ port: 80, protocol: 'TCP' }] }, 'manual')], pods);
    expect(state.servicePorts.map((p) => p.id)).toEqual(['default/manual:']);
    expect(state.endpoints.get('default/manual:')).toEqual([]);
  });
});

describe('podEndpointAddresses', () => {
  test("a headless Service's serving pods, each once whatever the ports, named by spec.hostname only when spec.subdomain is the Service", () => {
    const named = (p: PodWithStatus, hostname: string, subdomain: string): PodWithStatus => ({ ...p, pod: { ...p.pod, spec: { ...p.pod.spec!, hostname, subdomain } } });
    const pods = [
      named(pod('a', { app: 'web' }, ready('10.244.0.2')), 'web-0', 'web'),
      named(pod('b', { app: 'web' }, ready('10.244.0.3')), 'web-1', 'elsewhere'),
      pod('c', { app: 'web' }, notReady('10.244.0.4')),
      pod('d', { app: 'db' }, ready('10.244.0.5')),
    ];
    const headless = service({ clusterIP: 'None', ports: [] });
    expect(podEndpointAddresses(pods)(headless)).toEqual([{ ip: '10.244.0.2', hostname: 'web-0' }, { ip: '10.244.0.3' }]);
    expect(podEndpointAddresses(pods)({ ...headless, spec: { ...headless.spec, publishNotReadyAddresses: true } }).map((a) => a.ip)).toEqual(['10.244.0.2', '10.244.0.3', '10.244.0.4']);
  });
});

describe('findPort', () => {
  test('matches the name and the protocol, in containers and sidecars', () => {
    const p: Pod = {
      spec: {
        initContainers: [{ name: 'proxy', image: 'x', restartPolicy: 'Always', ports: [{ name: 'admin', containerPort: 15000 }] }],
        containers: [{ name: 'main', image: 'x', ports: [{ name: 'dns', containerPort: 53, protocol: 'UDP' }] }],
      },
    };
    expect(findPort(p, 'dns', 'UDP')).toBe(53);
    expect(findPort(p, 'dns', 'TCP')).toBeUndefined();
    expect(findPort(p, 'admin', 'TCP')).toBe(15000);
    expect(findPort(p, 8080, 'TCP')).toBe(8080);
  });
});
