import { chown, lstat, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { setVolumeOwnership } from '../../../agent/volumes/ownership.js';

const FsGroup = 4321;
let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dockerlet-owner-'));
  await writeFile(join(dir, 'a'), 'a', { mode: 0o644 });
  await mkdir(join(dir, 'sub'), { mode: 0o755 });
  await writeFile(join(dir, 'sub', 'b'), 'b', { mode: 0o600 });
  await symlink('a', join(dir, 'link'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const owner = async (path: string) => {
  const info = await lstat(join(dir, path));
  return { gid: info.gid, mode: (info.mode & 0o7777).toString(8) };
};

describe('setVolumeOwnership (fsGroup)', () => {
  test('a writable volume: the group everywhere, group read-write, directories searchable and setgid', async () => {
    await setVolumeOwnership(dir, FsGroup, false);
    expect(await owner('.')).toEqual({ gid: FsGroup, mode: '2770' });
    expect(await owner('a')).toEqual({ gid: FsGroup, mode: '664' });
    expect(await owner('sub')).toEqual({ gid: FsGroup, mode: '2775' });
    expect(await owner('sub/b')).toEqual({ gid: FsGroup, mode: '660' });
    expect((await lstat(join(dir, 'link'))).gid).toBe(FsGroup);
  });

  test('a read-only volume: group read only', async () => {
    await setVolumeOwnership(dir, FsGroup, true);
    expect(await owner('a')).toEqual({ gid: FsGroup, mode: '644' });
    expect(await owner('sub/b')).toEqual({ gid: FsGroup, mode: '640' });
    expect(await owner('sub')).toEqual({ gid: FsGroup, mode: '2755' });
  });

  test('a writable volume whose root is right already is not walked again; a read-only one is', async () => {
    await setVolumeOwnership(dir, FsGroup, false);
    await chown(join(dir, 'a'), 0, 0);
    await setVolumeOwnership(dir, FsGroup, false);
    expect((await owner('a')).gid).toBe(0);
    await setVolumeOwnership(dir, FsGroup, true);
    expect((await owner('a')).gid).toBe(FsGroup);
  });
});
