/**
 * A lone host's PersistentVolumeClaims: the claims, PersistentVolumes and StorageClasses that the
 * manifest sources declare beside their pods, bound (claim-binding.ts) and provisioned by the
 * agent itself, as a single-node cluster's PV controller and local-path provisioner would, with no
 * control plane.
 *
 * Provisioning, at the first pod that uses the claim (WaitForFirstConsumer): a directory
 * <root-dir>/persistent-volumes/<namespace>/<claim>/ holding the volume's record (pv.json, the
 * PersistentVolume as a cluster would have it) and its data (data/, what the pods mount). The
 * record is then the claim's binding and its reclaim policy, as a bound PV is in a cluster:
 * later changes to the manifests' classes or volumes do not move the claim or change the policy
 * (editing pv.json does, as `kubectl patch pv` would). The data is the claim's, by name: it
 * outlives the pods and the agent, and a claim declared again by the same name finds it again.
 *
 * Reclaiming, by the recorded policy (Delete removes the directory, Retain keeps it), only for a
 * claim this agent has seen declared and then seen gone from a whole read of the sources (a
 * missing manifest path is no such read), once no pod uses it (the PVC protection's rule) and it
 * has been gone for ReclaimGraceMs, so that a manifest renamed or rewritten in steps keeps its
 * data. A record no manifest declares when the agent starts (a claim removed while it was down)
 * is kept, and said so once. Volumes declared by PersistentVolume documents are the user's: their
 * data is never removed.
 */
import { lstat, mkdir, readdir, readFile, realpath } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { errorMessage } from '../../../common/api/errors.js';
import type { PersistentVolume, PersistentVolumeClaim, StorageClass } from '../../../common/api/types.js';
import { namespacedName } from '../../../common/api/types.js';
import { PendingReasonAnnotation, type PodSource } from '../../../common/api/well-known.js';
import type { Clock } from '../../../common/util/clock.js';
import { writeFileDurably } from '../../../common/util/durable-file.js';
import { canonicalJson } from '../../../common/util/hash.js';
import { makeVolumeDir, removeVolumeDir } from '../../../common/storage/volume-dirs.js';
import type { ManifestObjects } from '../../config/read-manifest.js';
import type { ClaimResolution, PersistentVolumeClaimSource } from '../plugins/volume-plugin.js';
import type { RootDir } from '../root-dir.js';
import { bindClaim, provisionedVolume, type DeclaredStorage } from './claim-binding.js';

/** How long a provisioned claim must have been gone from the manifests before its data is reclaimed. */
export const ReclaimGraceMs = 10_000;

const RecordFile = 'pv.json';
const DataDir = 'data';

export type StorageObjects = Pick<ManifestObjects, 'persistentVolumeClaims' | 'persistentVolumes' | 'storageClasses'>;

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
  /** Claims ("<namespace>/<name>") the sources have declared since the agent started. */
  readonly #everDeclared = new Set<string>();
  /** When each of those was found gone from a whole read of the sources. */
  readonly #removedAt = new Map<string, number>();
  /** Claims whose kept data has been reported, so that each is logged once. */
  readonly #keptLogged = new Set<string>();
  /** Directories are made and removed one at a time. */
  #queue: Promise<void> = Promise.resolve();
  readonly #listeners: Array<() => void> = [];

  constructor(options: LocalClaimsOptions) {
    this.#o = options;
    this.#log = options.logger.child({ component: 'local-claims' });
  }

  /** Called when a source's storage objects change: pods waiting for a claim may go on. */
  onChange(listener: () => void): void {
    this.#listeners.push(listener);
  }

  /**
   * Replaces `source`'s storage objects. `whole`: the source read everything it has (not a
   * manifest path that is missing), so that a claim it no longer declares counts as removed.
   */
  set(source: PodSource, objects: StorageObjects, whole: boolean): void {
    const previous = this.#bySource.get(source);
    const next = storageOf(objects);
    this.#bySource.set(source, next);
    const declared = this.#declared().claims;
    const now = this.#o.clock.now();
    for (const key of declared.keys()) {
      this.#everDeclared.add(key);
      this.#removedAt.delete(key);
      this.#keptLogged.delete(key);
    }
    if (whole) for (const key of this.#everDeclared) if (!declared.has(key) && !this.#removedAt.has(key)) this.#removedAt.set(key, now);
    if (!previous || canonicalJson(previous) !== canonicalJson(next)) for (const listener of this.#listeners) listener();
  }

  async resolve(namespace: string, claimName: string): Promise<ClaimResolution> {
    const declared = this.#declared();
    const claim = declared.claims.get(`${namespace}/${claimName}`);
    if (!claim) return { ok: false, message: `persistentvolumeclaims "${claimName}" not found: declare it in a manifest beside the pod` };
    const dir = this.#o.rootDir.claimDir(namespace, claimName);
    const recorded = await readRecord(dir);
    if (recorded) return { ok: true, volume: recorded, provisioned: true };
    const binding = bindClaim(claim, declared);
    if (binding.kind === 'pending') return { ok: false, message: binding.message };
    if (binding.kind === 'declared') return { ok: true, volume: binding.volume };
    const volume = await this.#serially(() => this.#provision(claim, binding.storageClass, dir));
    return { ok: true, volume, provisioned: true };
  }

  /** The declared claims as a cluster would show them: Bound with their volume, or Pending with why (in an annotation). */
  async list(): Promise<PersistentVolumeClaim[]> {
    const declared = this.#declared();
    const claims: PersistentVolumeClaim[] = [];
    for (const claim of declared.claims.values()) {
      const recorded = await readRecord(this.#o.rootDir.claimDir(claim.metadata!.namespace!, claim.metadata!.name!));
      const binding = recorded ? undefined : bindClaim(claim, declared);
      const volume = recorded ?? (binding?.kind === 'declared' ? binding.volume : undefined);
      if (volume) {
        claims.push(boundClaim(claim, volume));
        continue;
      }
      const reason = binding?.kind === 'pending' ? binding.message : 'waiting for first consumer to be created before binding';
      claims.push({ ...claim, metadata: { ...claim.metadata, annotations: { ...claim.metadata?.annotations, [PendingReasonAnnotation]: reason } }, status: { phase: 'Pending' } });
    }
    return claims;
  }

  /**
   * Reclaims what provisioned claims removed from the manifests left, by their recorded policy,
   * once `inUse` (claims "<namespace>/<name>" some pod may still use) leaves them out and they
   * have been gone for ReclaimGraceMs. The caller has every source read.
   */
  async reclaim(inUse: ReadonlySet<string>): Promise<void> {
    const now = this.#o.clock.now();
    for (const { key, dir, record } of await this.#provisioned()) {
      if (this.#declared().claims.has(key)) continue;
      const removedAt = this.#removedAt.get(key);
      if (removedAt === undefined) {
        this.#keptOnce(key, dir, 'no manifest declares the claim since the agent started; its data is kept: declare the claim to use it again, or remove the directory');
        continue;
      }
      if (inUse.has(key) || now - removedAt < ReclaimGraceMs) continue;
      if (record.spec?.persistentVolumeReclaimPolicy !== 'Delete') {
        this.#keptOnce(key, dir, 'the claim is no longer declared; its data is kept (reclaim policy Retain): declaring it again brings it back');
        continue;
      }
      await this.#serially(async () => {
        // Declared again while this pass ran: its data stays.
        if (this.#declared().claims.has(key)) return;
        try {
          await removeVolumeDir(this.#o.rootDir.persistentVolumesDir(), dir);
          this.#removedAt.delete(key);
          this.#everDeclared.delete(key);
          this.#log.info({ claim: key, path: dir }, 'the claim is no longer declared; its data is deleted (reclaim policy Delete)');
        } catch (err) {
          this.#log.warn({ claim: key, path: dir, err: errorMessage(err) }, 'deleting the data of a claim no longer declared failed; will retry');
        }
      });
    }
  }

  #keptOnce(key: string, dir: string, message: string): void {
    if (this.#keptLogged.has(key)) return;
    this.#keptLogged.add(key);
    this.#log.info({ claim: key, path: join(dir, DataDir) }, message);
  }

  #serially<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(task);
    this.#queue = run.then(() => undefined, () => undefined);
    return run;
  }

  /** Makes the claim's directory (refusing one that leads elsewhere through a link) and its record, unless a pod of the claim got there first. */
  async #provision(claim: PersistentVolumeClaim, storageClass: StorageClass, dir: string): Promise<PersistentVolume> {
    const recorded = await readRecord(dir);
    if (recorded) return recorded;
    const base = this.#o.rootDir.persistentVolumesDir();
    await mkdir(dir, { recursive: true, mode: 0o755 });
    const expected = join(await realpath(base), claim.metadata!.namespace!, claim.metadata!.name!);
    if ((await realpath(dir)) !== expected || (await lstat(join(dir, DataDir)).catch(() => undefined))?.isSymbolicLink()) {
      throw new Error(`${dir} leads outside ${base} through a symbolic link: remove it, then the claim is provisioned again`);
    }
    const volume = provisionedVolume(claim, storageClass, join(dir, DataDir));
    await makeVolumeDir(join(dir, DataDir));
    await writeFileDurably(join(dir, RecordFile), `${JSON.stringify(volume, null, 2)}\n`);
    this.#log.info({ claim: namespacedName(claim), path: join(dir, DataDir), reclaimPolicy: volume.spec!.persistentVolumeReclaimPolicy }, 'provisioned a volume for the claim');
    return volume;
  }

  /** What the sources declare, the first source's first. */
  #declared(): DeclaredStorage {
    const claims = new Map<string, PersistentVolumeClaim>();
    const volumes = new Map<string, PersistentVolume>();
    const classes = new Map<string, StorageClass>();
    for (const objects of this.#bySource.values()) {
      for (const claim of objects.persistentVolumeClaims) if (!claims.has(namespacedName(claim))) claims.set(namespacedName(claim), claim);
      for (const volume of objects.persistentVolumes) if (!volumes.has(volume.metadata?.name ?? '')) volumes.set(volume.metadata?.name ?? '', volume);
      for (const storageClass of objects.storageClasses) if (!classes.has(storageClass.metadata?.name ?? '')) classes.set(storageClass.metadata?.name ?? '', storageClass);
    }
    return { claims, volumes, classes };
  }

  /** Every claim directory with a record, on disk. */
  async #provisioned(): Promise<Array<{ key: string; dir: string; record: PersistentVolume }>> {
    const base = this.#o.rootDir.persistentVolumesDir();
    const found: Array<{ key: string; dir: string; record: PersistentVolume }> = [];
    for (const namespace of await readdir(base).catch(() => [] as string[])) {
      for (const name of await readdir(join(base, namespace)).catch(() => [] as string[])) {
        const dir = join(base, namespace, name);
        const record = await readRecord(dir);
        if (record) found.push({ key: `${namespace}/${name}`, dir, record });
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

async function readRecord(dir: string): Promise<PersistentVolume | undefined> {
  try {
    return JSON.parse(await readFile(join(dir, RecordFile), 'utf8')) as PersistentVolume;
  } catch {
    return undefined;
  }
}
