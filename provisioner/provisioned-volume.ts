/**
 * What the local provisioner decides, with no I/O: which claims are its to provision on this
 * node, the PersistentVolume it makes for one, and which of its volumes are to be deleted. As an
 * external provisioner in Kubernetes 1.20 works with the PV controller
 * (sig-storage-lib-external-provisioner, kind's local-path-provisioner):
 * - a claim is provisioned when it is Pending with no volume, its StorageClass names this
 *   provisioner, and either the scheduler chose this node for it (WaitForFirstConsumer: the
 *   volume.kubernetes.io/selected-node annotation) or the class binds at once (Immediate: every
 *   node's provisioner may try; the PV's name, from the claim's UID, lets only one create it);
 * - the PV is a `local` volume on a directory of this node, pinned to it by node affinity on
 *   kubernetes.io/hostname, with a claimRef to the claim that the PV controller completes into
 *   a binding;
 * - a volume of this provisioner and this node that the PV controller has Released, with policy
 *   Delete, is deleted: its directory, then the object.
 */
import type { PersistentVolume, PersistentVolumeClaim, StorageClass } from '../common/api/types.js';
import { LocalPathProvisioner, ProvisionedByAnnotation } from '../common/api/well-known.js';

const SelectedNodeAnnotation = 'volume.kubernetes.io/selected-node';
/** The storage class annotation claims carried before spec.storageClassName. */
const BetaStorageClassAnnotation = 'volume.beta.kubernetes.io/storage-class';
const HostnameLabel = 'kubernetes.io/hostname';

export const volumeNameFor = (claim: PersistentVolumeClaim): string => `pvc-${claim.metadata?.uid ?? ''}`;

/** The directory of a claim's volume under `base`, named as local-path names them: pvc-<uid>_<namespace>_<name>. */
export const volumeDirFor = (base: string, claim: PersistentVolumeClaim): string => `${base}/${volumeNameFor(claim)}_${claim.metadata?.namespace ?? ''}_${claim.metadata?.name ?? ''}`;

/** The claim's StorageClass when this provisioner on `nodeName` is to provision it now; undefined otherwise. */
export function classToProvision(claim: PersistentVolumeClaim, classes: ReadonlyMap<string, StorageClass>, nodeName: string): StorageClass | undefined {
  if (claim.spec?.volumeName || claim.metadata?.deletionTimestamp || (claim.status?.phase !== undefined && claim.status.phase !== 'Pending')) return undefined;
  // GetPersistentVolumeClaimClass: the beta annotation, when there is one, before the field.
  const className = claim.metadata?.annotations?.[BetaStorageClassAnnotation] ?? claim.spec?.storageClassName;
  const storageClass = className ? classes.get(className) : undefined;
  if (storageClass?.provisioner !== LocalPathProvisioner) return undefined;
  const selected = claim.metadata?.annotations?.[SelectedNodeAnnotation];
  if (selected !== undefined) return selected === nodeName ? storageClass : undefined;
  return storageClass.volumeBindingMode === 'WaitForFirstConsumer' ? undefined : storageClass;
}

/** The PersistentVolume for `claim` of `storageClass`, at `path` on `nodeName`. */
export function provisionedVolume(claim: PersistentVolumeClaim, storageClass: StorageClass, nodeName: string, path: string): PersistentVolume {
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolume',
    metadata: { name: volumeNameFor(claim), annotations: { [ProvisionedByAnnotation]: LocalPathProvisioner } },
    spec: {
      capacity: { storage: String(claim.spec?.resources?.requests?.['storage'] ?? '0') },
      accessModes: claim.spec?.accessModes ?? ['ReadWriteOnce'],
      persistentVolumeReclaimPolicy: storageClass.reclaimPolicy ?? 'Delete',
      storageClassName: storageClass.metadata?.name ?? '',
      volumeMode: claim.spec?.volumeMode ?? 'Filesystem',
      ...(storageClass.mountOptions ? { mountOptions: storageClass.mountOptions } : {}),
      local: { path },
      nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: HostnameLabel, operator: 'In', values: [nodeName] }] }] } },
      claimRef: {
        apiVersion: 'v1',
        kind: 'PersistentVolumeClaim',
        namespace: claim.metadata?.namespace ?? '',
        name: claim.metadata?.name ?? '',
        uid: claim.metadata?.uid ?? '',
        resourceVersion: claim.metadata?.resourceVersion ?? '',
      },
    },
  };
}

/** Whether `volume` is a local volume of this provisioner pinned to `nodeName`. */
export function isProvisionedOn(volume: PersistentVolume, nodeName: string): boolean {
  if (volume.metadata?.annotations?.[ProvisionedByAnnotation] !== LocalPathProvisioner || !volume.spec?.local) return false;
  const terms = volume.spec.nodeAffinity?.required?.nodeSelectorTerms ?? [];
  return terms.some((term) => term.matchExpressions?.some((e) => e.key === HostnameLabel && e.operator === 'In' && e.values?.includes(nodeName)));
}

/** Whether `volume` is this provisioner's on `nodeName`, Released, with policy Delete: its data and object are to go. */
export function isToDelete(volume: PersistentVolume, nodeName: string): boolean {
  if (volume.metadata?.deletionTimestamp || volume.status?.phase !== 'Released' || volume.spec?.persistentVolumeReclaimPolicy !== 'Delete') return false;
  return isProvisionedOn(volume, nodeName);
}
