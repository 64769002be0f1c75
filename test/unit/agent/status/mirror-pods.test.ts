import { describe, expect, test } from 'vitest';
import type { DefaultedPod, Pod } from '../../../../common/api/types.js';
import { mirrorPodOf, MirrorPods } from '../../../../agent/status/mirror-pods.js';
import { memoryLogger } from '../../../helpers/memory-logger.js';
import { FakeKubeApi } from '../node/fake-kube-api.js';

function staticPod(name: string, hash: string): DefaultedPod {
  return {
    metadata: {
      name: `${name}-n1`,
      namespace: 'default',
      uid: hash,
      annotations: { 'kubernetes.io/config.hash': hash, 'kubernetes.io/config.source': 'file', 'kubernetes.io/config.seen': '2026-11-23T10:00:00Z' },
    },
    spec: { nodeName: 'n1', containers: [{ name: 'main', image: 'busybox' }] },
  };
}

function setup(statics: DefaultedPod[], nodeUid: () => string | undefined = () => 'node-uid') {
  const api = new FakeKubeApi();
  const mirrored: string[] = [];
  const mirrors = new MirrorPods({
    client: api,
    nodeName: 'n1',
    nodeUid,
    staticPods: () => statics,
    onMirror: (pod) => mirrored.push(pod.metadata.name),
    logger: memoryLogger().logger,
  });
  return { api, mirrors, mirrored };
}

const path = (name: string): string => `/api/v1/namespaces/default/pods/${name}`;

describe('mirrorPodOf', () => {
  test("the static pod's spec and annotations, config.mirror = its hash, the Node as controller; no UID, no config.seen", () => {
    const mirror = mirrorPodOf(staticPod('web', 'h1'), 'n1', 'node-uid');
    expect(mirror.metadata).toEqual({
      name: 'web-n1',
      namespace: 'default',
      annotations: { 'kubernetes.io/config.hash': 'h1', 'kubernetes.io/config.source': 'file', 'kubernetes.io/config.mirror': 'h1' },
      ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: 'n1', uid: 'node-uid', controller: true }],
    });
    expect(mirror.spec).toEqual(staticPod('web', 'h1').spec);
  });
});

describe('MirrorPods', () => {
  test('nothing is made before the Node is registered', async () => {
    const { api, mirrors } = setup([staticPod('web', 'h1')], () => undefined);
    await mirrors.reconcile();
    expect(api.calls).toEqual([]);
  });

  test('a missing mirror is created, and the status gets somewhere to go', async () => {
    const { api, mirrors, mirrored } = setup([staticPod('web', 'h1')]);
    await mirrors.reconcile();
    expect(api.objects.has(path('web-n1'))).toBe(true);
    expect(mirrored).toEqual(['web-n1']);
    expect(mirrors.mirrorOf(staticPod('web', 'h1'))?.metadata?.uid).toBe('uid-web-n1');
  });

  test('a current mirror is left alone', async () => {
    const { api, mirrors } = setup([staticPod('web', 'h1')]);
    mirrors.setMirrors([{ ...mirrorPodOf(staticPod('web', 'h1'), 'n1', 'node-uid'), metadata: { ...mirrorPodOf(staticPod('web', 'h1'), 'n1', 'node-uid').metadata, uid: 'm1' } }]);
    await mirrors.reconcile();
    expect(api.calls).toEqual([]);
  });

  test('a stale mirror (another hash) or one being deleted is deleted with grace 0 and a UID precondition, then made again', async () => {
    for (const stale of [{ hash: 'old' }, { hash: 'h1', deleting: true }]) {
      const { api, mirrors } = setup([staticPod('web', 'h1')]);
      const existing: Pod = mirrorPodOf(staticPod('web', stale.hash), 'n1', 'node-uid');
      existing.metadata = { ...existing.metadata, uid: 'm-old', ...(stale.deleting ? { deletionTimestamp: '2026-11-23T10:00:00Z' } : {}) };
      api.objects.set(path('web-n1'), existing as never);
      mirrors.setMirrors([existing]);
      await mirrors.reconcile();
      expect(api.callsOf('delete', path('web-n1'))).toEqual([
        expect.objectContaining({ body: expect.objectContaining({ gracePeriodSeconds: 0, preconditions: { uid: 'm-old' } }) }),
      ]);
      expect(api.callsOf('create')).toHaveLength(1);
      expect((api.objects.get(path('web-n1')) as Pod).metadata?.annotations?.['kubernetes.io/config.mirror']).toBe('h1');
    }
  });

  test('a mirror with no static pod left is deleted', async () => {
    const { api, mirrors } = setup([]);
    const orphan = { ...mirrorPodOf(staticPod('gone', 'h9'), 'n1', 'node-uid') };
    orphan.metadata = { ...orphan.metadata, uid: 'm9' };
    api.objects.set(path('gone-n1'), orphan as never);
    mirrors.setMirrors([orphan]);
    await mirrors.reconcile();
    expect(api.objects.has(path('gone-n1'))).toBe(false);
  });

  test('a failed call is logged and left for the next reconcile', async () => {
    const { api, mirrors } = setup([staticPod('web', 'h1')]);
    api.failures.push(new Error('connection refused'));
    await mirrors.reconcile();
    expect(api.objects.has(path('web-n1'))).toBe(false);
    await mirrors.reconcile();
    expect(api.objects.has(path('web-n1'))).toBe(true);
  });
});
