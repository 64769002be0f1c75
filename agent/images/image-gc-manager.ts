/**
 * Image garbage collection as the kubelet's image GC manager does it (pkg/kubelet/images
 * image_gc_manager.go). Every period it notes which images containers use (any container on
 * the engine, running or not) and when it first saw each image. When the image fs is used past
 * highThresholdPercent, unused images go, least recently used first (never used before used,
 * then the earliest seen), skipping the sandbox image and any seen less than minimumAge ago,
 * until their sizes add up to what brings the use down to lowThresholdPercent. With a
 * maximumAge, an image unused for longer goes whatever the use. The node's events say what
 * could not be freed (FreeDiskSpaceFailed) and that a pass failed (ImageGCFailed), as upstream's;
 * each image removed is an ImageGarbageCollected event, dockerlet's own.
 *
 * The first-seen and last-used times live in memory, as upstream's do: after a restart every
 * image counts as new, so minimumAge protects them all for a while.
 */
import type { Logger } from 'pino';
import { errorMessage } from '../../common/api/errors.js';
import type { Clock } from '../../common/util/clock.js';
import { fsInfo, type FsInfo } from '../../common/util/fs-usage.js';
import type { EventRecorder, InvolvedObject } from '../events/recorder.js';
import type { ContainerRuntime, RuntimeImage } from '../runtime/runtime.js';

export interface ImageGCPolicy {
  /** Use of the image fs, in percent, at which collection starts (imageGCHighThresholdPercent); 100 never starts it. */
  highThresholdPercent: number;
  /** The use, in percent, collection brings it down to (imageGCLowThresholdPercent). */
  lowThresholdPercent: number;
  /** An image seen more recently than this is kept (imageMinimumGCAge). */
  minimumAgeMs: number;
  /** An image unused for longer than this is removed whatever the use (imageMaximumGCAge); 0 never. */
  maximumAgeMs: number;
}

export interface ImageGCManagerOptions {
  runtime: Pick<ContainerRuntime, 'listImages' | 'imagesInUse' | 'removeImage' | 'imageFsPath' | 'imageStatus'>;
  policy: ImageGCPolicy;
  /** The sandbox (pause) image: never removed. */
  sandboxImage: string;
  /** How often images are looked at and collected (the kubelet's ImageGCPeriod). */
  periodMs: number;
  recorder: EventRecorder;
  node: InvolvedObject;
  clock: Clock;
  logger: Logger;
  /** The image fs's figures; statfs of the runtime's image fs path unless a test gives its own. */
  fsInfo?: (path: string) => Promise<FsInfo>;
}

interface ImageRecord {
  firstDetected: number;
  /** When a container last used it; 0 for never. */
  lastUsed: number;
  image: RuntimeImage;
}

/** What one removal pass did. */
export interface FreedSpace {
  freedBytes: number;
  removed: RuntimeImage[];
}

const MiB = 1024 * 1024;
const mebibytes = (bytes: number): string => `${(bytes / MiB).toFixed(1)} MiB`;
const imageName = (image: RuntimeImage): string => image.repoTags[0] ?? image.id;

export class ImageGCManager {
  readonly #o: ImageGCManagerOptions;
  readonly #log: Logger;
  readonly #records = new Map<string, ImageRecord>();
  readonly #fsInfo: (path: string) => Promise<FsInfo>;
  #timer: NodeJS.Timeout | undefined;
  /** The last pass: collection and a reclaim never run at once. */
  #running: Promise<unknown> = Promise.resolve();
  #busy = false;

  constructor(options: ImageGCManagerOptions) {
    this.#o = options;
    this.#log = options.logger.child({ component: 'image-gc' });
    this.#fsInfo = options.fsInfo ?? fsInfo;
  }

  /** Notes the images there are now, then collects every period; a tick while a pass runs is skipped. */
  start(): void {
    this.#running = this.#detectImages(this.#o.clock.now()).catch((err: unknown) => this.#failed(err));
    this.#timer = setInterval(() => {
      if (this.#busy) return;
      void this.garbageCollect().catch((err: unknown) => this.#failed(err));
    }, this.#o.periodMs);
    this.#timer.unref();
  }

  /** Stops collecting; resolves once the pass under way, if any, is over. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#running;
  }

  /** The image fs's figures, with the images' total size as its used bytes (the Summary API's imageFs). */
  async imageFsStats(): Promise<FsInfo> {
    const [fs, images] = await Promise.all([this.#fsInfo(this.#o.runtime.imageFsPath()), this.#o.runtime.listImages()]);
    return { ...fs, usedBytes: images.reduce((sum, image) => sum + image.sizeBytes, 0) };
  }

  /** One collection: images past maximumAge, then, over the high threshold, down to the low one. */
  garbageCollect(): Promise<void> {
    return this.#serially(async () => {
      const now = this.#o.clock.now();
      if (this.#o.policy.maximumAgeMs > 0) await this.#freeOldImages(now);
      const { highThresholdPercent, lowThresholdPercent } = this.#o.policy;
      if (highThresholdPercent >= 100) {
        await this.#detectImages(now);
        return;
      }
      const fs = await this.#fsInfo(this.#o.runtime.imageFsPath());
      const capacity = fs.capacityBytes;
      const available = Math.min(fs.availableBytes, capacity);
      if (capacity === 0) throw new Error(`the image fs at ${this.#o.runtime.imageFsPath()} reports a capacity of 0`);
      const usagePercent = 100 - Math.trunc((available * 100) / capacity);
      if (usagePercent < highThresholdPercent) {
        await this.#detectImages(now);
        return;
      }
      const toFree = Math.trunc((capacity * (100 - lowThresholdPercent)) / 100) - available;
      this.#log.info({ usagePercent, highThresholdPercent, lowThresholdPercent, bytesToFree: toFree }, 'image fs over the high threshold: removing unused images');
      const freed = await this.#freeSpace(toFree, now, `the image fs was ${usagePercent}% used, over imageGCHighThresholdPercent`);
      if (freed.freedBytes < toFree) {
        const message = `Failed to garbage collect required amount of images. Attempted to free ${toFree} bytes, but only found ${freed.freedBytes} bytes eligible to free.`;
        this.#o.recorder.event(this.#o.node, 'Warning', 'FreeDiskSpaceFailed', message);
        this.#log.warn({ bytesToFree: toFree, freedBytes: freed.freedBytes }, message);
      }
    });
  }

  /** Removes every unused image old enough, whatever the use (for eviction's reclaim of the image fs). */
  deleteUnusedImages(): Promise<FreedSpace> {
    return this.#serially(() => this.#freeSpace(Number.POSITIVE_INFINITY, this.#o.clock.now(), 'the node was short of disk space'));
  }

  #serially<T>(pass: () => Promise<T>): Promise<T> {
    const run = async (): Promise<T> => {
      this.#busy = true;
      try {
        return await pass();
      } finally {
        this.#busy = false;
      }
    };
    const next = this.#running.then(run, run);
    this.#running = next.catch(() => undefined);
    return next;
  }

  /** Notes the images there are and those in use now; returns the IDs in use. */
  async #detectImages(detectedAt: number): Promise<Set<string>> {
    const [images, inUse] = await Promise.all([this.#o.runtime.listImages(), this.#o.runtime.imagesInUse()]);
    const seen = new Set<string>();
    for (const image of images) {
      seen.add(image.id);
      const record = this.#records.get(image.id) ?? { firstDetected: detectedAt, lastUsed: 0, image };
      record.image = image;
      if (inUse.has(image.id)) record.lastUsed = detectedAt;
      this.#records.set(image.id, record);
    }
    for (const id of this.#records.keys()) if (!seen.has(id)) this.#records.delete(id);
    this.#log.debug({ images: seen.size, inUse: [...inUse] }, 'noted the images and those in use');
    return inUse;
  }

  /** Unused images, least recently used first, removed until their sizes reach `bytesToFree`. */
  async #freeSpace(bytesToFree: number, freeTime: number, why: string): Promise<FreedSpace> {
    const freed: FreedSpace = { freedBytes: 0, removed: [] };
    for (const record of await this.#evictionOrder(freeTime)) {
      if (freeTime - record.firstDetected < this.#o.policy.minimumAgeMs) continue;
      if (await this.#remove(record, why)) {
        freed.freedBytes += record.image.sizeBytes;
        freed.removed.push(record.image);
      }
      if (freed.freedBytes >= bytesToFree) break;
    }
    return freed;
  }

  async #freeOldImages(now: number): Promise<void> {
    for (const record of await this.#evictionOrder(now)) {
      // An image never used counts from when it was first seen.
      const unusedFor = now - (record.lastUsed || record.firstDetected);
      if (unusedFor > this.#o.policy.maximumAgeMs) await this.#remove(record, 'unused for longer than imageMaximumGCAge');
    }
  }

  /** The images that may go, after noting the images now: unused, not the sandbox's, least recently used first. */
  async #evictionOrder(detectedAt: number): Promise<ImageRecord[]> {
    const inUse = await this.#detectImages(detectedAt);
    // Not knowing the sandbox image's ID, nothing is removed: it must never be.
    const pinned = (await this.#o.runtime.imageStatus(this.#o.sandboxImage))?.id;
    return [...this.#records.values()]
      .filter((record) => !inUse.has(record.image.id) && record.image.id !== pinned)
      .sort((a, b) => a.lastUsed - b.lastUsed || a.firstDetected - b.firstDetected);
  }

  async #remove(record: ImageRecord, why: string): Promise<boolean> {
    const { image } = record;
    try {
      await this.#o.runtime.removeImage(image.id);
    } catch (err) {
      this.#log.warn({ imageID: image.id, image: imageName(image), err: errorMessage(err) }, 'removing an unused image failed');
      return false;
    }
    this.#records.delete(image.id);
    const message = `Removed unused image ${imageName(image)} (${image.id}, ${mebibytes(image.sizeBytes)}): ${why}`;
    this.#o.recorder.event(this.#o.node, 'Normal', 'ImageGarbageCollected', message);
    this.#log.info({ imageID: image.id, image: imageName(image), sizeBytes: image.sizeBytes, reason: why }, 'removed unused image');
    return true;
  }

  #failed(err: unknown): void {
    const message = `image garbage collection failed: ${errorMessage(err)}`;
    this.#o.recorder.event(this.#o.node, 'Warning', 'ImageGCFailed', message);
    this.#log.warn({ err: errorMessage(err) }, 'image garbage collection failed');
  }
}
