import { describe, expect, test } from 'vitest';
import type { PersistentVolume, PersistentVolumeClaim } from '../../../../../common/api/types.js';
import { KubeApiError, type KubeApi } from '../../../../../common/kube-api/kube-client.js';
import { ApiClaims } from '../../../../../agent/volumes/claims/api-claims.js';

/** An API that answers GETs from `objects` by path, 404 otherwise. */
function api(objects: Record<string, unknown>): KubeApi & { paths: string[] } {
  const paths: string[] = [];
  const unused = (): never => {
    throw new Error('not used');
  };
  return {
    paths,
    async get<T>(path: string): Promise<T> {
      paths.push(path);
      if (path in objects) return objects[path] as T;
      throw new KubeApiError('GET', path, 404, JSON.stringify({ kind: 'Status', reason: 'NotFound', message: `${path.split('/').at(-2)} "${path.split('/').at(-1)}" not found` }));
    },
    create: unused,
    replace: unused,
    patch: unused,
    delete: unused,
    watch: unused,
  };
}

const ClaimPath = '/api/v1/namespaces/apps/persistentvolumeclaims/data';
const VolumePath = '/api/v1/persistentvolumes/pv-1';
const bound: PersistentVolumeClaim = { metadata: { name: 'data', namespace: 'apps', uid: 'c-1' }, spec: { volumeName: 'pv-1' }, status: { phase: 'Bound' } };
const volume: PersistentVolume = { metadata: { name: 'pv-1' }, spec: { local: { path: '/srv/pv-1' }, claimRef: { namespace: 'apps', name: 'data', uid: 'c-1' } } };

describe('ApiClaims', () => {
  test('a Bound claim resolves to the volume it names, read by name as the Node authorizer allows', async () => {
    const client = api({ [ClaimPath]: bound, [VolumePath]: volume });
    expect(await new ApiClaims(client).resolve('apps', 'data')).toEqual({ ok: true, volume });
    expect(client.paths).toEqual([ClaimPath, VolumePath]);
  });

  test('a claim that is missing, Pending, being deleted or without a volume name is refused with the kubelet\'s words', async () => {
    const resolve = (claim?: PersistentVolumeClaim) => new ApiClaims(api(claim ? { [ClaimPath]: claim } : {})).resolve('apps', 'data');
    expect(await resolve()).toEqual({ ok: false, message: `failed to fetch PVC from API server: GET ${ClaimPath}: 404 NotFound: persistentvolumeclaims "data" not found` });
    expect(await resolve({ ...bound, status: { phase: 'Pending' } })).toEqual({ ok: false, message: 'PVC is not bound' });
    expect(await resolve({ ...bound, metadata: { ...bound.metadata, deletionTimestamp: '2026-12-03T00:00:00Z' } })).toEqual({ ok: false, message: 'PVC is being deleted' });
    expect(await resolve({ ...bound, spec: {} })).toEqual({ ok: false, message: 'PVC has empty pvc.Spec.VolumeName' });
  });

  test('a volume that does not point back at the claim\'s UID is refused', async () => {
    const other = { ...volume, spec: { ...volume.spec, claimRef: { namespace: 'apps', name: 'data', uid: 'c-0' } } };
    expect(await new ApiClaims(api({ [ClaimPath]: bound, [VolumePath]: other })).resolve('apps', 'data')).toEqual({
      ok: false,
      message: 'found PV object pv-1 but its pv.Spec.ClaimRef.UID c-0 does not point to claim.UID c-1',
    });
    expect(await new ApiClaims(api({ [ClaimPath]: bound })).resolve('apps', 'data')).toMatchObject({ ok: false, message: expect.stringMatching(/^failed to fetch PV pv-1 from API server: .*404/) });
  });
});
