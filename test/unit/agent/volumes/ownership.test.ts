import { lstat, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { fsGroupMode, setOwnership, setTreeOwnership } from '../../../../agent/volumes/ownership.js';

const FsGroup = 4321;
let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dockerlet-owner-'));
  await writeFile(join(dir, 'a'), 'a', { mode: 0o644 });
  await mkdir(join(dir, 'sub'), { mode: 0o755 });
  await writeFile(join(dir, 'sub', 'b'), 'b', { mode: 0o600 });
  await symlink('/etc/hostname', join(dir, 'link'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const owner = async (path: string) => {
  const info = await lstat(join(dir, path));
  return { gid: info.gid, mode: (info.mode & 0o7777).toString(8) };
};

describe('fsGroup ownership (SetVolumeOwnership)', () => {
  test('the modes: group read, or read-write; directories searchable and setgid', () => {
    expect(fsGroupMode(0o600, false, true).toString(8)).toBe('640');
    expect(fsGroupMode(0o644, false, false).toString(8)).toBe('664');
    expect(fsGroupMode(0o755, true, true).toString(8)).toBe('2755');
    expect(fsGroupMode(0o1777, true, false).toString(8)).toBe('3777');
  });

  test('a tree: the group everywhere; a symlink gets the group itself and its target is left alone', async () => {
    const hostname = await lstat('/etc/hostname');
    await setTreeOwnership(dir, FsGroup, true);
    expect(await owner('.')).toEqual({ gid: FsGroup, mode: '2750' });
    expect(await owner('a')).toEqual({ gid: FsGroup, mode: '644' });
    expect(await owner('sub')).toEqual({ gid: FsGroup, mode: '2755' });
    expect(await owner('sub/b')).toEqual({ gid: FsGroup, mode: '640' });
    expect((await lstat(join(dir, 'link'))).gid).toBe(FsGroup);
    const after = await lstat('/etc/hostname');
    expect([after.gid, after.mode]).toEqual([hostname.gid, hostname.mode]);
  });

  test('one path alone: a writable directory, nothing below it touched', async () => {
    await setOwnership(dir, FsGroup, false);
    expect(await owner('.')).toEqual({ gid: FsGroup, mode: '2770' });
    expect((await owner('a')).gid).not.toBe(FsGroup);
  });
});
