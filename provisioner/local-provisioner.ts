/**
 * The local provisioner (provisioner name dockerlet.io/local-path): a controller of its own,
 * beside a dockerlet node, that gives claims of its StorageClasses `local` PersistentVolumes on
 * directories of that node, and deletes them when they are Released with policy Delete (see
 * provisioned-volume.ts for the rules). It watches claims, volumes and StorageClasses, and acts
 * on the whole picture after each change, one pass at a time, posting the Events an external
 * provisioner posts: Provisioning, ProvisioningSucceeded and ProvisioningFailed on the claim,
 * VolumeFailedDelete on a volume. A failed claim or volume is tried again after a backoff (1 s,
 * doubling to 5 min). Its credentials need the bootstrap role system:persistent-volume-provisioner.
 */
import type { Logger } from 'pino';
import { errorMessage } from '../common/api/errors.js';
import type { PersistentVolume, PersistentVolumeClaim, StorageClass } from '../common/api/types.js';
import { LocalPathProvisioner } from '../common/api/well-known.js';
import { deleteNowOptions, isApiConflict, isApiNotFound, type KubeApi } from '../common/kube-api/kube-client.js';
import { Reflector } from '../common/kube-api/reflector.js';
import { Backoff } from '../common/util/backoff.js';
import { monotonicClock, systemClock, type Clock } from '../common/util/clock.js';
import { CoalescingRunner } from '../common/util/coalescing-runner.js';
import { makeVolumeDir, removeVolumeDir } from '../common/storage/volume-dirs.js';
import { classToProvision, isProvisionedOn, isToDelete, provisionedVolume, volumeDirFor, volumeNameFor } from './provisioned-volume.js';

export interface LocalProvisionerOptions {
  client: KubeApi;
  /** The node whose directories it provisions: claims the scheduler put there, volumes pinned to it. */
  nodeName: string;
  /** Where on the node the volumes' directories are made. */
  path: string;
  logger: Logger;
  clock?: Clock;
}

const RetryInitialMs = 1_000;
const RetryMaxMs = 5 * 60_000;

export class LocalProvisioner {
  readonly #o: LocalProvisionerOptions;
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly #claims: Reflector<PersistentVolumeClaim>;
  readonly #volumes: Reflector<PersistentVolume>;
  readonly #classes: Reflector<StorageClass>;
  readonly #seen = { claims: [] as PersistentVolumeClaim[], volumes: [] as PersistentVolume[], classes: new Map<string, StorageClass>() };
  readonly #pass = new CoalescingRunner(() => this.#reconcile());
  readonly #backoff: Backoff;
  /** When each failed claim or volume (by UID) last failed. */
  readonly #failedAt = new Map<string, number>();
  /** Volumes this process has created: a pass before the watch shows one must not make it again. */
  readonly #made = new Set<string>();
  #retry: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(options: LocalProvisionerOptions) {
    this.#o = options;
    this.#log = options.logger.child({ component: 'local-provisioner', node: options.nodeName });
    this.#clock = options.clock ?? systemClock;
    this.#backoff = new Backoff({ initialMs: RetryInitialMs, maxMs: RetryMaxMs, clock: this.#clock, monotonic: monotonicClock });
    const reflector = <T extends { metadata?: { name?: string } }>(path: string, keep: (objects: T[]) => void): Reflector<T> =>
      new Reflector<T>({
        client: options.client,
        path,
        onSync: (objects) => {
          keep(objects);
          void this.#pass.run();
        },
        logger: this.#log.child({ watching: path }),
      });
    this.#claims = reflector<PersistentVolumeClaim>('/api/v1/persistentvolumeclaims', (claims) => (this.#seen.claims = claims));
    this.#volumes = reflector<PersistentVolume>('/api/v1/persistentvolumes', (volumes) => (this.#seen.volumes = volumes));
    this.#classes = reflector<StorageClass>('/apis/storage.k8s.io/v1/storageclasses', (classes) => (this.#seen.classes = new Map(classes.map((c) => [c.metadata?.name ?? '', c]))));
  }

  /** Starts watching; resolves once claims, volumes and classes have all been listed once. */
  async start(): Promise<void> {
    for (const reflector of [this.#claims, this.#volumes, this.#classes]) reflector.start();
    await Promise.all([this.#claims.synced(), this.#volumes.synced(), this.#classes.synced()]);
    this.#log.info({ path: this.#o.path }, `provisioning ${LocalPathProvisioner} volumes`);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#retry);
    await Promise.all([this.#claims.stop(), this.#volumes.stop(), this.#classes.stop()]);
    this.#pass.stop();
  }

  async #reconcile(): Promise<void> {
    if (this.#stopped) return;
    const existing = new Set([...this.#made, ...this.#seen.volumes.map((volume) => volume.metadata?.name)]);
    let nextRetryMs = Infinity;
    /** Whether `uid` failed lately and still waits out its backoff (the next pass is then due when the first of them may go). */
    const waiting = (uid: string): boolean => {
      const remaining = this.#remainingBackoff(uid);
      nextRetryMs = Math.min(nextRetryMs, remaining || Infinity);
      return remaining > 0;
    };
    for (const claim of this.#seen.claims) {
      const storageClass = classToProvision(claim, this.#seen.classes, this.#o.nodeName);
      if (!storageClass || existing.has(volumeNameFor(claim)) || waiting(claim.metadata?.uid ?? '')) continue;
      await this.#provision(claim, storageClass);
    }
    for (const volume of this.#seen.volumes) {
      if (!isToDelete(volume, this.#o.nodeName) || waiting(volume.metadata?.uid ?? '')) continue;
      await this.#delete(volume);
    }
    clearTimeout(this.#retry);
    if (nextRetryMs !== Infinity && !this.#stopped) this.#retry = setTimeout(() => void this.#pass.run(), nextRetryMs);
  }

  async #provision(claim: PersistentVolumeClaim, storageClass: StorageClass): Promise<void> {
    const claimName = `${claim.metadata?.namespace}/${claim.metadata?.name}`;
    const dir = volumeDirFor(this.#o.path, claim);
    await this.#event('PersistentVolumeClaim', claim, 'Normal', 'Provisioning', `External provisioner is provisioning volume for claim "${claimName}"`);
    try {
      await makeVolumeDir(dir);
      await this.#o.client.create('/api/v1/persistentvolumes', provisionedVolume(claim, storageClass, this.#o.nodeName, dir));
    } catch (err) {
      // The volume is there already: this provisioner's own (made by a pass before the watch
      // showed it), or, for an Immediate claim, another node's, whose directory here is not needed.
      if (isApiConflict(err)) {
        const made = await this.#o.client.get<PersistentVolume>(`/api/v1/persistentvolumes/${volumeNameFor(claim)}`).catch(() => undefined);
        if (made && !isProvisionedOn(made, this.#o.nodeName)) await removeVolumeDir(this.#o.path, dir).catch(() => undefined);
        return;
      }
      this.#failed(claim.metadata?.uid ?? '');
      this.#log.warn({ claim: claimName, err: errorMessage(err) }, 'provisioning failed; will retry');
      await this.#event('PersistentVolumeClaim', claim, 'Warning', 'ProvisioningFailed', `failed to provision volume with StorageClass "${storageClass.metadata?.name}": ${errorMessage(err)}`);
      return;
    }
    this.#made.add(volumeNameFor(claim));
    this.#succeeded(claim.metadata?.uid ?? '');
    this.#log.info({ claim: claimName, volume: volumeNameFor(claim), path: dir }, 'provisioned a volume');
    await this.#event('PersistentVolumeClaim', claim, 'Normal', 'ProvisioningSucceeded', `Successfully provisioned volume ${volumeNameFor(claim)}`);
  }

  async #delete(volume: PersistentVolume): Promise<void> {
    const name = volume.metadata?.name ?? '';
    const path = volume.spec!.local!.path;
    try {
      await removeVolumeDir(this.#o.path, path);
      await this.#o.client.delete(`/api/v1/persistentvolumes/${encodeURIComponent(name)}`, deleteNowOptions(volume.metadata?.uid));
    } catch (err) {
      if (isApiNotFound(err)) return;
      this.#failed(volume.metadata?.uid ?? '');
      this.#log.warn({ volume: name, path, err: errorMessage(err) }, 'deleting a released volume failed; will retry');
      await this.#event('PersistentVolume', volume, 'Warning', 'VolumeFailedDelete', errorMessage(err));
      return;
    }
    this.#succeeded(volume.metadata?.uid ?? '');
    this.#log.info({ volume: name, path }, 'deleted a released volume and its data (reclaim policy Delete)');
  }

  /** How long `uid`, which failed lately, must still wait; 0 when it may go. */
  #remainingBackoff(uid: string): number {
    const failedAt = this.#failedAt.get(uid);
    return failedAt === undefined ? 0 : this.#backoff.remaining(uid, failedAt);
  }

  #succeeded(uid: string): void {
    this.#backoff.reset(uid);
    this.#failedAt.delete(uid);
  }

  #failed(uid: string): void {
    const now = this.#clock.now();
    this.#backoff.next(uid, now);
    this.#failedAt.set(uid, now);
    void this.#pass.run();
  }

  /** An Event on `object` (in the claim's namespace; a volume's in default, as for any cluster-scoped object); one that cannot be posted is only logged. */
  async #event(kind: 'PersistentVolumeClaim' | 'PersistentVolume', object: PersistentVolumeClaim | PersistentVolume, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    const namespace = object.metadata?.namespace || 'default';
    const now = new Date(this.#clock.now()).toISOString();
    const event = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { generateName: `${object.metadata?.name ?? 'object'}.`, namespace },
      involvedObject: {
        apiVersion: 'v1',
        kind,
        ...(object.metadata?.namespace ? { namespace: object.metadata.namespace } : {}),
        name: object.metadata?.name ?? '',
        uid: object.metadata?.uid ?? '',
        resourceVersion: object.metadata?.resourceVersion ?? '',
      },
      type,
      reason,
      message,
      source: { component: `${LocalPathProvisioner}_${this.#o.nodeName}` },
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
    };
    await this.#o.client.create(`/api/v1/namespaces/${encodeURIComponent(namespace)}/events`, event).catch((err: unknown) => this.#log.warn({ reason, err: errorMessage(err) }, 'posting an event failed'));
  }
}
