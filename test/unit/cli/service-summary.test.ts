import { describe, expect, test } from 'vitest';
import type { Service } from '../../../common/api/types.js';
import { serviceSummaryLines } from '../../../cli/service-summary.js';

const service = (name: string, spec: Service['spec']): Service => ({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default' }, spec });

describe('serviceSummaryLines', () => {
  test('a ClusterIP port: address and protocol', () => {
    expect(serviceSummaryLines([service('web', { clusterIP: '10.96.0.10', ports: [{ port: 80, protocol: 'TCP' }] })])).toEqual([
      'service default/web: 10.96.0.10:80/TCP',
    ]);
  });

  test('a NodePort TCP port says where to try it; a UDP one only names the port', () => {
    const lines = serviceSummaryLines([
      service('web', {
        type: 'NodePort',
        clusterIP: '10.96.0.11',
        ports: [
          { name: 'http', port: 80, protocol: 'TCP', nodePort: 30080 },
          { name: 'dns', port: 53, protocol: 'UDP', nodePort: 30053 },
        ],
      }),
    ]);
    expect(lines).toEqual([
      'service default/web (http): 10.96.0.11:80/TCP, NodePort 30080: try http://127.0.0.1:30080/',
      'service default/web (dns): 10.96.0.11:53/UDP, NodePort 30053',
    ]);
  });

  test('a Service without a ClusterIP yet, or a headless one, has no line', () => {
    expect(serviceSummaryLines([service('pending', { ports: [{ port: 80 }] }), service('headless', { clusterIP: 'None', ports: [{ port: 80 }] })])).toEqual([]);
  });
});
