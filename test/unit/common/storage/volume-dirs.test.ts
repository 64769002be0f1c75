import { mkdir, mkdtemp, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { makeVolumeDir, removeVolumeDir } from '../../../../common/storage/volume-dirs.js';

let root: string;
let base: string;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'dockerlet-volume-dirs-'));
  base = join(root, 'volumes');
  await mkdir(base);
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('volume directories', () => {
  test('a new one is writable by anyone (0777) whatever the umask; an existing one is left as it is', async () => {
    await makeVolumeDir(join(base, 'a/data'));
    expect(((await stat(join(base, 'a/data'))).mode & 0o777).toString(8)).toBe('777');
    await mkdir(join(base, 'b'), { mode: 0o700 });
    await makeVolumeDir(join(base, 'b'));
    expect(((await stat(join(base, 'b'))).mode & 0o777).toString(8)).toBe('700');
  });

  test('one inside the base is removed with its content; a missing one is already removed', async () => {
    await makeVolumeDir(join(base, 'a'));
    await writeFile(join(base, 'a/file'), 'x');
    await removeVolumeDir(base, join(base, 'a'));
    await removeVolumeDir(base, join(base, 'gone'));
    expect(await readdir(base)).toEqual([]);
  });

  test('the base itself, a path outside it, or a link in a volume\'s place is refused, and nothing is removed', async () => {
    const outside = join(root, 'outside');
    await mkdir(outside);
    await writeFile(join(outside, 'precious'), 'x');
    await symlink(outside, join(base, 'link'));
    await expect(removeVolumeDir(base, base)).rejects.toThrow(/is not inside/);
    await expect(removeVolumeDir(base, outside)).rejects.toThrow(/is not inside/);
    await expect(removeVolumeDir(base, join(base, '../outside'))).rejects.toThrow(/is not inside/);
    await expect(removeVolumeDir(base, join(base, 'link'))).rejects.toThrow(/is a symbolic link/);
    expect(await readdir(outside)).toEqual(['precious']);
  });
});
