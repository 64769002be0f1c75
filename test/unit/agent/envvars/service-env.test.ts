import { describe, expect, test } from 'vitest';
import type { DefaultedPod, Service } from '../../../../common/api/types.js';
import { linkedServices, serviceEnvFor, serviceLinkEnv } from '../../../../agent/envvars/service-env.js';

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

describe('serviceEnvFor', () => {
  const master: Service = { metadata: { namespace: 'default', name: 'kubernetes' }, spec: { clusterIP: '10.96.0.1', ports: [{ name: 'https', port: 443 }] } };
  const local: Service = { metadata: { namespace: 'shop', name: 'db' }, spec: { clusterIP: '10.96.0.7', ports: [{ port: 5432 }] } };
  const lookup = (synced: boolean) => ({ servicesIn: (ns: string) => [master, local].filter((s) => s.metadata?.namespace === ns), synced: () => synced });
  const apiPod = (spec: Partial<DefaultedPod['spec']> = {}, annotations: Record<string, string> = { 'kubernetes.io/config.source': 'api' }): DefaultedPod => ({
    metadata: { name: 'p', namespace: 'shop', uid: 'u', annotations },
    spec: { containers: [], ...spec },
  });
  const names = (result: ReturnType<typeof serviceEnvFor>) => (result.ok ? result.env.map((e) => e.name).filter((n) => n.endsWith('_SERVICE_HOST')) : result.message);

  test('enableServiceLinks decides on the namespace\'s Services; the master Service is always there', () => {
    expect(names(serviceEnvFor(lookup(true), apiPod()))).toEqual(['DB_SERVICE_HOST', 'KUBERNETES_SERVICE_HOST']);
    expect(names(serviceEnvFor(lookup(true), apiPod({ enableServiceLinks: false })))).toEqual(['KUBERNETES_SERVICE_HOST']);
  });

  test('an API pod gets no environment before the Services were read once; a static pod goes ahead', () => {
    expect(serviceEnvFor(lookup(false), apiPod())).toEqual({ ok: false, message: 'services have not yet been read at least once, cannot construct envvars' });
    expect(names(serviceEnvFor(lookup(false), apiPod({}, { 'kubernetes.io/config.source': 'file' })))).toEqual(['DB_SERVICE_HOST', 'KUBERNETES_SERVICE_HOST']);
  });

  test('a headless Service named kubernetes in the namespace does not hide the master Service', () => {
    const headless: Service = { metadata: { namespace: 'shop', name: 'kubernetes' }, spec: { clusterIP: 'None', ports: [{ port: 80 }] } };
    const withHeadless = { servicesIn: (ns: string) => [...lookup(true).servicesIn(ns), ...(ns === 'shop' ? [headless] : [])] };
    expect(serviceEnvFor(withHeadless, apiPod())).toMatchObject({ ok: true, env: expect.arrayContaining([{ name: 'KUBERNETES_SERVICE_HOST', value: '10.96.0.1' }]) });
  });
});
