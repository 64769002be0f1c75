import { describe, expect, test } from 'vitest';
import type { LifecycleHandler } from '../../../../common/api/types.js';
import { ContainerPortsLabel, PreStopHandlerLabel } from '../../../../common/api/well-known.js';
import { containerSpecLabels, restoreContainerSpec } from '../../../../agent/kuberuntime/container-labels.js';
import { ctr, Image, instance, pod } from '../../fixtures.js';

const preStop: LifecycleHandler = { httpGet: { port: 'admin', path: '/quit', scheme: 'HTTP' } };
const ports = [
  { name: 'admin', containerPort: 9000, protocol: 'TCP' },
  { containerPort: 8080, protocol: 'TCP' },
];

describe('containerSpecLabels', () => {
  test('keeps the preStop handler and the ports as JSON, under the kubelet label keys', () => {
    expect(containerSpecLabels(ctr('main', { ports, lifecycle: { preStop, postStart: { exec: { command: ['x'] } } } }))).toEqual({
      'io.kubernetes.container.preStopHandler': JSON.stringify(preStop),
      'io.kubernetes.container.ports': JSON.stringify(ports),
    });
  });

  test('a container without preStop or ports has no such labels', () => {
    expect(containerSpecLabels(ctr('main', { ports: [], lifecycle: { postStart: { exec: { command: ['x'] } } } }))).toEqual({});
  });
});

describe('restoreContainerSpec', () => {
  const p = pod();

  test('round trip: the preStop handler and the ports come back from the labels', () => {
    const spec = ctr('main', { ports, lifecycle: { preStop } });
    const restored = restoreContainerSpec(instance(p, 'main', { labels: { ...containerSpecLabels(spec), other: 'x' } }));
    expect(restored).toEqual({ name: 'main', image: Image, ports, lifecycle: { preStop } });
  });

  test('without the labels: just the name and the image', () => {
    expect(restoreContainerSpec(instance(p, 'main', { labels: {} }))).toEqual({ name: 'main', image: Image });
  });

  test('labels that are not JSON are ignored', () => {
    const labels = { [PreStopHandlerLabel]: '{not json', [ContainerPortsLabel]: '[1,' };
    expect(restoreContainerSpec(instance(p, 'main', { labels }))).toEqual({ name: 'main', image: Image });
  });

  test('JSON of the wrong shape is ignored: ports that are not a list, a preStop that is not an object', () => {
    const labels = { [PreStopHandlerLabel]: '"sleep 5"', [ContainerPortsLabel]: '{"containerPort":80}' };
    expect(restoreContainerSpec(instance(p, 'main', { labels }))).toEqual({ name: 'main', image: Image });
  });

  test('a preStop label of null is ignored', () => {
    expect(restoreContainerSpec(instance(p, 'main', { labels: { [PreStopHandlerLabel]: 'null' } }))).toEqual({ name: 'main', image: Image });
  });
});
