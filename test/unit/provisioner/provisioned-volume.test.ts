import { describe, expect, test } from 'vitest';
import type { PersistentVolume, PersistentVolumeClaim, StorageClass } from '../../../common/api/types.js';
import { classToProvision, isToDelete, provisionedVolume, volumeDirFor } from '../../../provisioner/provisioned-volume.js';

const local = (name: string, extra: Partial<StorageClass> = {}): StorageClass => ({ metadata: { name }, provisioner: 'dockerlet.io/local-path', volumeBindingMode: 'WaitForFirstConsumer', ...extra });
const classes = new Map<string, StorageClass>([
  ['standard', local('standard')],
  ['now', local('now', { volumeBindingMode: 'Immediate', reclaimPolicy: 'Retain' })],
  ['ebs', { metadata: { name: 'ebs' }, provisioner: 'ebs.csi.aws.com' }],
]);

function claim(storageClassName: string | undefined, annotations: Record<string, string> = {}, extra: Partial<PersistentVolumeClaim> = {}): PersistentVolumeClaim {
  return {
    metadata: { name: 'data-web-0', namespace: 'apps', uid: 'u-1', resourceVersion: '42', annotations },
    spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '2Gi' } }, ...(storageClassName === undefined ? {} : { storageClassName }) },
    status: { phase: 'Pending' },
    ...extra,
  };
}

describe('classToProvision', () => {
  test('a WaitForFirstConsumer claim is provisioned by the node the scheduler selected, and only there', () => {
    expect(classToProvision(claim('standard', { 'volume.kubernetes.io/selected-node': 'node-1' }), classes, 'node-1')?.metadata?.name).toBe('standard');
    expect(classToProvision(claim('standard', { 'volume.kubernetes.io/selected-node': 'node-2' }), classes, 'node-1')).toBeUndefined();
    expect(classToProvision(claim('standard'), classes, 'node-1')).toBeUndefined();
  });

  test('an Immediate claim is provisioned by any node; the beta class annotation counts, before the field', () => {
    expect(classToProvision(claim(undefined, { 'volume.beta.kubernetes.io/storage-class': 'now' }), classes, 'node-1')?.metadata?.name).toBe('now');
    expect(classToProvision(claim('ebs', { 'volume.beta.kubernetes.io/storage-class': 'now' }), classes, 'node-1')?.metadata?.name).toBe('now');
  });

  test('claims of another provisioner, with no or an unknown class, bound, or being deleted are left alone', () => {
    const selected = { 'volume.kubernetes.io/selected-node': 'node-1' };
    expect(classToProvision(claim('ebs', selected), classes, 'node-1')).toBeUndefined();
    expect(classToProvision(claim(undefined, selected), classes, 'node-1')).toBeUndefined();
    expect(classToProvision(claim('gone', selected), classes, 'node-1')).toBeUndefined();
    expect(classToProvision(claim('standard', selected, { status: { phase: 'Bound' } }), classes, 'node-1')).toBeUndefined();
    expect(classToProvision(claim('standard', selected, { metadata: { name: 'x', uid: 'u', annotations: selected, deletionTimestamp: '2026-01-01T00:00:00Z' } }), classes, 'node-1')).toBeUndefined();
  });
});

describe('provisionedVolume', () => {
  test('a local PV on the node\'s directory, pinned to the node, with the class\'s policy and a claimRef to the claim', () => {
    const dir = volumeDirFor('/var/lib/volumes', claim('now'));
    expect(dir).toBe('/var/lib/volumes/pvc-u-1_apps_data-web-0');
    expect(provisionedVolume(claim('now'), classes.get('now')!, 'node-1', dir)).toEqual({
      apiVersion: 'v1',
      kind: 'PersistentVolume',
      metadata: { name: 'pvc-u-1', annotations: { 'pv.kubernetes.io/provisioned-by': 'dockerlet.io/local-path' } },
      spec: {
        capacity: { storage: '2Gi' },
        accessModes: ['ReadWriteOnce'],
        persistentVolumeReclaimPolicy: 'Retain',
        storageClassName: 'now',
        volumeMode: 'Filesystem',
        local: { path: dir },
        nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: ['node-1'] }] }] } },
        claimRef: { apiVersion: 'v1', kind: 'PersistentVolumeClaim', namespace: 'apps', name: 'data-web-0', uid: 'u-1', resourceVersion: '42' },
      },
    });
  });
});

describe('isToDelete', () => {
  const volume = (phase: string, policy: string, node = 'node-1', provisioner = 'dockerlet.io/local-path'): PersistentVolume => ({
    ...provisionedVolume(claim('standard'), local('standard', { reclaimPolicy: policy }), node, '/v/x'),
    metadata: { name: 'pvc-u-1', annotations: { 'pv.kubernetes.io/provisioned-by': provisioner } },
    status: { phase },
  });

  test('only this node\'s Released volumes of this provisioner with policy Delete', () => {
    expect(isToDelete(volume('Released', 'Delete'), 'node-1')).toBe(true);
    expect(isToDelete(volume('Bound', 'Delete'), 'node-1')).toBe(false);
    expect(isToDelete(volume('Released', 'Retain'), 'node-1')).toBe(false);
    expect(isToDelete(volume('Released', 'Delete', 'node-2'), 'node-1')).toBe(false);
    expect(isToDelete(volume('Released', 'Delete', 'node-1', 'rancher.io/local-path'), 'node-1')).toBe(false);
  });
});
