import { lstat, mkdtemp, readFile, readdir, readlink, realpath, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { validatePath, writeAtomically, type FileProjection, type Payload } from '../../../../agent/volumes/atomic-writer.js';

let root: string;
let dir: string;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'dockerlet-atomic-'));
  dir = join(root, 'volume');
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

function file(text: string, mode = 0o644): FileProjection {
  return { data: Buffer.from(text), mode };
}

function payload(entries: Record<string, FileProjection>): Payload {
  return new Map(Object.entries(entries));
}

/** The names in the volume directory other than the writer's own (..data, ..<timestamp>). */
async function visibleNames(): Promise<string[]> {
  return (await readdir(dir)).filter((name) => !name.startsWith('..')).sort();
}

async function timestampDirs(): Promise<string[]> {
  return (await readdir(dir)).filter((name) => name.startsWith('..') && name !== '..data').sort();
}

describe('writeAtomically (AtomicWriter.Write)', () => {
  test('a first write into a missing directory creates it: ..data -> ..<UTC timestamp>.<random>, one link per name', async () => {
    const before = new Date();
    expect(await writeAtomically(dir, payload({ a: file('one'), b: file('two') }))).toEqual({ ok: true, changed: true });

    const target = await readlink(join(dir, '..data'));
    expect(target).toMatch(/^\.\.\d{4}_\d{2}_\d{2}_\d{2}_\d{2}_\d{2}\..+$/);
    expect(target.slice(2, 6)).toBe(String(before.getUTCFullYear()));
    expect(await timestampDirs()).toEqual([target]);
    expect((await stat(join(dir, target))).mode & 0o777).toBe(0o755);
    expect(await readlink(join(dir, 'a'))).toBe('..data/a');
    expect(await readlink(join(dir, 'b'))).toBe('..data/b');
    expect(await readFile(join(dir, 'a'), 'utf8')).toBe('one');
    expect(await readFile(join(dir, 'b'), 'utf8')).toBe('two');
    expect(await visibleNames()).toEqual(['a', 'b']);
    // ..data_tmp exists only between the symlink and the rename.
    expect(await readdir(dir)).not.toContain('..data_tmp');
  });

  test('a first write into an existing empty directory works the same', async () => {
    await writeAtomically(root, payload({ a: file('one') }));
    expect(await readFile(join(root, 'a'), 'utf8')).toBe('one');
    expect(await readlink(join(root, 'a'))).toBe('..data/a');
  });

  test('changed content: a new timestamped directory, ..data swapped to it, the old one removed, links kept', async () => {
    await writeAtomically(dir, payload({ a: file('one'), b: file('two') }));
    const first = await readlink(join(dir, '..data'));

    expect(await writeAtomically(dir, payload({ a: file('uno'), b: file('two') }))).toEqual({ ok: true, changed: true });

    const second = await readlink(join(dir, '..data'));
    expect(second).not.toBe(first);
    expect(await timestampDirs()).toEqual([second]);
    expect(await readlink(join(dir, 'a'))).toBe('..data/a');
    expect(await readFile(join(dir, 'a'), 'utf8')).toBe('uno');
    expect(await readFile(join(dir, 'b'), 'utf8')).toBe('two');
  });

  test('an equal payload changes nothing: changed false, same ..data target, same files', async () => {
    await writeAtomically(dir, payload({ a: file('one'), 'x/y': file('two', 0o600) }));
    const target = await readlink(join(dir, '..data'));
    const inode = (await stat(join(dir, 'a'))).ino;

    expect(await writeAtomically(dir, payload({ a: file('one'), 'x/y': file('two', 0o600) }))).toEqual({ ok: true, changed: false });

    expect(await readlink(join(dir, '..data'))).toBe(target);
    expect((await stat(join(dir, 'a'))).ino).toBe(inode);
    expect(await timestampDirs()).toEqual([target]);
  });

  test('the same bytes with another mode is a change (upstream compares bytes only)', async () => {
    await writeAtomically(dir, payload({ a: file('one', 0o644) }));
    expect(await writeAtomically(dir, payload({ a: file('one', 0o400) }))).toEqual({ ok: true, changed: true });
    expect((await stat(join(dir, 'a'))).mode & 0o7777).toBe(0o400);
  });

  test('with an fsGroup, files and directories are the group\'s before the swap, and the next equal write changes nothing', async () => {
    const fsGroup = 4321;
    expect(await writeAtomically(dir, payload({ token: file('jwt', 0o600), 'x/y': file('two') }), fsGroup)).toEqual({ ok: true, changed: true });
    const target = await readlink(join(dir, '..data'));
    const owner = async (path: string) => {
      const info = await stat(join(dir, path));
      return { gid: info.gid, mode: (info.mode & 0o7777).toString(8) };
    };
    expect(await owner('token')).toEqual({ gid: fsGroup, mode: '640' });
    expect(await owner('x/y')).toEqual({ gid: fsGroup, mode: '644' });
    expect((await owner('..data/x')).gid).toBe(fsGroup);
    expect(await owner('..data')).toEqual({ gid: fsGroup, mode: '2755' });
    // 0600 on the payload, 0640 on disk: that is the fsGroup's doing, not a change to write again.
    expect(await writeAtomically(dir, payload({ token: file('jwt', 0o600), 'x/y': file('two') }), fsGroup)).toEqual({ ok: true, changed: false });
    expect(await readlink(join(dir, '..data'))).toBe(target);
  });

  test('a key no longer in the payload loses its link', async () => {
    await writeAtomically(dir, payload({ a: file('one'), b: file('two') }));

    expect(await writeAtomically(dir, payload({ a: file('one') }))).toEqual({ ok: true, changed: true });

    expect(await visibleNames()).toEqual(['a']);
    await expect(lstat(join(dir, 'b'))).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await readFile(join(dir, 'a'), 'utf8')).toBe('one');
  });

  test('an empty payload removes every name', async () => {
    await writeAtomically(dir, payload({ a: file('one') }));
    expect(await writeAtomically(dir, payload({}))).toEqual({ ok: true, changed: true });
    expect(await visibleNames()).toEqual([]);
  });

  test('nested paths: directories inside the timestamped directory, one link per top-level name', async () => {
    const result = await writeAtomically(dir, payload({ 'conf/app/main.yaml': file('main'), 'conf/extra': file('extra'), top: file('top') }));
    expect(result).toEqual({ ok: true, changed: true });

    const target = await readlink(join(dir, '..data'));
    expect((await lstat(join(dir, target, 'conf', 'app'))).isDirectory()).toBe(true);
    expect(await visibleNames()).toEqual(['conf', 'top']);
    expect(await readlink(join(dir, 'conf'))).toBe('..data/conf');
    expect(await readFile(join(dir, 'conf/app/main.yaml'), 'utf8')).toBe('main');
    expect(await readFile(join(dir, 'conf/extra'), 'utf8')).toBe('extra');
  });

  test('a nested file removed: the top-level link stays while it holds other files', async () => {
    await writeAtomically(dir, payload({ 'conf/a': file('a'), 'conf/b': file('b') }));
    await writeAtomically(dir, payload({ 'conf/a': file('a') }));
    expect(await visibleNames()).toEqual(['conf']);
    expect(await readdir(join(dir, 'conf'))).toEqual(['a']);
  });

  test('paths are cleaned as filepath.Clean does: a/./b and a//b/ are a/b', async () => {
    await writeAtomically(dir, payload({ 'a/./b': file('one'), 'c//d/': file('two') }));
    expect(await readFile(join(dir, 'a/b'), 'utf8')).toBe('one');
    expect(await readFile(join(dir, 'c/d'), 'utf8')).toBe('two');
  });

  test('modes 0400, 0644 and 0755 are kept exactly under a restrictive umask', async () => {
    const previous = process.umask(0o077);
    try {
      await writeAtomically(dir, payload({ secret: file('s', 0o400), config: file('c', 0o644), 'bin/run': file('r', 0o755) }));
    } finally {
      process.umask(previous);
    }
    expect((await stat(join(dir, 'secret'))).mode & 0o7777).toBe(0o400);
    expect((await stat(join(dir, 'config'))).mode & 0o7777).toBe(0o644);
    expect((await stat(join(dir, 'bin/run'))).mode & 0o7777).toBe(0o755);
    expect((await stat(join(dir, '..data'))).mode & 0o777).toBe(0o755);
  });

  test('an invalid path is refused naming it, and nothing is written', async () => {
    const result = await writeAtomically(dir, payload({ good: file('x'), '../escape': file('y') }));
    expect(result).toEqual({ ok: false, message: "invalid path: must not contain '..': ../escape" });
    await expect(stat(dir)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  test('a path that is both a file and a directory is refused', async () => {
    expect(await writeAtomically(dir, payload({ a: file('x'), 'a/b': file('y') }))).toEqual({
      ok: false,
      message: 'invalid path: a is both a file and a directory',
    });
  });

  test('a name in the way of a link (not made by the writer) is left alone, as upstream does', async () => {
    await writeAtomically(dir, payload({}));
    await writeFile(join(dir, 'a'), 'mine');
    expect(await writeAtomically(dir, payload({ a: file('one') }))).toEqual({ ok: true, changed: true });
    expect(await readFile(join(dir, 'a'), 'utf8')).toBe('mine');
  });

  test('readers through the user-visible names never see a half-written or mixed set while writes go on', async () => {
    const big = (version: number): string => `${version}:`.padEnd(64 * 1024, String(version % 10));
    const versioned = (version: number): Payload => payload({ 'set/a': file(big(version)), 'set/b': file(big(version)) });
    await writeAtomically(dir, versioned(0));

    let writing = true;
    const writer = async (): Promise<void> => {
      for (let version = 1; version <= 150; version++) {
        expect(await writeAtomically(dir, versioned(version))).toEqual({ ok: true, changed: true });
      }
      writing = false;
    };
    const seen = { consistent: 0, retired: 0, mixed: 0, torn: 0 };
    const reader = async (): Promise<void> => {
      for (let i = 0; i < 600 && writing; i++) {
        // Resolve the user-visible name once, then read the set from that resolution: a swap
        // between two separate resolutions would legitimately straddle two versions.
        let a: string;
        let b: string;
        try {
          const set = await realpath(join(dir, 'set'));
          [a, b] = await Promise.all([readFile(join(set, 'a'), 'utf8'), readFile(join(set, 'b'), 'utf8')]);
        } catch (error) {
          // The version we resolved was retired (its directory removed) before we read it.
          expect((error as NodeJS.ErrnoException).code).toBe('ENOENT');
          seen.retired++;
          continue;
        }
        if (a.length !== 64 * 1024 || a !== big(Number(a.split(':')[0]))) seen.torn++;
        if (a === b) seen.consistent++;
        else seen.mixed++;
      }
    };
    // Each single file read through its user-visible link is whole, too.
    const singleReader = async (): Promise<void> => {
      for (let i = 0; i < 600 && writing; i++) {
        const a = await readFile(join(dir, 'set', 'a'), 'utf8').catch(() => undefined);
        if (a !== undefined && a !== big(Number(a.split(':')[0]))) seen.torn++;
      }
    };
    await Promise.all([writer(), reader(), singleReader()]);

    expect(seen.mixed).toBe(0);
    expect(seen.torn).toBe(0);
    expect(seen.consistent).toBeGreaterThan(0);
    expect(await readFile(join(dir, 'set/a'), 'utf8')).toBe(big(150));
    expect(await timestampDirs()).toHaveLength(1);
  });
});

describe('validatePath', () => {
  test.each([
    ['', 'invalid path: must not be empty: ""'],
    ['/etc/passwd', 'invalid path: must be relative path: /etc/passwd'],
    ['..', "invalid path: must not contain '..': .."],
    ['a/../b', "invalid path: must not contain '..': a/../b"],
    ['..data', "invalid path: must not start with '..': ..data"],
    ['..a/b', "invalid path: must not start with '..': ..a/b"],
    ['x'.repeat(256), 'invalid path: filenames must be less than or equal to 255 characters'],
    [`${'d/'.repeat(2048)}f`, 'invalid path: must be less than or equal to 4096 characters'],
  ])('%j is refused', (path, message) => {
    expect(validatePath(path)).toBe(message);
  });

  test.each(['a', 'a/b/c', '.a', 'a..b', 'b/..c', 'x'.repeat(255), `${'d/'.repeat(2047)}ff`])('%j is accepted', (path) => {
    expect(validatePath(path)).toBeUndefined();
  });
});
