import { describe, expect, test } from 'vitest';
import type { Pod } from '../../../../common/api/types.js';
import { fromApiPod } from '../../../../agent/config/sources/api-source.js';

const apiPod = (extra: Partial<NonNullable<Pod['metadata']>> = {}): Pod => ({
  metadata: { name: 'web', namespace: 'shop', uid: 'u1', resourceVersion: '42', managedFields: [{ manager: 'kubectl' }], annotations: { note: 'x' }, ...extra },
  spec: { nodeName: 'n1', containers: [{ name: 'main', image: 'busybox' }] },
  status: { phase: 'Running', podIP: '10.244.0.2' },
});

describe('fromApiPod', () => {
  test('keeps the API name, namespace and UID, marks config.source=api and fills in the defaults', () => {
    const pod = fromApiPod(apiPod())!;
    expect(pod.metadata).toMatchObject({ name: 'web', namespace: 'shop', uid: 'u1', annotations: { note: 'x', 'kubernetes.io/config.source': 'api' } });
    expect(pod.spec).toMatchObject({ nodeName: 'n1', restartPolicy: 'Always', terminationGracePeriodSeconds: 30 });
    expect(pod.spec.containers[0]).toMatchObject({ imagePullPolicy: 'Always', terminationMessagePath: '/dev/termination-log' });
  });

  test("leaves out what only the API server's bookkeeping changes: status, resourceVersion, managedFields", () => {
    const pod = fromApiPod(apiPod())!;
    expect(pod.status).toBeUndefined();
    expect(pod.metadata.resourceVersion).toBeUndefined();
    expect(pod.metadata.managedFields).toBeUndefined();
    // So a status write of the agent's own comes back as the same pod.
    expect(JSON.stringify(fromApiPod({ ...apiPod({ resourceVersion: '43' }), status: { phase: 'Succeeded' } }))).toBe(JSON.stringify(pod));
  });

  test('a mirror pod, or a pod without a name or UID, is no pod to run', () => {
    expect(fromApiPod(apiPod({ annotations: { 'kubernetes.io/config.mirror': 'h1' } }))).toBeUndefined();
    expect(fromApiPod(apiPod({ uid: '' }))).toBeUndefined();
    expect(fromApiPod(apiPod({ name: '' }))).toBeUndefined();
  });
});
