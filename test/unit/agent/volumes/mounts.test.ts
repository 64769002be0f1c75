import { execFileSync } from 'node:child_process';
import { mkdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { isMountPoint, mountPointsUnder, mountTmpfs, unmount, unmountAll } from '../../../../agent/volumes/mounts.js';
import { mountPointsBelow, mountsAt, removeTempRoot, tempRoot } from './tmp-mounts.js';

let root: string;

beforeEach(async () => {
  root = await tempRoot('dockerlet-mounts-');
});

afterEach(async () => {
  await removeTempRoot(root);
});

/** A directory below the root, mounted with a small tmpfs by the test itself (not by the code under test). */
async function mounted(name: string): Promise<string> {
  const dir = join(root, name);
  await mkdir(dir, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir]);
  return dir;
}

describe('mountPointsUnder', () => {
  test('lists the mount on the path itself and those below it, in mount order', async () => {
    const outer = await mounted('pod');
    const inner = await mounted('pod/volume');
    expect(await mountPointsUnder(outer)).toEqual([outer, inner]);
  });

  test('a sibling whose name merely starts with the path is not below it', async () => {
    await mounted('ab');
    expect(await mountPointsUnder(join(root, 'a'))).toEqual([]);
  });

  test('a path with nothing mounted below it has no mount points', async () => {
    await mkdir(join(root, 'plain'));
    expect(await mountPointsUnder(join(root, 'plain'))).toEqual([]);
  });

  test('decodes the octal escapes of /proc/self/mountinfo: a space written as \\040', async () => {
    const spaced = await mounted('with space');
    expect(await mountPointsUnder(root)).toEqual([spaced]);
  });

  test('a trailing slash on the path changes nothing', async () => {
    const dir = await mounted('pod');
    expect(await mountPointsUnder(`${root}/`)).toEqual([dir]);
  });

  test('a path reached through a symlink finds the mounts below where it leads, as the kernel lists them', async () => {
    const dir = await mounted('real/volume');
    await symlink(join(root, 'real'), join(root, 'link'));
    expect(await mountPointsUnder(join(root, 'link'))).toEqual([dir]);
  });
});

describe('isMountPoint', () => {
  test('true for a directory with a tmpfs mounted on it', async () => {
    expect(await isMountPoint(await mounted('volume'))).toBe(true);
  });

  test('true for a mount point whose name has a space', async () => {
    expect(await isMountPoint(await mounted('my volume'))).toBe(true);
  });

  test('false for a plain directory', async () => {
    await mkdir(join(root, 'plain'));
    expect(await isMountPoint(join(root, 'plain'))).toBe(false);
  });

  test('false for a directory inside a mounted tmpfs', async () => {
    const dir = await mounted('volume');
    await mkdir(join(dir, 'inside'));
    expect(await isMountPoint(join(dir, 'inside'))).toBe(false);
  });

  test('false for a path that does not exist', async () => {
    expect(await isMountPoint(join(root, 'missing'))).toBe(false);
  });
});

describe('mountTmpfs', () => {
  test('mounts a tmpfs with the mode and size given, as mountinfo shows its options', async () => {
    const dir = join(root, 'volume');
    await mkdir(dir);
    await mountTmpfs(dir, { mode: 0o777, sizeBytes: 8 * 1024 * 1024 });
    const [mount, ...more] = mountsAt(dir);
    expect(more).toEqual([]);
    expect(mount!.fsType).toBe('tmpfs');
    expect(mount!.superOptions).toContain('size=8192k');
    expect(mount!.superOptions).toContain('mode=777');
    expect((await stat(dir)).mode & 0o7777).toBe(0o777);
  });

  test('mode 01777 keeps its sticky bit (tmpfs\'s default, so mountinfo lists no mode)', async () => {
    const dir = join(root, 'volume');
    await mkdir(dir);
    await mountTmpfs(dir, { mode: 0o1777, sizeBytes: 1024 * 1024 });
    expect(mountsAt(dir)[0]!.superOptions.filter((o) => o.startsWith('mode='))).toEqual([]);
    expect((await stat(dir)).mode & 0o7777).toBe(0o1777);
  });

  test('a size that is not a whole number of bytes is rounded up (the kernel then rounds to pages)', async () => {
    const dir = join(root, 'volume');
    await mkdir(dir);
    await mountTmpfs(dir, { mode: 0o755, sizeBytes: 1024 * 1024 - 0.5 });
    expect(mountsAt(dir)[0]!.superOptions).toContain('size=1024k');
    expect(mountsAt(dir)[0]!.superOptions).toContain('mode=755');
  });

  test('mounts on a directory whose name has a space', async () => {
    const dir = join(root, 'my volume');
    await mkdir(dir);
    await mountTmpfs(dir, { mode: 0o755, sizeBytes: 1024 * 1024 });
    expect(mountsAt(dir).map((m) => m.fsType)).toEqual(['tmpfs']);
  });

  test('is idempotent: a second call mounts nothing over the first, whose files stay visible', async () => {
    const dir = join(root, 'volume');
    await mkdir(dir);
    await mountTmpfs(dir, { mode: 0o777, sizeBytes: 1024 * 1024 });
    await writeFile(join(dir, 'kept'), 'data');
    await mountTmpfs(dir, { mode: 0o777, sizeBytes: 2 * 1024 * 1024 });
    expect(mountsAt(dir)).toHaveLength(1);
    expect(mountsAt(dir)[0]!.superOptions).toContain('size=1024k');
    expect(await readFile(join(dir, 'kept'), 'utf8')).toBe('data');
  });

  test('a missing directory fails with DKL_ERR_RUNTIME naming it, and nothing is mounted', async () => {
    const dir = join(root, 'missing');
    const error = await mountTmpfs(dir, { mode: 0o777 }).catch((err: unknown) => err);
    expect(error).toMatchObject({ code: 'DKL_ERR_RUNTIME' });
    expect((error as Error).message.startsWith(`mounting a tmpfs on ${dir}: `)).toBe(true);
    expect(mountPointsBelow(root)).toEqual([]);
  });
});

describe('unmount', () => {
  test('a point someone else unmounted meanwhile is done, not an error (two teardowns of one pod)', async () => {
    const dir = await mounted('pod');
    execFileSync('umount', [dir]);
    await expect(unmount(dir)).resolves.toBeUndefined();
  });

  test('a point that stays mounted when umount fails is an error naming it', async () => {
    const dir = await mounted('busy');
    await mounted('busy/inner');
    await expect(unmount(dir)).rejects.toThrow(`unmounting ${dir}: `);
  });
});

describe('unmountAll', () => {
  test('unmounts a tmpfs mounted inside another, deepest first', async () => {
    const outer = await mounted('pod');
    await mounted('pod/volume');
    await unmountAll(outer);
    expect(mountPointsBelow(root)).toEqual([]);
  });

  test('unmounts the mount points below the path, not the path\'s siblings', async () => {
    await mkdir(join(root, 'pod'));
    const below = await mounted('pod/volumes/a b');
    const sibling = await mounted('pod-other');
    await unmountAll(join(root, 'pod'));
    expect(mountsAt(below)).toEqual([]);
    expect(mountPointsBelow(root)).toEqual([sibling]);
  });

  test('unmounts every layer of mounts stacked on one point', async () => {
    const dir = await mounted('volume');
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir]);
    await unmountAll(dir);
    expect(mountPointsBelow(root)).toEqual([]);
  });

  test('with nothing mounted it does nothing', async () => {
    await mkdir(join(root, 'plain'));
    await unmountAll(join(root, 'plain'));
    expect((await stat(join(root, 'plain'))).isDirectory()).toBe(true);
  });
});
