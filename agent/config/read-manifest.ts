/**
 * One manifest (a file's or a URL's content) -> the objects it declares: static pods, the
 * ConfigMaps and Secrets they may use, the storage their claims need (PersistentVolumeClaims,
 * PersistentVolumes, StorageClasses), and Services for the proxy. The manifest is the unit of
 * failure: one bad document fails the whole manifest, with a message that names the manifest,
 * the document and the field.
 */
import type { ConfigMap, DefaultedPod, PersistentVolume, PersistentVolumeClaim, Secret, Service, StorageClass } from '../../common/api/types.js';
import { decodeManifest } from './manifest.js';
import { toStaticPod, type StaticPodOrigin } from './static-pod.js';
import { withServiceDefaults } from './service-defaults.js';
import { configMapSchema, secretSchema } from './validation/config-object-schema.js';
import { formatIssues, type FieldError } from './validation/format-issues.js';
import { serviceSchema } from './validation/service-schema.js';
import { persistentVolumeClaimSchema, persistentVolumeSchema, storageClassSchema } from './validation/storage-schema.js';
import { validatePod } from './validation/validate-pod.js';

export interface ManifestObjects {
  pods: DefaultedPod[];
  configMaps: ConfigMap[];
  secrets: Secret[];
  services: Service[];
  persistentVolumeClaims: PersistentVolumeClaim[];
  persistentVolumes: PersistentVolume[];
  storageClasses: StorageClass[];
}

export type ManifestContent = { ok: true; objects: ManifestObjects } | { ok: false; error: string };

const SupportedKinds = ['v1/Pod', 'v1/ConfigMap', 'v1/Secret', 'v1/Service', 'v1/PersistentVolumeClaim', 'v1/PersistentVolume', 'storage.k8s.io/v1/StorageClass'];

export function emptyManifestObjects(): ManifestObjects {
  return { pods: [], configMaps: [], secrets: [], services: [], persistentVolumeClaims: [], persistentVolumes: [], storageClasses: [] };
}

/** The manifest's objects of one storage kind: validated, as declared (a claim in namespace default unless it names one). */
const StorageKinds = {
  'v1/PersistentVolumeClaim': { schema: persistentVolumeClaimSchema, add: (objects: ManifestObjects, object: unknown) => objects.persistentVolumeClaims.push(withNamespace(object as PersistentVolumeClaim)) },
  'v1/PersistentVolume': { schema: persistentVolumeSchema, add: (objects: ManifestObjects, object: unknown) => objects.persistentVolumes.push(object as PersistentVolume) },
  'storage.k8s.io/v1/StorageClass': { schema: storageClassSchema, add: (objects: ManifestObjects, object: unknown) => objects.storageClasses.push(object as StorageClass) },
} as const;

export function readManifest(text: string, origin: StaticPodOrigin, nodeName: string): ManifestContent {
  const decoded = decodeManifest(text);
  if (!decoded.ok) return { ok: false, error: `${origin.location}: ${decoded.error}` };
  const objects = emptyManifestObjects();
  for (const { kind, apiVersion, document, object } of decoded.objects) {
    const where = `${origin.location}: document ${document} (${kind} ${objectName(object)})`;
    const typed = `${apiVersion}/${kind}`;
    if (typed === 'v1/Pod') {
      const validated = validatePod(object);
      if (!validated.ok) return { ok: false, error: `${where}: ${describe(validated.errors)}` };
      const staticPod = toStaticPod(validated.pod, origin, nodeName);
      if (!staticPod.ok) return { ok: false, error: `${where}: ${describe(staticPod.errors)}` };
      objects.pods.push(staticPod.pod);
    } else if (typed === 'v1/ConfigMap') {
      const parsed = configMapSchema.safeParse(object, { reportInput: true });
      if (!parsed.success) return { ok: false, error: `${where}: ${describe(formatIssues(parsed.error.issues))}` };
      objects.configMaps.push(withNamespace(object as ConfigMap));
    } else if (typed === 'v1/Secret') {
      const parsed = secretSchema.safeParse(object, { reportInput: true });
      if (!parsed.success) return { ok: false, error: `${where}: ${describe(formatIssues(parsed.error.issues, isSecretValue))}` };
      objects.secrets.push(storedSecret(withNamespace(object as Secret)));
    } else if (typed === 'v1/Service') {
      const parsed = serviceSchema.safeParse(object, { reportInput: true });
      if (!parsed.success) return { ok: false, error: `${where}: ${describe(formatIssues(parsed.error.issues))}` };
      objects.services.push(withServiceDefaults(object as Service));
    } else if (typed in StorageKinds) {
      const kind = StorageKinds[typed as keyof typeof StorageKinds];
      const parsed = kind.schema.safeParse(object, { reportInput: true });
      if (!parsed.success) return { ok: false, error: `${where}: ${describe(formatIssues(parsed.error.issues))}` };
      kind.add(objects, object);
    } else {
      const supported = SupportedKinds.map((k) => JSON.stringify(k)).join(', ');
      return { ok: false, error: `${origin.location}: document ${document}: kind: Unsupported value: "${typed}": supported kinds: ${supported}` };
    }
  }
  return { ok: true, objects };
}

function withNamespace<T extends ConfigMap | Secret | PersistentVolumeClaim>(object: T): T {
  const copy = structuredClone(object);
  copy.metadata = { ...copy.metadata, namespace: copy.metadata?.namespace || 'default' };
  return copy;
}

/** A Secret as the API server stores it: stringData folded into data (base64), type Opaque by default. */
function storedSecret(secret: Secret): Secret {
  const { stringData, ...rest } = secret;
  const data = { ...rest.data };
  for (const [key, value] of Object.entries(stringData ?? {})) data[key] = Buffer.from(value, 'utf8').toString('base64');
  return { ...rest, type: rest.type ?? 'Opaque', data };
}

/** A field of a Secret that holds (part of) its data: its values never reach a message. */
const isSecretValue = (path: ReadonlyArray<PropertyKey>): boolean => path[0] === 'data' || path[0] === 'stringData';

function objectName(object: Record<string, unknown>): string {
  const metadata = object['metadata'];
  const name = metadata && typeof metadata === 'object' ? (metadata as Record<string, unknown>)['name'] : undefined;
  return typeof name === 'string' ? JSON.stringify(name) : '(no name)';
}

function describe(errors: readonly FieldError[]): string {
  return errors.map(({ field, message }) => (field ? `${field}: ${message}` : message)).join('; ');
}
