import { pino } from 'pino';
import { beforeEach, describe, expect, test } from 'vitest';
import type { FsInfo } from '../../../../common/util/fs-usage.js';
import { ImageGCManager, type ImageGCPolicy } from '../../../../agent/images/image-gc-manager.js';
import type { ImageInfo, RuntimeImage } from '../../../../agent/runtime/runtime.js';
import { FakeRecorder } from '../../fixtures.js';

const MiB = 1024 * 1024;
const Minute = 60_000;
const Capacity = 1000 * MiB;

/** An engine whose images take space on a 1000 MiB image fs, and whose containers use some of them. */
class FakeEngine {
  images = new Map<string, RuntimeImage>();
  inUse = new Set<string>();
  /** Space used besides the images. */
  otherBytes = 0;
  removed: string[] = [];
  refuse = new Set<string>();

  add(name: string, sizeMiB: number): void {
    this.images.set(`sha256:${name}`, { id: `sha256:${name}`, repoTags: [`example.com/${name}:1`], sizeBytes: sizeMiB * MiB });
  }

  used(): number {
    return this.otherBytes + [...this.images.values()].reduce((sum, image) => sum + image.sizeBytes, 0);
  }

  readonly runtime = {
    listImages: async (): Promise<RuntimeImage[]> => [...this.images.values()],
    imagesInUse: async (): Promise<Set<string>> => new Set(this.inUse),
    removeImage: async (id: string): Promise<void> => {
      if (this.refuse.has(id)) throw new Error('conflict: a container uses it');
      this.images.delete(id);
      this.removed.push(id.replace('sha256:', ''));
    },
    imageFsPath: (): string => '/var/lib/docker',
    imageStatus: async (image: string): Promise<ImageInfo | undefined> => (image === 'example.com/pause:1' ? { id: 'sha256:pause', ref: 'sha256:pause', user: '' } : undefined),
  };

  fsInfo = async (): Promise<FsInfo> => {
    const used = this.used();
    return { capacityBytes: Capacity, availableBytes: Capacity - used, usedBytes: used, inodes: 100, inodesFree: 50, inodesUsed: 50 };
  };
}

let engine: FakeEngine;
let recorder: FakeRecorder;
let now: number;

beforeEach(() => {
  engine = new FakeEngine();
  recorder = new FakeRecorder();
  now = Date.parse('2026-12-03T10:00:00Z');
});

const Defaults: ImageGCPolicy = { highThresholdPercent: 85, lowThresholdPercent: 80, minimumAgeMs: 2 * Minute, maximumAgeMs: 0 };

function manager(policy: Partial<ImageGCPolicy> = {}): ImageGCManager {
  return new ImageGCManager({
    runtime: engine.runtime,
    policy: { ...Defaults, ...policy },
    sandboxImage: 'example.com/pause:1',
    periodMs: 5 * Minute,
    recorder,
    node: { kind: 'Node', name: 'node-a', uid: 'node-a' },
    clock: { now: () => now },
    logger: pino({ level: 'silent' }),
    fsInfo: engine.fsInfo,
  });
}

/** Images a..d of 100 MiB each and the 1 MiB pause image, with `otherMiB` of other data. */
function fourImages(otherMiB: number): void {
  for (const name of ['a', 'b', 'c', 'd']) engine.add(name, 100);
  engine.add('pause', 1);
  engine.otherBytes = otherMiB * MiB;
}

describe('ImageGCManager.garbageCollect', () => {
  test('under the high threshold nothing is removed', async () => {
    fourImages(400); // 801 MiB: 81 % used
    const gc = manager();
    await gc.garbageCollect();
    now += 10 * Minute;
    await gc.garbageCollect();
    expect(engine.removed).toEqual([]);
  });

  test('over it, unused images go least recently used first until the use is down to the low threshold; in-use and pause images stay', async () => {
    fourImages(300); // 701 MiB: 71 % used
    const gc = manager();
    engine.inUse = new Set(['sha256:a', 'sha256:b', 'sha256:c']);
    await gc.garbageCollect(); // all first seen; all but d in use
    now += 3 * Minute;
    engine.inUse = new Set(['sha256:b', 'sha256:c']);
    await gc.garbageCollect(); // a last used 3 minutes ago; b and c now
    now += 3 * Minute;
    engine.inUse = new Set(['sha256:c']);
    engine.otherBytes = 460 * MiB; // 861 MiB: 87 % used, 61 MiB to free to get to 80 %
    await gc.garbageCollect();
    // d, never used, goes first, and frees enough.
    expect(engine.removed).toEqual(['d']);
    engine.otherBytes += 200 * MiB; // 961 MiB: 161 MiB to free
    now += Minute;
    await gc.garbageCollect();
    // Then a, last used the longest ago, then b; c is in use, pause is the sandbox's.
    expect(engine.removed).toEqual(['d', 'a', 'b']);
    expect([...engine.images.keys()]).toEqual(['sha256:c', 'sha256:pause']);
    expect(recorder.events.map((e) => [e.type, e.reason, e.object.kind])).toEqual(Array(3).fill(['Normal', 'ImageGarbageCollected', 'Node']));
    expect(recorder.events[0]!.message).toBe('Removed unused image example.com/d:1 (sha256:d, 100.0 MiB): the image fs was 87% used, over imageGCHighThresholdPercent');

    // Nothing left to remove: upstream's warning.
    engine.otherBytes += 200 * MiB;
    await gc.garbageCollect();
    expect(recorder.events.at(-1)).toMatchObject({ type: 'Warning', reason: 'FreeDiskSpaceFailed' });
    expect(recorder.events.at(-1)!.message).toMatch(/^Failed to garbage collect required amount of images\. Attempted to free \d+ bytes, but only found 0 bytes eligible to free\.$/);
  });

  test('an image seen less than imageMinimumGCAge ago is kept, even over the threshold', async () => {
    fourImages(500);
    const gc = manager();
    await gc.garbageCollect();
    expect(engine.removed).toEqual([]);
    now += 2 * Minute;
    await gc.garbageCollect();
    // 901 MiB: 101 MiB to free for 80 %, a and b.
    expect(engine.removed).toEqual(['a', 'b']);
  });

  test('an image the engine refuses to remove is skipped, and the next one goes instead', async () => {
    fourImages(460);
    const gc = manager({ minimumAgeMs: 0 });
    engine.refuse.add('sha256:a');
    await gc.garbageCollect();
    expect(engine.removed).toEqual(['b']);
  });

  test('imageGCHighThresholdPercent 100 never removes anything', async () => {
    fourImages(599); // 100 % used
    const gc = manager({ highThresholdPercent: 100, minimumAgeMs: 0 });
    await gc.garbageCollect();
    expect(engine.removed).toEqual([]);
  });

  test('imageMaximumGCAge removes an image unused for longer, whatever the use', async () => {
    fourImages(0);
    const gc = manager({ maximumAgeMs: 10 * Minute });
    engine.inUse = new Set(['sha256:a', 'sha256:b', 'sha256:c', 'sha256:d']);
    await gc.garbageCollect();
    now += 5 * Minute;
    engine.inUse = new Set(['sha256:b', 'sha256:c', 'sha256:d']);
    await gc.garbageCollect();
    now += 8 * Minute; // a unused for 13 minutes since it was last seen used; b for 8
    engine.inUse = new Set(['sha256:c', 'sha256:d']);
    await gc.garbageCollect();
    // b was unused for 8 minutes only; pause, never used, is the sandbox's.
    expect(engine.removed).toEqual(['a']);
    expect(recorder.events[0]!.message).toContain('unused for longer than imageMaximumGCAge');
  });
});

describe('ImageGCManager.deleteUnusedImages', () => {
  test('removes every unused image old enough, whatever the use, and says how much it freed', async () => {
    fourImages(0);
    const gc = manager({ minimumAgeMs: 0 });
    engine.inUse = new Set(['sha256:c']);
    const freed = await gc.deleteUnusedImages();
    expect(freed.removed.map((image) => image.id).sort()).toEqual(['sha256:a', 'sha256:b', 'sha256:d']);
    expect(freed.freedBytes).toBe(300 * MiB);
    expect([...engine.images.keys()].sort()).toEqual(['sha256:c', 'sha256:pause']);
  });
});

describe('ImageGCManager.imageFsStats', () => {
  test('the image fs\'s capacity and free space, with the images\' sizes as its used bytes', async () => {
    fourImages(50);
    expect(await manager().imageFsStats()).toEqual({ capacityBytes: Capacity, availableBytes: Capacity - 451 * MiB, usedBytes: 401 * MiB, inodes: 100, inodesFree: 50, inodesUsed: 50 });
  });
});
