import { describe, expect, test } from 'vitest';
import type { Service } from '../../../agent/api/types.js';
import { serviceLinkEnv } from '../../../agent/podworkers/service-env.js';

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
