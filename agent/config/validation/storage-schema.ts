/**
 * What the API server's ValidatePersistentVolumeClaim, ValidatePersistentVolume and
 * ValidateStorageClass reject (pkg/apis/core/validation, pkg/apis/storage/validation), for the
 * storage objects a lone host's manifests declare beside their pods, and what dockerlet cannot
 * serve there: a PersistentVolume other than hostPath or local, or a claim that selects its
 * volume by labels (a claim names its volume, or a volume names its claim).
 */
import { isAbsolute } from 'node:path';
import { z } from 'zod';
import { parseQuantity } from '../../../common/api/quantity.js';
import { objectMetadata } from './config-object-schema.js';
import { dnsLabel, dnsSubdomain, quantity } from './names.js';

const AccessModes = ['ReadWriteOnce', 'ReadOnlyMany', 'ReadWriteMany', 'ReadWriteOncePod'] as const;
const accessModes = z.array(z.enum(AccessModes)).min(1);

const storageQuantity = quantity.refine((value) => (parseQuantity(value) ?? 0) > 0, 'must be greater than zero');

/** A PersistentVolume's and a StorageClass's metadata: cluster-scoped, no namespace. */
const clusterMetadata = objectMetadata.omit({ namespace: true });

const volumeMode = z.enum(['Filesystem', 'Block']);

export const persistentVolumeClaimSchema = z.looseObject({
  apiVersion: z.literal('v1'),
  kind: z.literal('PersistentVolumeClaim'),
  metadata: objectMetadata,
  spec: z.looseObject({
    accessModes,
    resources: z.looseObject({ requests: z.looseObject({ storage: storageQuantity }) }),
    storageClassName: z.string().optional(),
    volumeName: z.string().optional(),
    volumeMode: volumeMode.optional(),
    selector: z
      .unknown()
      .refine((value) => value === undefined, 'Forbidden: a claim on a lone host names its volume (spec.volumeName) or is named by one (claimRef); selectors are not supported')
      .optional(),
  }),
});

const PersistentVolumeSources = ['hostPath', 'local'] as const;
/** A PersistentVolume spec's fields that are not its volume source. */
const PersistentVolumeSpecFields = ['capacity', 'accessModes', 'persistentVolumeReclaimPolicy', 'claimRef', 'storageClassName', 'volumeMode', 'nodeAffinity', 'mountOptions'] as const;

const nodeSelectorRequirement = z.looseObject({
  key: z.string().min(1),
  operator: z.enum(['In', 'NotIn', 'Exists', 'DoesNotExist', 'Gt', 'Lt']),
  values: z.array(z.string()).optional(),
});

export const persistentVolumeSchema = z.looseObject({
  apiVersion: z.literal('v1'),
  kind: z.literal('PersistentVolume'),
  metadata: clusterMetadata,
  spec: z
    .looseObject({
      capacity: z.looseObject({ storage: storageQuantity }),
      accessModes,
      hostPath: z
        .looseObject({
          path: z.string().min(1),
          type: z.enum(['', 'DirectoryOrCreate', 'Directory', 'FileOrCreate', 'File', 'Socket', 'CharDevice', 'BlockDevice']).optional(),
        })
        .optional(),
      local: z.looseObject({ path: z.string().refine(isAbsolute, 'must be an absolute path') }).optional(),
      persistentVolumeReclaimPolicy: z.enum(['Retain', 'Delete', 'Recycle']).optional(),
      claimRef: z.looseObject({ name: dnsSubdomain, namespace: dnsLabel.optional() }).optional(),
      storageClassName: z.string().optional(),
      volumeMode: volumeMode.optional(),
      nodeAffinity: z
        .looseObject({
          required: z.looseObject({
            nodeSelectorTerms: z.array(z.looseObject({ matchExpressions: z.array(nodeSelectorRequirement).optional(), matchFields: z.array(nodeSelectorRequirement).optional() })).min(1),
          }),
        })
        .optional(),
    })
    .superRefine((spec, ctx) => {
      // Any other field is another kind of volume (nfs, csi, ...), which a lone host cannot mount.
      const other = Object.keys(spec).find((key) => !(PersistentVolumeSpecFields as readonly string[]).includes(key) && !(PersistentVolumeSources as readonly string[]).includes(key));
      if (other !== undefined) {
        ctx.addIssue({ code: 'custom', path: [other], message: `Unsupported value: "${other}": a lone host's PersistentVolumes are hostPath or local` });
        return;
      }
      const given = PersistentVolumeSources.filter((source) => spec[source] !== undefined);
      if (given.length !== 1) ctx.addIssue({ code: 'custom', message: given.length === 0 ? 'Required value: must specify a volume type (hostPath or local)' : 'Forbidden: may not specify more than 1 volume type' });
    }),
});

export const storageClassSchema = z.looseObject({
  apiVersion: z.literal('storage.k8s.io/v1'),
  kind: z.literal('StorageClass'),
  metadata: clusterMetadata,
  provisioner: z.string().min(1),
  reclaimPolicy: z.enum(['Delete', 'Retain']).optional(),
  volumeBindingMode: z.enum(['Immediate', 'WaitForFirstConsumer']).optional(),
  parameters: z.record(z.string(), z.string()).optional(),
});
