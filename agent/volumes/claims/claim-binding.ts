/**
 * How a lone host's claims find their volumes, as the PV controller binds them
 * (pkg/controller/volume/persistentvolume, syncUnboundClaim and checkVolumeSatisfyClaim), with
 * what the manifests declare and no I/O:
 * - a claim that names a PersistentVolume (spec.volumeName) gets it, if that volume is declared,
 *   not meant for another claim (its claimRef, else the first claim by namespace/name that names
 *   it) and satisfies the claim: capacity, access modes, class and volumeMode;
 * - a volume whose claimRef names the claim gets it, on the same conditions;
 * - else its StorageClass provisions it: the one it names, else the class annotated as the
 *   default, else the built-in `standard`; storageClassName "" waits for a volume that names it,
 *   and a class of another provisioner leaves the claim pending with the PV controller's words.
 */
import type { PersistentVolume, PersistentVolumeClaim, StorageClass } from '../../../common/api/types.js';
import { namespacedName } from '../../../common/api/types.js';
import { parseQuantity } from '../../../common/api/quantity.js';
import { DefaultStorageClassName, IsDefaultClassAnnotation, LocalPathProvisioner, ProvisionedByAnnotation } from '../../../common/api/well-known.js';
import { DefaultStorageClass } from '../../../common/storage/default-storage-class.js';

export type Binding =
  | { kind: 'declared'; volume: PersistentVolume }
  | { kind: 'provisioned'; storageClass: StorageClass }
  | { kind: 'pending'; message: string };

/** What the manifest sources declare: claims by "<namespace>/<name>", volumes and classes by name. */
export interface DeclaredStorage {
  claims: ReadonlyMap<string, PersistentVolumeClaim>;
  volumes: ReadonlyMap<string, PersistentVolume>;
  classes: ReadonlyMap<string, StorageClass>;
}

/** The name of a provisioned claim's volume: unique, as a namespace has no dot. */
export const provisionedVolumeName = (namespace: string, claimName: string): string => `pvc-${namespace}.${claimName}`;

const refKey = (ref: { namespace?: string; name?: string }): string => `${ref.namespace || 'default'}/${ref.name ?? ''}`;

/** The claim a declared volume is meant for: its claimRef's, else the first claim that names it. */
function claimantOf(volume: PersistentVolume, declared: DeclaredStorage): string | undefined {
  if (volume.spec?.claimRef) return refKey(volume.spec.claimRef);
  return [...declared.claims.keys()].sort().find((key) => declared.claims.get(key)!.spec?.volumeName === volume.metadata?.name);
}

/** checkVolumeSatisfyClaim: why `volume` cannot hold `claim`, in the PV controller's words; undefined when it can. */
function unsatisfied(claim: PersistentVolumeClaim, volume: PersistentVolume): string | undefined {
  const requested = parseQuantity(claim.spec?.resources?.requests?.['storage'] ?? 0) ?? 0;
  const capacity = parseQuantity(volume.spec?.capacity?.['storage'] ?? 0) ?? 0;
  if (capacity < requested) return 'requested PV is too small';
  if ((claim.spec?.storageClassName ?? '') !== (volume.spec?.storageClassName ?? '')) return 'storageClassName does not match';
  if ((claim.spec?.volumeMode ?? 'Filesystem') !== (volume.spec?.volumeMode ?? 'Filesystem')) return 'incompatible volumeMode';
  const modes = volume.spec?.accessModes ?? [];
  if (!(claim.spec?.accessModes ?? []).every((mode) => modes.includes(mode))) return 'incompatible accessMode';
  return undefined;
}

function declaredBinding(claim: PersistentVolumeClaim, volume: PersistentVolume, declared: DeclaredStorage): Binding {
  const name = volume.metadata?.name ?? '';
  const claimant = claimantOf(volume, declared);
  if (claimant !== namespacedName(claim)) return { kind: 'pending', message: `PVC is not bound: PersistentVolume "${name}" is for claim ${claimant}` };
  const problem = unsatisfied(claim, volume);
  return problem ? { kind: 'pending', message: `PVC is not bound: Cannot bind to requested volume "${name}": ${problem}` } : { kind: 'declared', volume };
}

export function bindClaim(claim: PersistentVolumeClaim, declared: DeclaredStorage): Binding {
  const key = namespacedName(claim);
  const volumeName = claim.spec?.volumeName;
  if (volumeName) {
    const volume = declared.volumes.get(volumeName);
    return volume ? declaredBinding(claim, volume, declared) : { kind: 'pending', message: `PVC is not bound: the PersistentVolume "${volumeName}" it names is not declared` };
  }
  const named = [...declared.volumes.values()].find((volume) => volume.spec?.claimRef && refKey(volume.spec.claimRef) === key);
  if (named) return declaredBinding(claim, named, declared);
  const className = claim.spec?.storageClassName;
  if (className === '') return { kind: 'pending', message: 'PVC is not bound: it has no StorageClass, and no PersistentVolume names it (claimRef) or is named by it (spec.volumeName)' };
  const classes = declared.classes;
  const storageClass =
    className !== undefined
      ? (classes.get(className) ?? (className === DefaultStorageClassName ? DefaultStorageClass : undefined))
      : ([...classes.values()].find((c) => c.metadata?.annotations?.[IsDefaultClassAnnotation] === 'true') ?? classes.get(DefaultStorageClassName) ?? DefaultStorageClass);
  if (!storageClass) return { kind: 'pending', message: `PVC is not bound: storageclass.storage.k8s.io "${className}" not found` };
  if (storageClass.provisioner !== LocalPathProvisioner) {
    return { kind: 'pending', message: `PVC is not bound: waiting for a volume to be created, either by external provisioner "${storageClass.provisioner}" or manually created by system administrator` };
  }
  return { kind: 'provisioned', storageClass };
}

/** The PersistentVolume provisioned for `claim` of `storageClass`: `dataDir`, as a local volume, with the class's reclaim policy. */
export function provisionedVolume(claim: PersistentVolumeClaim, storageClass: StorageClass, dataDir: string): PersistentVolume {
  const namespace = claim.metadata!.namespace!;
  const name = claim.metadata!.name!;
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolume',
    metadata: { name: provisionedVolumeName(namespace, name), annotations: { [ProvisionedByAnnotation]: LocalPathProvisioner } },
    spec: {
      capacity: { storage: String(claim.spec?.resources?.requests?.['storage'] ?? '0') },
      accessModes: claim.spec?.accessModes ?? ['ReadWriteOnce'],
      local: { path: dataDir },
      persistentVolumeReclaimPolicy: storageClass.reclaimPolicy ?? 'Delete',
      storageClassName: storageClass.metadata?.name ?? DefaultStorageClassName,
      volumeMode: claim.spec?.volumeMode ?? 'Filesystem',
      claimRef: { kind: 'PersistentVolumeClaim', namespace, name },
    },
  };
}
