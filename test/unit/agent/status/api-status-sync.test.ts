import { describe, expect, test } from 'vitest';
import type { DefaultedPod, PodStatus } from '../../../../common/api/types.js';
import { KubeApiError } from '../../../../common/kube-api/kube-client.js';
import { ApiStatusSync, type StatusTarget } from '../../../../agent/status/api-status-sync.js';
import { memoryLogger } from '../../../helpers/memory-logger.js';
import { FakeKubeApi } from '../node/fake-kube-api.js';

const apiPod = (extra: Partial<DefaultedPod['metadata']> = {}): DefaultedPod => ({
  metadata: { name: 'web', namespace: 'default', uid: 'u1', annotations: { 'kubernetes.io/config.source': 'api' }, ...extra },
  spec: { containers: [] },
});
const staticPod: DefaultedPod = {
  metadata: { name: 'web-n1', namespace: 'default', uid: 's1', annotations: { 'kubernetes.io/config.source': 'file' } },
  spec: { containers: [] },
};
const path = '/api/v1/namespaces/default/pods/web';

function setup(statuses: Map<string, PodStatus>, targets: (pod: DefaultedPod) => StatusTarget | undefined = (pod) => ({ namespace: 'default', name: pod.metadata.name, uid: pod.metadata.uid })) {
  const api = new FakeKubeApi();
  api.objects.set(path, { metadata: { name: 'web', uid: 'u1' } });
  const sync = new ApiStatusSync({ client: api, status: (uid) => statuses.get(uid), statusTarget: targets, logger: memoryLogger().logger });
  return { api, sync };
}

describe('ApiStatusSync', () => {
  test('a changed status is PATCHed to pods/status with the UID precondition, no GET first; an equal one is not sent again', async () => {
    const statuses = new Map([['u1', { phase: 'Running' } as PodStatus]]);
    const { api, sync } = setup(statuses);
    sync.statusChanged(apiPod());
    await sync.flush();
    sync.statusChanged(apiPod());
    await sync.flush();
    expect(api.calls.map((call) => [call.verb, call.path])).toEqual([['patch', `${path}/status`]]);
    expect(api.calls[0]!.body).toEqual({ metadata: { uid: 'u1' }, status: { phase: 'Running', reason: null, message: null } });
    statuses.set('u1', { phase: 'Succeeded' });
    sync.statusChanged(apiPod());
    await sync.flush();
    expect(api.callsOf('patch')).toHaveLength(2);
  });

  test("a static pod's status goes to its mirror, once there is one, under the mirror's UID", async () => {
    const statuses = new Map([['s1', { phase: 'Running' } as PodStatus]]);
    let mirror: StatusTarget | undefined;
    const { api, sync } = setup(statuses, () => mirror);
    sync.statusChanged(staticPod);
    await sync.flush();
    expect(api.calls).toEqual([]);
    mirror = { namespace: 'default', name: 'web-n1', uid: 'm1' };
    api.objects.set('/api/v1/namespaces/default/pods/web-n1', { metadata: { name: 'web-n1', uid: 'm1' } });
    await sync.flush();
    expect(api.calls.map((call) => [call.path, call.body])).toEqual([['/api/v1/namespaces/default/pods/web-n1/status', { metadata: { uid: 'm1' }, status: { phase: 'Running', reason: null, message: null } }]]);
  });

  test('a failure is retried on the next pass; a pod gone from the API server is dropped', async () => {
    const statuses = new Map([['u1', { phase: 'Running' } as PodStatus]]);
    const { api, sync } = setup(statuses);
    api.failures.push(new KubeApiError('PATCH', path, 503, 'unavailable'));
    sync.statusChanged(apiPod());
    await sync.flush();
    await sync.flush();
    expect(api.callsOf('patch')).toHaveLength(2);
    api.objects.delete(path);
    statuses.set('u1', { phase: 'Failed' });
    sync.statusChanged(apiPod());
    await sync.flush();
    await sync.flush();
    expect(api.callsOf('patch')).toHaveLength(3);
  });

  test('a pod deleted in the API server is deleted for good once terminated: grace 0, UID precondition', async () => {
    const statuses = new Map([['u1', { phase: 'Succeeded' } as PodStatus]]);
    const { api, sync } = setup(statuses);
    sync.terminated(apiPod());
    await sync.flush();
    expect(api.callsOf('delete')).toEqual([]);
    sync.terminated(apiPod({ deletionTimestamp: '2026-11-23T10:00:00Z', deletionGracePeriodSeconds: 30 }));
    await sync.flush();
    expect(api.calls.map((call) => call.verb)).toEqual(['patch', 'delete']);
    expect(api.callsOf('delete')[0]).toMatchObject({ path, body: { gracePeriodSeconds: 0, preconditions: { uid: 'u1' } } });
    expect(api.objects.has(path)).toBe(false);
  });
});
