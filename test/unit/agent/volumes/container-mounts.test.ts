import { chmod, lstat, mkdir, readdir, readlink, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import type { VolumeMount } from '../../../../common/api/types.js';
import { writeAtomically } from '../../../../agent/volumes/atomic-writer.js';
import { containerMounts, type ContainerMounts } from '../../../../agent/volumes/container-mounts.js';
import { isMountPoint } from '../../../../agent/volumes/mounts.js';
import type { MountedVolume } from '../../../../agent/volumes/volume-manager.js';
import { ctr } from '../../fixtures.js';
import { removeTempRoot, tempRoot } from './tmp-mounts.js';

let root: string;
/** A writable volume (an emptyDir's directory, mode 0777) and a read-only one. */
let data: string;
let config: string;

beforeEach(async () => {
  root = await tempRoot('dockerlet-container-mounts-');
  data = join(root, 'volumes/data');
  config = join(root, 'volumes/config');
  await mkdir(data, { recursive: true });
  await chmod(data, 0o777);
  await mkdir(config, { recursive: true });
});

afterEach(async () => {
  await removeTempRoot(root);
});

const volumes = (): Map<string, MountedVolume> =>
  new Map([
    ['data', { hostPath: data, readOnly: false }],
    ['config', { hostPath: config, readOnly: true }],
  ]);

/** Where the subPath of the `index`th volumeMount is bound. */
const target = (volume: string, index = 0): string => join(root, 'volume-subpaths', volume, 'main', String(index));

/** The mounts of container `main` with `volumeMounts`, given `env`. */
function mountsOf(volumeMounts: VolumeMount[], env: Record<string, string> = {}): Promise<ContainerMounts> {
  return containerMounts(ctr('main', { volumeMounts }), volumes(), new Map(Object.entries(env)), target);
}

/**
 * `result` mounts `target(volume)` at `containerPath`, and that target is a bind mount of
 * `source`: the same file, not merely the same path.
 */
async function expectBound(result: ContainerMounts, volume: string, source: string, containerPath: string, readOnly = false): Promise<void> {
  expect(result).toEqual({ ok: true, mounts: [{ hostPath: target(volume), containerPath, readOnly }] });
  expect(await isMountPoint(target(volume))).toBe(true);
  const [bound, wanted] = [await stat(target(volume)), await stat(source)];
  expect([bound.dev, bound.ino]).toEqual([wanted.dev, wanted.ino]);
}

const prepareFailed = (message: string) => ({ ok: false, message: `failed to prepare subPath for volumeMount "data" of container "main": ${message}` });

describe('containerMounts: the volume and readOnly', () => {
  test('a mount binds the volume\'s host path at the mount path, writable, with no propagation', async () => {
    expect(await mountsOf([{ name: 'data', mountPath: '/data' }])).toEqual({ ok: true, mounts: [{ hostPath: data, containerPath: '/data', readOnly: false }] });
  });

  test('readOnly on the mount makes a writable volume read-only', async () => {
    expect(await mountsOf([{ name: 'data', mountPath: '/data', readOnly: true }])).toEqual({ ok: true, mounts: [{ hostPath: data, containerPath: '/data', readOnly: true }] });
  });

  test('a read-only volume is read-only even when the mount says readOnly: false', async () => {
    expect(await mountsOf([{ name: 'config', mountPath: '/config', readOnly: false }])).toEqual({ ok: true, mounts: [{ hostPath: config, containerPath: '/config', readOnly: true }] });
  });

  test('mounts come in the order of volumeMounts; one volume may be mounted twice', async () => {
    const result = await mountsOf([
      { name: 'config', mountPath: '/config' },
      { name: 'data', mountPath: '/a' },
      { name: 'data', mountPath: '/b', readOnly: true },
    ]);
    expect(result).toEqual({
      ok: true,
      mounts: [
        { hostPath: config, containerPath: '/config', readOnly: true },
        { hostPath: data, containerPath: '/a', readOnly: false },
        { hostPath: data, containerPath: '/b', readOnly: true },
      ],
    });
  });

  test('a container without volumeMounts has no mounts', async () => {
    expect(await containerMounts(ctr('main'), volumes(), new Map(), target)).toEqual({ ok: true, mounts: [] });
  });

  test('a volume name the pod does not have fails, as upstream words it', async () => {
    expect(await mountsOf([{ name: 'nope', mountPath: '/nope' }])).toEqual({ ok: false, message: 'cannot find volume "nope" to mount into container "main"' });
  });
});

describe('containerMounts: mountPropagation', () => {
  test.each([
    ['None', undefined],
    ['HostToContainer', 'rslave'],
    ['Bidirectional', 'rshared'],
  ] as const)('%s -> %s', async (mountPropagation, propagation) => {
    expect(await mountsOf([{ name: 'data', mountPath: '/data', mountPropagation }])).toEqual({
      ok: true,
      mounts: [{ hostPath: data, containerPath: '/data', readOnly: false, ...(propagation ? { propagation } : {}) }],
    });
  });
});

describe('containerMounts: subPath', () => {
  test('an existing subPath binds that path of the volume', async () => {
    await mkdir(join(data, 'logs'));
    await expectBound(await mountsOf([{ name: 'data', mountPath: '/logs', subPath: 'logs' }]), 'data', join(data, 'logs'), '/logs');
  });

  test('a subPath naming a file binds the file', async () => {
    await writeFile(join(data, 'app.conf'), 'x');
    await expectBound(await mountsOf([{ name: 'data', mountPath: '/etc/app.conf', subPath: 'app.conf' }]), 'data', join(data, 'app.conf'), '/etc/app.conf');
    expect((await stat(target('data'))).isFile()).toBe(true);
  });

  test('a missing subPath of a writable volume is created as directories with the volume\'s mode (0777)', async () => {
    await expectBound(await mountsOf([{ name: 'data', mountPath: '/deep', subPath: 'a/b' }]), 'data', join(data, 'a/b'), '/deep');
    expect(((await stat(join(data, 'a'))).mode & 0o7777).toString(8)).toBe('777');
    expect(((await stat(join(data, 'a/b'))).mode & 0o7777).toString(8)).toBe('777');
  });

  test('a missing subPath of a read-only volume fails and creates nothing', async () => {
    const result = await mountsOf([{ name: 'config', mountPath: '/x', subPath: 'absent' }]);
    expect(result).toEqual({ ok: false, message: 'failed to prepare subPath for volumeMount "config" of container "main": subPath "absent" does not exist in the read-only volume' });
    expect(await readdir(config)).toEqual([]);
  });

  test('subPathExpr expands $(VAR) from the container\'s environment', async () => {
    const result = await mountsOf([{ name: 'data', mountPath: '/logs', subPathExpr: 'logs/$(POD_NAME)' }], { POD_NAME: 'web' });
    await expectBound(result, 'data', join(data, 'logs/web'), '/logs');
    expect((await stat(join(data, 'logs/web'))).isDirectory()).toBe(true);
  });

  test('subPathExpr with $$ is a literal $', async () => {
    await expectBound(await mountsOf([{ name: 'data', mountPath: '/x', subPathExpr: 'cost$$' }]), 'data', join(data, 'cost$'), '/x');
  });

  test('subPathExpr naming variables with no value fails, listing them sorted (ExpandContainerVolumeMounts)', async () => {
    const result = await mountsOf([{ name: 'data', mountPath: '/x', subPathExpr: '$(ZONE)/$(NODE)/$(EMPTY)/$(POD)' }], { POD: 'web', EMPTY: '' });
    expect(result).toEqual({ ok: false, message: 'missing value for EMPTY, NODE, ZONE' });
    expect(await readdir(data)).toEqual([]);
  });

  test('subPathExpr wins over subPath', async () => {
    await expectBound(await mountsOf([{ name: 'data', mountPath: '/x', subPath: 'plain', subPathExpr: '$(POD)' }], { POD: 'web' }), 'data', join(data, 'web'), '/x');
    await expect(lstat(join(data, 'plain'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  test('an absolute subPath is refused, as upstream words it', async () => {
    expect(await mountsOf([{ name: 'data', mountPath: '/x', subPathExpr: '$(P)' }], { P: '/etc' })).toEqual({ ok: false, message: 'error SubPath `/etc` must not be an absolute path' });
  });

  test('a subPath with a ".." element is refused, as upstream words it', async () => {
    expect(await mountsOf([{ name: 'data', mountPath: '/x', subPathExpr: 'a/$(P)' }], { P: '..' })).toEqual({ ok: false, message: "unable to provision SubPath `a/..`: must not contain '..'" });
  });

  test('a subPath whose symlink leads out of the volume is refused, naming where it resolves', async () => {
    const outside = join(root, 'outside');
    await mkdir(outside);
    await symlink(outside, join(data, 'out'));
    expect(await mountsOf([{ name: 'data', mountPath: '/stolen', subPath: 'out' }])).toEqual(prepareFailed(`subPath "out" resolves to ${outside}, outside the volume`));
  });

  test('a relative symlink out of the volume is refused too', async () => {
    await symlink('../../outside-file', join(data, 'rel'));
    await writeFile(join(root, 'outside-file'), 'secret');
    expect(await mountsOf([{ name: 'data', mountPath: '/stolen', subPath: 'rel' }])).toEqual(prepareFailed(`subPath "rel" resolves to ${join(root, 'outside-file')}, outside the volume`));
  });

  test('a missing subPath below a symlink out of the volume is refused and nothing is created outside', async () => {
    const outside = join(root, 'outside');
    await mkdir(outside);
    await symlink(outside, join(data, 'out'));
    expect(await mountsOf([{ name: 'data', mountPath: '/stolen', subPath: 'out/new/dir' }])).toEqual(
      prepareFailed(`subPath "out/new/dir" resolves to ${join(outside, 'new/dir')}, outside the volume`),
    );
    expect(await readdir(outside)).toEqual([]);
  });

  test('a dangling symlink in a writable volume is not followed to create its target', async () => {
    await symlink(join(root, 'outside-dir'), join(data, 'dangling'));
    expect(await mountsOf([{ name: 'data', mountPath: '/x', subPath: 'dangling' }])).toEqual(prepareFailed('subPath "dangling": dangling exists and is not a directory (ENOTDIR)'));
    await expect(lstat(join(root, 'outside-dir'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  test('a symlink that stays inside the volume resolves to its target', async () => {
    await mkdir(join(data, 'real'));
    await symlink('real', join(data, 'alias'));
    await expectBound(await mountsOf([{ name: 'data', mountPath: '/x', subPath: 'alias' }]), 'data', join(data, 'real'), '/x');
  });

  test('a subPath through the ..data links of an atomically written volume resolves to the real file', async () => {
    const written = await writeAtomically(config, new Map([['app.conf', { data: Buffer.from('x'), mode: 0o644 }]]));
    expect(written).toEqual({ ok: true, changed: true });
    const timestamped = await readlink(join(config, '..data'));
    await expectBound(await mountsOf([{ name: 'config', mountPath: '/etc/app.conf', subPath: 'app.conf' }]), 'config', join(config, timestamped, 'app.conf'), '/etc/app.conf', true);
  });

  test('a volume reached through a symlink: the subPath resolves below the volume\'s real path', async () => {
    await symlink(data, join(root, 'data-link'));
    await mkdir(join(data, 'logs'));
    const result = await containerMounts(
      ctr('main', { volumeMounts: [{ name: 'data', mountPath: '/logs', subPath: 'logs' }] }),
      new Map([['data', { hostPath: join(root, 'data-link'), readOnly: false }]]),
      new Map(),
      target,
    );
    await expectBound(result, 'data', join(data, 'logs'), '/logs');
  });

  test('a subPath below a file fails without throwing', async () => {
    await writeFile(join(data, 'file'), 'x');
    expect(await mountsOf([{ name: 'data', mountPath: '/x', subPath: 'file/below' }])).toEqual(prepareFailed(`subPath "file/below": ${join(data, 'file')} is not a directory`));
  });
});
