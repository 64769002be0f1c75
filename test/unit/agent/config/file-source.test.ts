/** FileSource on a real temporary directory and a real watch (no Docker): what it reports, when, and what it logs. */
import { mkdtemp, open, rename, rm, symlink, truncate, unlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import chokidar from 'chokidar';
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import type { ManifestObjects } from '../../../../agent/config/read-manifest.js';
import { FileSource } from '../../../../agent/config/sources/file-source.js';
import { memoryLogger, type MemoryLogger } from '../../../helpers/memory-logger.js';
import { waitFor } from '../../../helpers/wait-for.js';

const pod = (name: string): string =>
  `apiVersion: v1\nkind: Pod\nmetadata:\n  name: ${name}\nspec:\n  containers:\n  - name: c\n    image: busybox:1.35\n`;

let dir: string;
let log: MemoryLogger;
let snapshots: ManifestObjects[];
let source: FileSource;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dockerlet-file-source-'));
  log = memoryLogger('debug');
  snapshots = [];
  // A rescan period far beyond any test: what is seen here comes from the watch.
  source = new FileSource({ path: dir, nodeName: 'node-1', checkFrequencyMs: 3_600_000, logger: log.logger, onSnapshot: (objects) => snapshots.push(objects) });
  await source.start();
});

afterEach(async () => {
  await source.stop();
  await rm(dir, { recursive: true, force: true });
});

const podNames = (objects: ManifestObjects | undefined): string[] => (objects?.pods ?? []).map((p) => p.metadata.name).sort();
const latest = (): string[] => podNames(snapshots.at(-1));
const errors = (): string[] => log.lines.filter((line) => line.level >= 50).map((line) => line.msg);
const reads = (file: string): number => log.lines.filter((line) => line.msg === 'read static pod manifest' && line['file'] === file).length;

describe('FileSource', () => {
  test('a file renamed into place is reported as its pod', async () => {
    await writeFile(join(dir, '.web.tmp'), pod('web'));
    await rename(join(dir, '.web.tmp'), join(dir, 'web.yaml'));
    await waitFor('the web pod', () => latest().includes('web-node-1'));
  });

  test('many files landing at once end in one set holding them all; no snapshot repeats the one before', async () => {
    const names = Array.from({ length: 20 }, (_, i) => `p${i}`);
    for (const name of names) await writeFile(join(dir, `.${name}.tmp`), pod(name));
    await Promise.all(names.map((name) => rename(join(dir, `.${name}.tmp`), join(dir, `${name}.yaml`))));
    await waitFor('all 20 pods', () => latest().length === 20);
    const initial = snapshots.findIndex((s) => s.pods.length > 0);
    for (let i = initial + 1; i < snapshots.length; i++) expect(podNames(snapshots[i])).not.toEqual(podNames(snapshots[i - 1]));
  });

  test('a file written in two steps is not reported as broken in between', async () => {
    const file = join(dir, 'web.yaml');
    const handle = await open(file, 'w');
    const text = pod('web');
    // Cut inside "containers:" so the first half fails validation (no containers).
    const cut = text.indexOf('  containers:');
    await handle.write(text.slice(0, cut));
    await waitFor('the half-written file to be read', () => reads(file) >= 1);
    await handle.write(text.slice(cut));
    await handle.close();
    await waitFor('the web pod', () => latest().includes('web-node-1'));
    expect(errors()).toEqual([]);
  });

  test('a broken file is reported once it stays broken, naming the file and the field, and only once', async () => {
    const file = join(dir, 'bad.yaml');
    await writeFile(file, 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: bad\nspec:\n  containers:\n  - name: c\n');
    await waitFor('the error', () => errors().length === 1);
    expect(errors()[0]).toContain(`${file}: document 1 (Pod "bad"): spec.containers[0].image: Required value`);
    // The same content again: read, but not reported again.
    const before = reads(file);
    await writeFile(file, 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: bad\nspec:\n  containers:\n  - name: c\n');
    await waitFor('the rewrite to be read', () => reads(file) > before);
    expect(errors()).toHaveLength(1);
  });

  test('a periodic rescan reads only the files whose inode, size or times changed', async () => {
    await writeFile(join(dir, 'web.yaml'), pod('web'));
    const rescans = (): number => log.lines.filter((line) => line.msg === 'rescanned the static pod path').length;
    const rescanning = new FileSource({ path: dir, nodeName: 'node-1', checkFrequencyMs: 10, logger: log.logger, onSnapshot: () => undefined });
    try {
      await rescanning.start();
      const file = join(dir, 'web.yaml');
      const firstReads = reads(file);
      expect(firstReads).toBeGreaterThan(0);
      const before = rescans();
      await waitFor('three more rescans', () => rescans() >= before + 3);
      expect(reads(file)).toBe(firstReads);
      const later = new Date(Date.now() + 60_000);
      await utimes(file, later, later);
      const touched = rescans();
      await waitFor('a rescan after the touch', () => rescans() >= touched + 2);
      expect(reads(file)).toBeGreaterThan(firstReads);
    } finally {
      await rescanning.stop();
    }
  });

  test('deleting a file removes its pods', async () => {
    await writeFile(join(dir, 'a.yaml'), pod('a'));
    await writeFile(join(dir, 'b.yaml'), pod('b'));
    await waitFor('both pods', () => latest().length === 2);
    await unlink(join(dir, 'a.yaml'));
    await waitFor('only b', () => latest().join() === 'b-node-1');
  });
});

describe('FileSource: files it cannot use', () => {
  test('a symlink loop, an alias bomb and a file over 10 MiB are each skipped with their path and reason; every other file is read', async () => {
    await writeFile(join(dir, 'good.yaml'), pod('good'));
    await symlink(join(dir, 'loop-b.yaml'), join(dir, 'loop-a.yaml'));
    await symlink(join(dir, 'loop-a.yaml'), join(dir, 'loop-b.yaml'));
    const levels = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
    for (let i = 1; i < 10; i++) levels.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [*${String.fromCharCode(96 + i)},*${String.fromCharCode(96 + i)},*${String.fromCharCode(96 + i)},*${String.fromCharCode(96 + i)},*${String.fromCharCode(96 + i)},*${String.fromCharCode(96 + i)},*${String.fromCharCode(96 + i)},*${String.fromCharCode(96 + i)},*${String.fromCharCode(96 + i)}]`);
    await writeFile(join(dir, 'bomb.yaml'), `${levels.join('\n')}\n`);
    await writeFile(join(dir, 'big.yaml'), '');
    await truncate(join(dir, 'big.yaml'), 11 * 1024 * 1024);
    const seen: ManifestObjects[] = [];
    const second = new FileSource({ path: dir, nodeName: 'node-1', checkFrequencyMs: 3_600_000, logger: log.logger, onSnapshot: (objects) => seen.push(objects) });
    try {
      await second.start();
      expect(podNames(seen[0])).toEqual(['good-node-1']);
      const skipped = errors().filter((message) => message.startsWith('invalid static pod manifest, skipped: '));
      expect(skipped.find((m) => m.includes('loop-a.yaml'))).toMatch(/loop-a\.yaml: cannot read it: .*ELOOP/);
      expect(skipped.find((m) => m.includes('bomb.yaml'))).toMatch(/bomb\.yaml: document 1: .*alias/i);
      expect(skipped.find((m) => m.includes('big.yaml'))).toContain(`big.yaml: the file is ${11 * 1024 * 1024} bytes, over the ${10 * 1024 * 1024} a manifest may have`);
    } finally {
      await second.stop();
    }
  });

  test('stop() while the watch is being set up ends both start() and stop(): a watcher closed before it was ready is not waited for', async () => {
    const watch = chokidar.watch.bind(chokidar);
    let stopping: Promise<void> | undefined;
    const third = new FileSource({ path: dir, nodeName: 'node-1', checkFrequencyMs: 3_600_000, logger: log.logger, onSnapshot: () => undefined });
    const spy = vi.spyOn(chokidar, 'watch').mockImplementation((...args: Parameters<typeof chokidar.watch>) => {
      const watcher = watch(...args);
      // Once the source holds the watcher and waits for it, before it is ready.
      queueMicrotask(() => (stopping = third.stop()));
      return watcher;
    });
    try {
      await third.start();
      await stopping;
    } finally {
      spy.mockRestore();
    }
    expect(stopping).toBeDefined();
  });
});
