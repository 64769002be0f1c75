/**
 * A lone host's PersistentVolumeClaims: the claims, PersistentVolumes and StorageClasses that the
 * manifest sources declare beside their pods, bound (claim-binding.ts) and provisioned by the
 * agent itself, as a single-node cluster's PV controller and local-path provisioner would, with no
 * control plane.
 *
 * Provisioning, at the first pod that uses the claim (WaitForFirstConsumer), once every manifest
 * source has been read (a class or a volume for the claim may come from any): a directory
 * <root-dir>/persistent-volumes/<namespace>/<claim>/ holding the volume's record (pv.json, the
 * PersistentVolume as a cluster would have it) and its data (data/, what the pods mount). The
 * record is then the claim's binding and its reclaim policy, as a bound PV is in a cluster:
 * later changes to the manifests' classes or volumes do not move the claim or change the policy
 * (editing pv.json does, as `kubectl patch pv` would). The data is the claim's, by name: it
 * outlives the pods and the agent, and a claim declared again by the same name finds it again.
 *
 * Reclaiming, by the recorded policy (Delete removes the directory, Retain keeps it), only for a
 * claim this agent has seen declared and that no source declares now nor declared in its last
 * whole read (a missing manifest path, or a URL's empty body, is no whole read: what such a source
 * declared before stays), once no pod uses it (the PVC protection's rule) and it
 * has been gone for ReclaimGraceMs, so that a manifest renamed or rewritten in steps keeps its
 * data. A record no manifest declares when the agent starts (a claim removed while it was down)
 * is kept, and said so once. Volumes declared by PersistentVolume documents are the user's: their
 * data is never removed.
 */
import { chmod, lstat, mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { errorMessage } from '../../../common/api/errors.js';
import type { PersistentVolume, PersistentVolumeClaim, StorageClass } from '../../../common/api/types.js';
import { namespacedName } from '../../../common/api/types.js';
import { PendingReasonAnnotation, type PodSource } from '../../../common/api/well-known.js';
import type { Clock } from '../../../common/util/clock.js';
import { writeFileDurably } from '../../../common/util/durable-file.js';
import { canonicalJson } from '../../../common/util/hash.js';
import { removeVolumeDir, VolumeDataMode } from '../../../common/storage/volume-dirs.js';
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
  /** The manifest sources the node reads: no claim is provisioned before each has reported once. */
  sources: readonly PodSource[];
  clock: Clock;
  logger: Logger;
}

export class LocalClaims implements PersistentVolumeClaimSource {
  readonly #o: LocalClaimsOptions;
  readonly #log: Logger;
  readonly #bySource = new Map<PodSource, StorageObjects>();
  /** Claims ("<namespace>/<name>") the sources have declared since the agent started. */
  readonly #everDeclared = new Set<string>();
  /** Each source's claims as its last whole read declared them. */
  readonly #lastWhole = new Map<PodSource, ReadonlySet<string>>();
  /** When each claim declared since the start was found in no source's last whole read, nor declared. */
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
   * manifest path that is missing, nor a URL's empty body). A claim counts as removed once it
   * is declared by no source now and by no source's last whole read.
   */
  set(source: PodSource, objects: StorageObjects, whole: boolean): void {
    const previous = this.#bySource.get(source);
    const next = storageOf(objects);
    this.#bySource.set(source, next);
    if (whole) this.#lastWhole.set(source, new Set(next.persistentVolumeClaims.map(namespacedName)));
    const declared = this.#declared().claims;
    const now = this.#o.clock.now();
    for (const key of declared.keys()) {
      this.#everDeclared.add(key);
      this.#removedAt.delete(key);
      this.#keptLogged.delete(key);
    }
    const lastWhole = [...this.#lastWhole.values()];
    for (const key of this.#everDeclared) {
      if (declared.has(key) || this.#removedAt.has(key) || lastWhole.some((claims) => claims.has(key))) continue;
      this.#removedAt.set(key, now);
    }
    if (!previous || canonicalJson(previous) !== canonicalJson(next)) for (const listener of this.#listeners) listener();
  }

  async resolve(namespace: string, claimName: string): Promise<ClaimResolution> {
    // A class, or a volume naming the claim, may still come from a source not read yet: the first binding is for good.
    const unread = this.#o.sources.filter((source) => !this.#bySource.has(source));
    if (unread.length > 0) return { ok: false, message: `waiting for the manifest sources to be read (${unread.join(', ')})` };
    const declared = this.#declared();
    const claim = declared.claims.get(`${namespace}/${claimName}`);
    if (!claim) return { ok: false, message: `persistentvolumeclaims "${claimName}" not found: declare it in a manifest beside the pod` };
    const dir = this.#o.rootDir.claimDir(namespace, claimName);
    // Records are read, made and removed one at a time: a claim being reclaimed is not resolved half-way.
    return this.#serially(async () => {
      const recorded = await readRecord(dir);
      if (recorded) return { ok: true, volume: recorded, provisioned: isOwnVolume(recorded, dir) };
      const binding = bindClaim(claim, declared);
      if (binding.kind === 'pending') return { ok: false, message: binding.message };
      if (binding.kind === 'declared') return { ok: true, volume: binding.volume };
      return { ok: true, volume: await this.#provision(claim, binding.storageClass, dir), provisioned: true };
    });
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
    const declared = this.#declared().claims;
    for (const { key, dir } of await this.#claimDirs()) {
      // A declared claim's record is not even read: most passes find nothing to do.
      if (declared.has(key)) continue;
      const record = await readRecord(dir);
      if (!record) continue;
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
          if (!this.#declared().claims.has(key)) this.#everDeclared.delete(key);
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

  /** Makes the claim's directory, a level at a time and never through a link, and its data directory and record. */
  async #provision(claim: PersistentVolumeClaim, storageClass: StorageClass, dir: string): Promise<PersistentVolume> {
    const base = this.#o.rootDir.persistentVolumesDir();
    await mkdir(base, { recursive: true, mode: 0o755 });
    await makeRealDir(join(base, claim.metadata!.namespace!), 0o755);
    await makeRealDir(dir, 0o755);
    await makeRealDir(join(dir, DataDir), VolumeDataMode);
    const volume = provisionedVolume(claim, storageClass, join(dir, DataDir));
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

  /** Every claim directory on disk ("<namespace>/<name>"); those with a record are provisioned claims. */
  async #claimDirs(): Promise<Array<{ key: string; dir: string }>> {
    const base = this.#o.rootDir.persistentVolumesDir();
    const found: Array<{ key: string; dir: string }> = [];
    for (const namespace of await readdir(base).catch(() => [] as string[])) {
      for (const name of await readdir(join(base, namespace)).catch(() => [] as string[])) found.push({ key: `${namespace}/${name}`, dir: join(base, namespace, name) });
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

/** A directory made here (mode `mode` whatever the umask) or found here: never a link, which could lead anywhere. */
async function makeRealDir(path: string, mode: number): Promise<void> {
  const made = await mkdir(path, { mode }).then(
    () => true,
    (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err;
      return false;
    },
  );
  const info = await lstat(path);
  if (info.isSymbolicLink() || !info.isDirectory()) throw new Error(`${path} is ${info.isSymbolicLink() ? 'a symbolic link' : 'not a directory'}: a claim's directories are made by dockerlet alone; remove it, then the claim is provisioned again`);
  if (made) await chmod(path, mode);
}

/** Whether `record` is still the volume dockerlet provisioned for the claim in `dir` (its path not edited elsewhere). */
const isOwnVolume = (record: PersistentVolume, dir: string): boolean => record.spec?.local?.path === join(dir, DataDir);

async function readRecord(dir: string): Promise<PersistentVolume | undefined> {
  try {
    return JSON.parse(await readFile(join(dir, RecordFile), 'utf8')) as PersistentVolume;
  } catch {
    return undefined;
  }
}
