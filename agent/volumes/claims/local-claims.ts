/**
 * A lone host's PersistentVolumeClaims: the claims, PersistentVolumes and StorageClasses that the
 * manifest sources declare beside their pods, bound and provisioned by the agent itself, as a
 * single-node cluster's PV controller and local-path provisioner would, with no control plane.
 *
 * Binding. A claim is bound to the PersistentVolume it names (spec.volumeName), or to the one
 * whose claimRef names it; with neither, it gets a volume of its StorageClass: the one it names,
 * else the class annotated as the default, else the built-in `standard` (provisioner
 * dockerlet.io/local-path, reclaimPolicy Delete). A claim with storageClassName "" only binds to a
 * volume that names it. Only dockerlet.io/local-path classes are provisioned; a claim of any other
 * provisioner stays pending with the PV controller's message.
 *
 * Provisioning, at the first pod that uses the claim (WaitForFirstConsumer): a directory
 * <root-dir>/persistent-volumes/<namespace>/<claim>/ holding the volume's record (pv.json, the
 * PersistentVolume as a cluster would have it) and its data (data/, what the pods mount). The
 * data is the claim's, by name: it outlives pods, their manifests and the agent, and a claim
 * declared again by the same name finds it again.
 *
 * Reclaiming. When a provisioned claim's document is gone, the data follows the reclaim policy
 * its class last declared (recorded in pv.json whenever the manifests change): Delete removes the
 * directory, Retain keeps it. Not before every source has been read, no pod uses the claim any
 * more (the PVC protection's rule), and it has been gone for ReclaimGraceMs, so that a manifest
 * renamed or rewritten in steps never loses its data. Volumes declared by PersistentVolume
 * documents are the user's: their data is never removed.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { errorMessage } from '../../../common/api/errors.js';
import type { PersistentVolume, PersistentVolumeClaim, StorageClass } from '../../../common/api/types.js';
import { namespacedName } from '../../../common/api/types.js';
import { DefaultStorageClassName, IsDefaultClassAnnotation, LocalPathProvisioner, ProvisionedByAnnotation, type PodSource } from '../../../common/api/well-known.js';
import { writeFileDurably } from '../../../common/util/durable-file.js';
import type { Clock } from '../../../common/util/clock.js';
import { canonicalJson } from '../../../common/util/hash.js';
import { DefaultStorageClass } from '../../../common/storage/default-storage-class.js';
import { makeVolumeDir, removeVolumeDir } from '../../../common/storage/volume-dirs.js';
import type { ManifestObjects } from '../../config/read-manifest.js';
import type { ClaimResolution, PersistentVolumeClaimSource } from '../plugins/volume-plugin.js';
import type { RootDir } from '../root-dir.js';

/** How long a provisioned claim must have been undeclared before its data is reclaimed. */
export const ReclaimGraceMs = 10_000;

const RecordFile = 'pv.json';
const DataDir = 'data';

type Binding =
  | { kind: 'declared'; volume: PersistentVolume }
  | { kind: 'provisioned'; storageClass: StorageClass }
  | { kind: 'pending'; message: string };

export type StorageObjects = Pick<ManifestObjects, 'persistentVolumeClaims' | 'persistentVolumes' | 'storageClasses'>;

const emptyStorage: StorageObjects = { persistentVolumeClaims: [], persistentVolumes: [], storageClasses: [] };
const storageOf = (objects: StorageObjects): StorageObjects => ({ persistentVolumeClaims: objects.persistentVolumeClaims, persistentVolumes: objects.persistentVolumes, storageClasses: objects.storageClasses });

export interface LocalClaimsOptions {
  rootDir: RootDir;
  clock: Clock;
  logger: Logger;
}

export class LocalClaims implements PersistentVolumeClaimSource {
  readonly #o: LocalClaimsOptions;
  readonly #log: Logger;
  readonly #bySource = new Map<PodSource, StorageObjects>();
  /** When each provisioned claim ("<namespace>/<name>") was last declared, or first found on disk undeclared. */
  readonly #lastDeclared = new Map<string, number>();
  /** Retained claims already reported, so that each is logged once. */
  readonly #retainedLogged = new Set<string>();
  #recordsWritten: Promise<void> = Promise.resolve();
  #provisioning: Promise<void> = Promise.resolve();
  readonly #listeners: Array<() => void> = [];

  constructor(options: LocalClaimsOptions) {
    this.#o = options;
    this.#log = options.logger.child({ component: 'local-claims' });
  }

  /** Called when a source's storage objects change: pods waiting for a claim may go on. */
  onChange(listener: () => void): void {
    this.#listeners.push(listener);
  }

  /** Replaces `source`'s storage objects; the records of the claims it declares take their classes' policies. */
  set(source: PodSource, objects: StorageObjects): void {
    const previous = this.#bySource.get(source);
    const changed = canonicalJson(previous ?? emptyStorage) !== canonicalJson(storageOf(objects));
    this.#bySource.set(source, storageOf(objects));
    if (changed) for (const listener of this.#listeners) listener();
    const now = this.#o.clock.now();
    for (const claim of this.#claims().values()) this.#lastDeclared.set(namespacedName(claim), now);
    // The policies as this set declares them, written in the order the sets came.
    const policies = [...this.#claims().values()].flatMap((claim) => {
      const binding = this.#bind(claim);
      return binding.kind === 'provisioned' ? [{ dir: this.#o.rootDir.claimDir(claim.metadata!.namespace!, claim.metadata!.name!), policy: binding.storageClass.reclaimPolicy ?? 'Delete' }] : [];
    });
    this.#recordsWritten = this.#recordsWritten.then(() => refreshPolicies(policies)).catch((err: unknown) => this.#log.warn({ err: errorMessage(err) }, 'updating the records of provisioned claims failed'));
  }

  async resolve(namespace: string, claimName: string): Promise<ClaimResolution> {
    const claim = this.#claims().get(`${namespace}/${claimName}`);
    if (!claim) return { ok: false, message: `persistentvolumeclaims "${claimName}" not found: declare it in a manifest beside the pod` };
    const binding = this.#bind(claim);
    if (binding.kind === 'pending') return { ok: false, message: binding.message };
    if (binding.kind === 'declared') return { ok: true, claim: boundClaim(claim, binding.volume), volume: binding.volume };
    const volume = this.#provisionedVolume(claim, binding.storageClass);
    // One provisioning at a time: two pods of one claim starting together write its record once.
    const provisioned = this.#provisioning.then(() => this.#provision(namespace, claimName, volume));
    this.#provisioning = provisioned.catch(() => undefined);
    await provisioned;
    return { ok: true, claim: boundClaim(claim, volume), volume };
  }

  async #provision(namespace: string, claimName: string, volume: PersistentVolume): Promise<void> {
    const dir = this.#o.rootDir.claimDir(namespace, claimName);
    const fresh = !(await readRecord(dir));
    await makeVolumeDir(join(dir, DataDir));
    await writeRecord(dir, volume);
    if (fresh) this.#log.info({ claim: `${namespace}/${claimName}`, path: join(dir, DataDir), reclaimPolicy: volume.spec!.persistentVolumeReclaimPolicy }, 'provisioned a volume for the claim');
  }

  /** The declared claims as a cluster would show them: Bound (with their volume) or Pending (with why, in a condition). */
  async list(): Promise<PersistentVolumeClaim[]> {
    const claims: PersistentVolumeClaim[] = [];
    for (const claim of this.#claims().values()) {
      const binding = this.#bind(claim);
      const namespace = claim.metadata!.namespace!;
      const name = claim.metadata!.name!;
      const volume =
        binding.kind === 'declared' ? binding.volume : binding.kind === 'provisioned' ? await readRecord(this.#o.rootDir.claimDir(namespace, name)) : undefined;
      if (volume) {
        claims.push(boundClaim(claim, volume));
        continue;
      }
      const message = binding.kind === 'pending' ? binding.message : 'waiting for first consumer to be created before binding';
      claims.push({ ...claim, status: { phase: 'Pending', conditions: [{ type: 'Pending', status: 'True', message }] } });
    }
    return claims;
  }

  /**
   * Reclaims what provisioned claims no longer declared left, by their recorded policy, once
   * `inUse` (claims "<namespace>/<name>" some pod may still use) leaves them out and they have
   * been gone for ReclaimGraceMs. The caller has every source read.
   */
  async reclaim(inUse: ReadonlySet<string>): Promise<void> {
    await this.#recordsWritten;
    const declared = this.#claims();
    const now = this.#o.clock.now();
    for (const { namespace, name, dir } of await this.#provisionedDirs()) {
      const key = `${namespace}/${name}`;
      if (declared.has(key) || inUse.has(key)) continue;
      const lastDeclared = this.#lastDeclared.get(key) ?? now;
      this.#lastDeclared.set(key, lastDeclared);
      if (now - lastDeclared < ReclaimGraceMs) continue;
      const record = await readRecord(dir);
      const policy = record?.spec?.persistentVolumeReclaimPolicy ?? 'Retain';
      if (policy !== 'Delete') {
        if (!this.#retainedLogged.has(key)) this.#log.info({ claim: key, path: join(dir, DataDir) }, 'the claim is no longer declared; its data is kept (reclaim policy Retain): declaring it again brings it back');
        this.#retainedLogged.add(key);
        continue;
      }
      try {
        await removeVolumeDir(this.#o.rootDir.persistentVolumesDir(), dir);
        this.#lastDeclared.delete(key);
        this.#log.info({ claim: key, path: dir }, 'the claim is no longer declared; its data is deleted (reclaim policy Delete)');
      } catch (err) {
        this.#log.warn({ claim: key, path: dir, err: errorMessage(err) }, 'deleting the data of a claim no longer declared failed; will retry');
      }
    }
  }

  /** The declared claims by "<namespace>/<name>", the first source's first. */
  #claims(): Map<string, PersistentVolumeClaim> {
    const claims = new Map<string, PersistentVolumeClaim>();
    for (const objects of this.#bySource.values()) {
      for (const claim of objects.persistentVolumeClaims) if (!claims.has(namespacedName(claim))) claims.set(namespacedName(claim), claim);
    }
    return claims;
  }

  #declared<T extends PersistentVolume | StorageClass>(pick: (objects: StorageObjects) => readonly T[]): Map<string, T> {
    const found = new Map<string, T>();
    for (const objects of this.#bySource.values()) for (const object of pick(objects)) if (!found.has(object.metadata?.name ?? '')) found.set(object.metadata?.name ?? '', object);
    return found;
  }

  #bind(claim: PersistentVolumeClaim): Binding {
    const namespace = claim.metadata!.namespace!;
    const name = claim.metadata!.name!;
    const volumes = this.#declared((objects) => objects.persistentVolumes);
    const claimedBy = (volume: PersistentVolume): boolean => volume.spec?.claimRef?.name === name && (volume.spec.claimRef.namespace ?? 'default') === namespace;
    const volumeName = claim.spec?.volumeName;
    if (volumeName) {
      const volume = volumes.get(volumeName);
      if (!volume) return { kind: 'pending', message: `PVC is not bound: the PersistentVolume "${volumeName}" it names is not declared` };
      const ref = volume.spec?.claimRef;
      if (ref && !claimedBy(volume)) return { kind: 'pending', message: `PVC is not bound: PersistentVolume "${volumeName}" is for claim ${ref.namespace ?? 'default'}/${ref.name}` };
      return { kind: 'declared', volume };
    }
    const named = [...volumes.values()].find(claimedBy);
    if (named) return { kind: 'declared', volume: named };
    const className = claim.spec?.storageClassName;
    if (className === '') return { kind: 'pending', message: 'PVC is not bound: it has no StorageClass, and no PersistentVolume names it (claimRef) or is named by it (spec.volumeName)' };
    const classes = this.#declared((objects) => objects.storageClasses);
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

  /** The PersistentVolume a provisioned claim has: its data directory, as a local volume. */
  #provisionedVolume(claim: PersistentVolumeClaim, storageClass: StorageClass): PersistentVolume {
    const namespace = claim.metadata!.namespace!;
    const name = claim.metadata!.name!;
    return {
      apiVersion: 'v1',
      kind: 'PersistentVolume',
      metadata: { name: `pvc-${namespace}-${name}`, annotations: { [ProvisionedByAnnotation]: LocalPathProvisioner } },
      spec: {
        capacity: { storage: String(claim.spec?.resources?.requests?.['storage'] ?? '0') },
        accessModes: claim.spec?.accessModes ?? ['ReadWriteOnce'],
        local: { path: join(this.#o.rootDir.claimDir(namespace, name), DataDir) },
        persistentVolumeReclaimPolicy: storageClass.reclaimPolicy ?? 'Delete',
        storageClassName: storageClass.metadata?.name ?? DefaultStorageClassName,
        volumeMode: claim.spec?.volumeMode ?? 'Filesystem',
        claimRef: { kind: 'PersistentVolumeClaim', namespace, name },
      },
    };
  }

  /** Every claim directory with a record, on disk. */
  async #provisionedDirs(): Promise<Array<{ namespace: string; name: string; dir: string }>> {
    const base = this.#o.rootDir.persistentVolumesDir();
    const found: Array<{ namespace: string; name: string; dir: string }> = [];
    for (const namespace of await readdir(base).catch(() => [] as string[])) {
      for (const name of await readdir(join(base, namespace)).catch(() => [] as string[])) {
        const dir = join(base, namespace, name);
        if (await readRecord(dir)) found.push({ namespace, name, dir });
      }
    }
    return found;
  }
}

/** `claim` as bound to `volume`: its volume name, and the volume's capacity and access modes in its status. */
function boundClaim(claim: PersistentVolumeClaim, volume: PersistentVolume): PersistentVolumeClaim {
  return {
    ...claim,
    spec: { ...claim.spec, volumeName: volume.metadata?.name ?? '' },
    status: { phase: 'Bound', accessModes: volume.spec?.accessModes ?? [], capacity: volume.spec?.capacity ?? {} },
  };
}

/** Gives the records of provisioned claims (those that have one) their classes' current policies. */
async function refreshPolicies(policies: ReadonlyArray<{ dir: string; policy: string }>): Promise<void> {
  for (const { dir, policy } of policies) {
    const record = await readRecord(dir);
    if (!record || record.spec?.persistentVolumeReclaimPolicy === policy) continue;
    await writeRecord(dir, { ...record, spec: { ...record.spec, persistentVolumeReclaimPolicy: policy } });
  }
}

async function readRecord(dir: string): Promise<PersistentVolume | undefined> {
  try {
    return JSON.parse(await readFile(join(dir, RecordFile), 'utf8')) as PersistentVolume;
  } catch {
    return undefined;
  }
}

async function writeRecord(dir: string, volume: PersistentVolume): Promise<void> {
  const current = await readRecord(dir);
  if (JSON.stringify(current) === JSON.stringify(volume)) return;
  await writeFileDurably(join(dir, RecordFile), `${JSON.stringify(volume, null, 2)}\n`);
}
