import { describe, expect, test } from 'vitest';
import type { ContainerStatus, Pod, Service } from '../../../common/api/types.js';
import { podStatusWord, podTable, serviceTable } from '../../../cli/run-table.js';
import { runNodeName } from '../../../cli/run-command.js';

const status = (name: string, state: ContainerStatus['state'], ready = false, restartCount = 0): ContainerStatus => ({ name, state, ready, restartCount, image: 'x', imageID: '' });

describe('podStatusWord', () => {
  test("as kubectl's STATUS: the pod's reason, a waiting reason, Completed, a failed container's reason, else the phase", () => {
    expect(podStatusWord({ status: { phase: 'Failed', reason: 'DeadlineExceeded' } })).toBe('DeadlineExceeded');
    expect(podStatusWord({ status: { phase: 'Running', containerStatuses: [status('a', { waiting: { reason: 'CrashLoopBackOff' } })] } })).toBe('CrashLoopBackOff');
    expect(podStatusWord({ status: { phase: 'Pending', containerStatuses: [status('a', { waiting: { reason: 'ContainerCreating' } })] } })).toBe('Pending');
    expect(podStatusWord({ status: { phase: 'Succeeded' } })).toBe('Completed');
    expect(podStatusWord({ status: { phase: 'Failed', containerStatuses: [status('a', { terminated: { exitCode: 137, reason: 'OOMKilled' } })] } })).toBe('OOMKilled');
    expect(podStatusWord({})).toBe('Pending');
  });
});

describe('podTable and serviceTable', () => {
  test('columns padded to the widest cell', () => {
    const pod: Pod = {
      metadata: { name: 'web-run-1', namespace: 'default' },
      spec: { containers: [{ name: 'a', image: 'x' }, { name: 'b', image: 'x' }] },
      status: { phase: 'Running', podIP: '10.250.0.2', containerStatuses: [status('a', { running: {} }, true, 2), status('b', { running: {} }, false, 1)] },
    };
    expect(podTable([pod])).toEqual(['NAMESPACE   POD         READY   STATUS    RESTARTS   IP', 'default     web-run-1   1/2     Running   3          10.250.0.2']);
  });

  test('a service port per row, reached at its ClusterIP and node port; a headless one says so; no Services, no table', () => {
    const services: Service[] = [
      { metadata: { name: 'web', namespace: 'default' }, spec: { type: 'NodePort', clusterIP: '10.97.0.16', ports: [{ name: 'http', port: 80, nodePort: 30016 }] } },
      { metadata: { name: 'db', namespace: 'shop' }, spec: { clusterIP: 'None', ports: [{ port: 5432, protocol: 'TCP' }] } },
    ];
    expect(serviceTable(services)).toEqual([
      'NAMESPACE   SERVICE   TYPE        PORT          REACH AT',
      'default     web       NodePort    http 80/TCP   10.97.0.16:80 127.0.0.1:30016',
      'shop        db        ClusterIP   5432/TCP      <headless>',
    ]);
    expect(serviceTable([])).toEqual([]);
  });
});

describe('runNodeName', () => {
  test('the same for the same paths in any order or spelling, and a DNS label', () => {
    const name = runNodeName(['/ci/app.yaml', '/ci/db/']);
    expect(name).toMatch(/^run-[0-9a-f]{10}$/);
    expect(runNodeName(['/ci/./db', '/ci/app.yaml', '/ci/app.yaml'])).toBe(name);
    expect(runNodeName(['/ci/app.yaml'])).not.toBe(name);
  });
});
