import { describe, expect, test } from 'vitest';
import type { Service } from '../../../agent/api/types.js';
import { linkedServices, serviceLinkEnv } from '../../../agent/podworkers/service-env.js';

describe('serviceLinkEnv (envvars.go FromServices)', () => {
  test("the kubelet's variables and Docker's link variables, first port special", () => {
    const service: Service = {
      metadata: { name: 'web-api', namespace: 'default' },
      spec: { clusterIP: '10.96.1.5', ports: [{ name: 'http', port: 80, protocol: 'TCP' }, { name: 'dns-udp', port: 53, protocol: 'UDP' }] },
    };
    expect(serviceLinkEnv([service])).toEqual([
      { name: 'WEB_API_SERVICE_HOST', value: '10.96.1.5' },
      { name: 'WEB_API_SERVICE_PORT', value: '80' },
      { name: 'WEB_API_SERVICE_PORT_HTTP', value: '80' },
      { name: 'WEB_API_SERVICE_PORT_DNS_UDP', value: '53' },
      { name: 'WEB_API_PORT', value: 'tcp://10.96.1.5:80' },
      { name: 'WEB_API_PORT_80_TCP', value: 'tcp://10.96.1.5:80' },
      { name: 'WEB_API_PORT_80_TCP_PROTO', value: 'tcp' },
      { name: 'WEB_API_PORT_80_TCP_PORT', value: '80' },
      { name: 'WEB_API_PORT_80_TCP_ADDR', value: '10.96.1.5' },
      { name: 'WEB_API_PORT_53_UDP', value: 'udp://10.96.1.5:53' },
      { name: 'WEB_API_PORT_53_UDP_PROTO', value: 'udp' },
      { name: 'WEB_API_PORT_53_UDP_PORT', value: '53' },
      { name: 'WEB_API_PORT_53_UDP_ADDR', value: '10.96.1.5' },
    ]);
  });

  test('headless Services and Services without ports give nothing; Services come in name order', () => {
    const services: Service[] = [
      { metadata: { name: 'zeta' }, spec: { clusterIP: '10.96.1.2', ports: [{ port: 1 }] } },
      { metadata: { name: 'headless' }, spec: { clusterIP: 'None', ports: [{ port: 1 }] } },
      { metadata: { name: 'alpha' }, spec: { clusterIP: '10.96.1.1', ports: [{ port: 1 }] } },
    ];
    expect(serviceLinkEnv(services).filter((v) => v.name.endsWith('_SERVICE_HOST')).map((v) => v.name)).toEqual(['ALPHA_SERVICE_HOST', 'ZETA_SERVICE_HOST']);
  });
});

describe('linkedServices (the kubelet getServiceEnvVarMap)', () => {
  const svc = (namespace: string, name: string, clusterIP = '10.96.0.9'): Service => ({ metadata: { namespace, name }, spec: { clusterIP, ports: [{ port: 80 }] } });
  const all = [svc('default', 'kubernetes', '10.96.0.1'), svc('default', 'web'), svc('shop', 'cart'), svc('shop', 'db')];
  const lookup = { servicesIn: (namespace: string) => all.filter((s) => s.metadata?.namespace === namespace) };
  const names = (services: Service[]) => services.map((s) => `${s.metadata?.namespace}/${s.metadata?.name}`);

  test("the pod's namespace's Services and the master Service default/kubernetes", () => {
    expect(names(linkedServices(lookup, 'shop', true))).toEqual(['default/kubernetes', 'shop/cart', 'shop/db']);
    expect(names(linkedServices(lookup, 'default', true))).toEqual(['default/kubernetes', 'default/web']);
  });

  test('enableServiceLinks false leaves the master Service only', () => {
    expect(names(linkedServices(lookup, 'shop', false))).toEqual(['default/kubernetes']);
  });

  test("a Service named kubernetes in the pod's namespace takes the master's place", () => {
    const own = { servicesIn: (namespace: string) => [...lookup.servicesIn(namespace), ...(namespace === 'shop' ? [svc('shop', 'kubernetes', '10.96.3.3')] : [])] };
    const linked = linkedServices(own, 'shop', true);
    expect(names(linked)).toEqual(['shop/kubernetes', 'shop/cart', 'shop/db']);
    expect(serviceLinkEnv(linked)).toContainEqual({ name: 'KUBERNETES_SERVICE_HOST', value: '10.96.3.3' });
  });

  test('no lookup (a standalone agent without a proxy): no links', () => {
    expect(linkedServices(undefined, 'shop', true)).toEqual([]);
  });
});
