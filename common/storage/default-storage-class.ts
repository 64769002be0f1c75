/**
 * The default StorageClass `standard` of dockerlet's local provisioner, as kind's cluster has one:
 * a volume bound when its first pod is scheduled, its data deleted with its claim. A cluster from
 * `dockerlet cluster up` has it in the API; a lone host's claims get it when their manifests
 * declare no default class of their own.
 */
import type { StorageClass } from '../api/types.js';
import { DefaultStorageClassName, IsDefaultClassAnnotation, LocalPathProvisioner } from '../api/well-known.js';

export const DefaultStorageClass: Readonly<StorageClass> = Object.freeze({
  apiVersion: 'storage.k8s.io/v1',
  kind: 'StorageClass',
  metadata: { name: DefaultStorageClassName, annotations: { [IsDefaultClassAnnotation]: 'true' } },
  provisioner: LocalPathProvisioner,
  reclaimPolicy: 'Delete',
  volumeBindingMode: 'WaitForFirstConsumer',
});
