import { execFileSync } from 'node:child_process';
import { link, lstat, mkdir, readdir, readFile, readlink, stat, symlink, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import type { ConfigMap, DefaultedPod, Secret, Volume } from '../../../../common/api/types.js';
import type { ConfigObjectLookup } from '../../../../agent/config/config-objects.js';
import { RootDir } from '../../../../agent/volumes/root-dir.js';
import { VolumeManager, type MountedVolume, type PodVolumes } from '../../../../agent/volumes/volume-manager.js';
import { ctr, pod } from '../../fixtures.js';
import { mountPointsBelow, mountsAt, removeTempRoot, tempRoot } from './tmp-mounts.js';

const MiB = 1024 * 1024;
const allocatable = { milliCpu: 4000, memoryBytes: 64 * MiB, ephemeralStorageBytes: 100 * 2 ** 30 };

let root: string;
let rootDir: RootDir;

beforeEach(async () => {
  root = await tempRoot('dockerlet-volumes-');
  rootDir = new RootDir(join(root, 'kubelet'));
});

afterEach(async () => {
  await removeTempRoot(root);
});

/** ConfigMaps and Secrets of namespace default, changed by the test between calls. */
class Objects implements ConfigObjectLookup {
  configMaps = new Map<string, ConfigMap>();
  secrets = new Map<string, Secret>();

  configMap(namespace: string, name: string): ConfigMap | undefined {
    return namespace === 'default' ? this.configMaps.get(name) : undefined;
  }

  secret(namespace: string, name: string): Secret | undefined {
    return namespace === 'default' ? this.secrets.get(name) : undefined;
  }

  withConfigMap(name: string, data: Record<string, string>): this {
    this.configMaps.set(name, { metadata: { name, namespace: 'default' }, data });
    return this;
  }

  withSecret(name: string, stringData: Record<string, string>): this {
    this.secrets.set(name, { metadata: { name, namespace: 'default' }, stringData });
    return this;
  }
}

function manager(allowedHostPathPrefixes: readonly string[] = []): VolumeManager {
  return new VolumeManager({ rootDir, allowedHostPathPrefixes, nodeAllocatable: allocatable, node: { name: 'node-1', labels: { 'kubernetes.io/hostname': 'node-1' } } });
}

const podWith = (...volumes: Volume[]): DefaultedPod => pod({ volumes });

/** pods/uid-1/volumes/kubernetes.io~<plugin>/<name> under the test's root dir. */
const volumeDir = (plugin: string, name: string): string => rootDir.volumeDir('uid-1', plugin, name);

function mounted(result: PodVolumes): Map<string, MountedVolume> {
  if (!result.ok) throw new Error(`expected the volumes set up, got ${result.volume}: ${result.message}`);
  return result.volumes;
}

/** A payload volume's visible files: name -> [content, mode], read through its links. */
async function payloadFiles(dir: string): Promise<Record<string, [string, string]>> {
  const files: Record<string, [string, string]> = {};
  for (const name of (await readdir(dir)).filter((n) => !n.startsWith('..')).sort()) {
    files[name] = [await readFile(join(dir, name), 'utf8'), ((await stat(join(dir, name))).mode & 0o777).toString(8)];
  }
  return files;
}

const mode = async (path: string): Promise<string> => ((await stat(path)).mode & 0o7777).toString(8);

describe('setUpPod: emptyDir', () => {
  test('a disk emptyDir is a directory of mode 0777 under the pod\'s volumes, writable by containers', async () => {
    const volumes = mounted(await manager().setUpPod(podWith({ name: 'data', emptyDir: {} }), { objects: new Objects() }));
    expect(volumes).toEqual(new Map([['data', { hostPath: join(root, 'kubelet/pods/uid-1/volumes/kubernetes.io~empty-dir/data'), readOnly: false }]]));
    expect(await mode(volumeDir('empty-dir', 'data'))).toBe('777');
    expect(mountPointsBelow(root)).toEqual([]);
  });

  test('medium Memory is a tmpfs of size sizeLimit, root mode 1777 as tmpfs makes it', async () => {
    const volumes = mounted(await manager().setUpPod(podWith({ name: 'scratch', emptyDir: { medium: 'Memory', sizeLimit: '8Mi' } }), { objects: new Objects() }));
    const dir = volumeDir('empty-dir', 'scratch');
    expect(volumes.get('scratch')).toEqual({ hostPath: dir, readOnly: false });
    const [mount, ...more] = mountsAt(dir);
    expect(more).toEqual([]);
    expect(mount!.fsType).toBe('tmpfs');
    expect(mount!.superOptions).toContain('size=8192k');
    expect(await mode(dir)).toBe('1777');
  });

  test('medium Memory without a sizeLimit is sized by the node\'s allocatable memory', async () => {
    await manager().setUpPod(podWith({ name: 'scratch', emptyDir: { medium: 'Memory' } }), { objects: new Objects() });
    expect(mountsAt(volumeDir('empty-dir', 'scratch'))[0]!.superOptions).toContain('size=65536k');
  });

  test('medium Memory with a sizeLimit above the node\'s allocatable memory is capped by it', async () => {
    await manager().setUpPod(podWith({ name: 'scratch', emptyDir: { medium: 'Memory', sizeLimit: '1Gi' } }), { objects: new Objects() });
    expect(mountsAt(volumeDir('empty-dir', 'scratch'))[0]!.superOptions).toContain('size=65536k');
  });

  test('medium Memory in a pod whose every container has a memory limit is capped by their sum', async () => {
    const limited = (name: string, memory: string) => ctr(name, { resources: { limits: { memory } } });
    const p = pod({ containers: [limited('a', '12Mi'), limited('b', '4Mi')], volumes: [{ name: 'scratch', emptyDir: { medium: 'Memory', sizeLimit: '32Mi' } }] });
    await manager().setUpPod(p, { objects: new Objects() });
    expect(mountsAt(volumeDir('empty-dir', 'scratch'))[0]!.superOptions).toContain('size=16384k');
  });

  test('a pod memory limit is not used when one container has none', async () => {
    const p = pod({
      containers: [ctr('a', { resources: { limits: { memory: '12Mi' } } }), ctr('b')],
      volumes: [{ name: 'scratch', emptyDir: { medium: 'Memory', sizeLimit: '32Mi' } }],
    });
    await manager().setUpPod(p, { objects: new Objects() });
    expect(mountsAt(volumeDir('empty-dir', 'scratch'))[0]!.superOptions).toContain('size=32768k');
  });

  test('a second setUpPod mounts nothing twice and keeps what containers wrote', async () => {
    const p = podWith({ name: 'scratch', emptyDir: { medium: 'Memory', sizeLimit: '8Mi' } }, { name: 'data', emptyDir: {} });
    const volumes = manager();
    await volumes.setUpPod(p, { objects: new Objects() });
    await writeFile(join(volumeDir('empty-dir', 'scratch'), 'in-memory'), 'a');
    await writeFile(join(volumeDir('empty-dir', 'data'), 'on-disk'), 'b');
    await volumes.setUpPod(p, { objects: new Objects() });
    expect(mountsAt(volumeDir('empty-dir', 'scratch'))).toHaveLength(1);
    expect(await readFile(join(volumeDir('empty-dir', 'scratch'), 'in-memory'), 'utf8')).toBe('a');
    expect(await readFile(join(volumeDir('empty-dir', 'data'), 'on-disk'), 'utf8')).toBe('b');
    expect(await mode(volumeDir('empty-dir', 'scratch'))).toBe('1777');
  });
});

describe('setUpPod: kinds dockerlet does not serve', () => {
  test('a volume of a kind it does not serve fails with a message naming the volume and its kind; nothing is made', async () => {
    const share = { name: 'share', nfs: { server: 'nfs.example', path: '/export' } };
    expect(await manager().setUpPod(podWith(share), { objects: new Objects() })).toEqual({
      ok: false,
      volume: 'share',
      message: 'volume kind nfs is not served by dockerlet (it serves emptyDir, hostPath, configMap, secret, downwardAPI, projected, persistentVolumeClaim)',
    });
    expect(await readdir(root)).toEqual([]);
  });

  test('its usage is left out of volumeStats, the other volumes\' kept', async () => {
    const volumes = manager();
    const p = podWith({ name: 'scratch', emptyDir: {} }, { name: 'share', nfs: { server: 'nfs.example', path: '/export' } });
    await volumes.setUpPod(podWith({ name: 'scratch', emptyDir: {} }), { objects: new Objects() });
    expect((await volumes.volumeStats(p)).map((v) => v.name)).toEqual(['scratch']);
  });
});

describe('setUpPod: hostPath', () => {
  test('passes the path through, writable, and makes nothing under the pod\'s directory', async () => {
    const host = join(root, 'host/data');
    await mkdir(host, { recursive: true });
    const volumes = mounted(await manager().setUpPod(podWith({ name: 'host', hostPath: { path: host, type: 'Directory' } }), { objects: new Objects() }));
    expect(volumes).toEqual(new Map([['host', { hostPath: host, readOnly: false }]]));
    await expect(stat(rootDir.volumesDir('uid-1'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  test('a failed type check stops setUpPod with the checker\'s message', async () => {
    const file = join(root, 'a-file');
    await writeFile(file, 'x');
    const result = await manager().setUpPod(podWith({ name: 'host', hostPath: { path: file, type: 'Directory' } }), { objects: new Objects() });
    expect(result).toEqual({ ok: false, volume: 'host', message: `hostPath type check failed: ${file} is not a directory` });
  });

  test('with no type, a missing path is created as a directory (as Docker\'s binds do)', async () => {
    const host = join(root, 'host/new');
    mounted(await manager().setUpPod(podWith({ name: 'host', hostPath: { path: host } }), { objects: new Objects() }));
    expect((await stat(host)).isDirectory()).toBe(true);
  });

  test('a path under none of the allowed prefixes is refused, naming them', async () => {
    const allowed = join(root, 'allowed');
    const elsewhere = join(root, 'elsewhere');
    await mkdir(elsewhere);
    const result = await manager([allowed, '/srv']).setUpPod(podWith({ name: 'host', hostPath: { path: elsewhere } }), { objects: new Objects() });
    expect(result).toEqual({
      ok: false,
      volume: 'host',
      message: `hostPath "${elsewhere}" is not allowed on this node: it is under none of the allowed prefixes "${allowed}", "/srv" (--allowed-host-path-prefixes)`,
    });
  });

  test('a path under an allowed prefix passes', async () => {
    const allowed = join(root, 'allowed');
    await mkdir(join(allowed, 'data'), { recursive: true });
    const volumes = mounted(await manager([allowed]).setUpPod(podWith({ name: 'host', hostPath: { path: join(allowed, 'data') } }), { objects: new Objects() }));
    expect(volumes.get('host')).toEqual({ hostPath: join(allowed, 'data'), readOnly: false });
  });

  test('what is mounted is where the path leads, the very path that was checked', async () => {
    const allowed = join(root, 'allowed');
    await mkdir(join(allowed, 'real'), { recursive: true });
    await symlink(join(allowed, 'real'), join(allowed, 'link'));
    const volumes = mounted(await manager([allowed]).setUpPod(podWith({ name: 'host', hostPath: { path: join(allowed, 'link'), type: 'Directory' } }), { objects: new Objects() }));
    expect(volumes.get('host')).toEqual({ hostPath: join(allowed, 'real'), readOnly: false });
  });

  test('a symlink under an allowed prefix that points outside it is refused', async () => {
    const allowed = join(root, 'allowed');
    await mkdir(allowed);
    await mkdir(join(root, 'secret-place'));
    await symlink(join(root, 'secret-place'), join(allowed, 'link'));
    const result = await manager([allowed]).setUpPod(podWith({ name: 'host', hostPath: { path: join(allowed, 'link'), type: 'Directory' } }), { objects: new Objects() });
    expect(result).toEqual({
      ok: false,
      volume: 'host',
      message: `hostPath "${join(allowed, 'link')}" is not allowed on this node: it is under none of the allowed prefixes "${allowed}" (--allowed-host-path-prefixes)`,
    });
  });

  test('a path still to be created through such a symlink is refused, and nothing is created outside', async () => {
    const allowed = join(root, 'allowed');
    await mkdir(allowed);
    await mkdir(join(root, 'secret-place'));
    await symlink(join(root, 'secret-place'), join(allowed, 'link'));
    const path = join(allowed, 'link/new/dir');
    const result = await manager([allowed]).setUpPod(podWith({ name: 'host', hostPath: { path, type: 'DirectoryOrCreate' } }), { objects: new Objects() });
    expect(result).toEqual({
      ok: false,
      volume: 'host',
      message: `hostPath "${path}" is not allowed on this node: it is under none of the allowed prefixes "${allowed}" (--allowed-host-path-prefixes)`,
    });
    expect(await readdir(join(root, 'secret-place'))).toEqual([]);
  });

  test('a dangling symlink under an allowed prefix that points outside it is refused', async () => {
    const allowed = join(root, 'allowed');
    await mkdir(allowed);
    await symlink(join(root, 'outside/not-yet'), join(allowed, 'dangling'));
    const result = await manager([allowed]).setUpPod(podWith({ name: 'host', hostPath: { path: join(allowed, 'dangling') } }), { objects: new Objects() });
    expect(result).toEqual({
      ok: false,
      volume: 'host',
      message: `hostPath "${join(allowed, 'dangling')}" is not allowed on this node: it is under none of the allowed prefixes "${allowed}" (--allowed-host-path-prefixes)`,
    });
    await expect(lstat(join(root, 'outside'))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('setUpPod: configMap, secret, downwardAPI and projected', () => {
  test('a configMap volume is written through the atomic writer (names linked into ..data), mode 0644, read-only', async () => {
    const objects = new Objects().withConfigMap('settings', { level: 'info', 'app.yaml': 'debug: true\n' });
    const volumes = mounted(await manager().setUpPod(podWith({ name: 'config', configMap: { name: 'settings' } }), { objects }));
    const dir = volumeDir('configmap', 'config');
    expect(volumes.get('config')).toEqual({ hostPath: dir, readOnly: true });
    expect(await readlink(join(dir, 'level'))).toBe('..data/level');
    expect(await readlink(join(dir, '..data'))).toMatch(/^\.\.\d{4}_\d{2}_\d{2}_\d{2}_\d{2}_\d{2}\.\w+$/);
    expect(await payloadFiles(dir)).toEqual({ 'app.yaml': ['debug: true\n', '644'], level: ['info', '644'] });
    expect(mountsAt(dir)).toEqual([]);
  });

  test('a missing ConfigMap that is not optional stops setUpPod: later volumes are not set up', async () => {
    const p = podWith({ name: 'config', configMap: { name: 'absent' } }, { name: 'data', emptyDir: {} });
    const result = await manager().setUpPod(p, { objects: new Objects() });
    expect(result).toEqual({ ok: false, volume: 'config', message: 'configmap "absent" not found' });
    await expect(stat(volumeDir('empty-dir', 'data'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  test('a missing optional ConfigMap gives an empty volume', async () => {
    const volumes = mounted(await manager().setUpPod(podWith({ name: 'config', configMap: { name: 'absent', optional: true } }), { objects: new Objects() }));
    expect(volumes.get('config')).toEqual({ hostPath: volumeDir('configmap', 'config'), readOnly: true });
    expect(await payloadFiles(volumeDir('configmap', 'config'))).toEqual({});
  });

  test('a second setUpPod with a changed ConfigMap rewrites the content; a removed key is gone', async () => {
    const p = podWith({ name: 'config', configMap: { name: 'settings' } });
    const objects = new Objects().withConfigMap('settings', { level: 'info', old: 'x' });
    const volumes = manager();
    await volumes.setUpPod(p, { objects });
    objects.withConfigMap('settings', { level: 'debug' });
    mounted(await volumes.setUpPod(p, { objects }));
    expect(await payloadFiles(volumeDir('configmap', 'config'))).toEqual({ level: ['debug', '644'] });
  });

  test('a secret volume is a tmpfs (mode 1777, sized by the node\'s allocatable memory) with the keys, read-only', async () => {
    const objects = new Objects().withSecret('creds', { user: 'admin', password: 'hunter2' });
    const volumes = mounted(await manager().setUpPod(podWith({ name: 'creds', secret: { secretName: 'creds', defaultMode: 0o400 } }), { objects }));
    const dir = volumeDir('secret', 'creds');
    expect(volumes.get('creds')).toEqual({ hostPath: dir, readOnly: true });
    const [mount, ...more] = mountsAt(dir);
    expect(more).toEqual([]);
    expect(mount!.fsType).toBe('tmpfs');
    expect(mount!.superOptions).toContain('size=65536k');
    expect(await mode(dir)).toBe('1777');
    expect(await payloadFiles(dir)).toEqual({ password: ['hunter2', '400'], user: ['admin', '400'] });
  });

  test('a second setUpPod with a changed Secret rewrites it on the same tmpfs', async () => {
    const p = podWith({ name: 'creds', secret: { secretName: 'creds' } });
    const objects = new Objects().withSecret('creds', { user: 'admin' });
    const volumes = manager();
    await volumes.setUpPod(p, { objects });
    objects.withSecret('creds', { user: 'root' });
    mounted(await volumes.setUpPod(p, { objects }));
    expect(mountsAt(volumeDir('secret', 'creds'))).toHaveLength(1);
    expect(await payloadFiles(volumeDir('secret', 'creds'))).toEqual({ user: ['root', '644'] });
  });

  test.each([
    ['downwardAPI', 'downward-api', { downwardAPI: { items: [{ path: 'name', fieldRef: { fieldPath: 'metadata.name' } }] } }],
    ['projected', 'projected', { projected: { sources: [{ secret: { name: 'creds' } }] } }],
  ])('a %s volume is on a tmpfs too, mounted once however often it is set up', async (_kind, plugin, source) => {
    const p = podWith({ name: 'meta', ...source });
    const objects = new Objects().withSecret('creds', { user: 'admin' });
    const volumes = manager();
    await volumes.setUpPod(p, { objects });
    mounted(await volumes.setUpPod(p, { objects }));
    const [mount, ...more] = mountsAt(volumeDir(plugin, 'meta'));
    expect(more).toEqual([]);
    expect(mount!.fsType).toBe('tmpfs');
  });

  test('a missing Secret fails the volume before anything is mounted', async () => {
    const result = await manager().setUpPod(podWith({ name: 'creds', secret: { secretName: 'absent' } }), { objects: new Objects() });
    expect(result).toEqual({ ok: false, volume: 'creds', message: 'secret "absent" not found' });
    expect(mountPointsBelow(root)).toEqual([]);
  });

  test('a downwardAPI volume holds the pod\'s fields, read-only', async () => {
    const p = pod(
      { volumes: [{ name: 'info', downwardAPI: { items: [{ path: 'name', fieldRef: { fieldPath: 'metadata.name' } }, { path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } }] } }] },
      { labels: { app: 'web', tier: 'front' } },
    );
    const volumes = mounted(await manager().setUpPod(p, { objects: new Objects() }));
    expect(volumes.get('info')).toEqual({ hostPath: volumeDir('downward-api', 'info'), readOnly: true });
    expect(await payloadFiles(volumeDir('downward-api', 'info'))).toEqual({ labels: ['app="web"\ntier="front"', '644'], name: ['web', '644'] });
  });

  test('a projected volume joins its sources in one directory, read-only', async () => {
    const objects = new Objects().withConfigMap('settings', { level: 'info' }).withSecret('creds', { token: 't0k3n' });
    const p = podWith({
      name: 'all',
      projected: {
        defaultMode: 0o440,
        sources: [{ configMap: { name: 'settings' } }, { secret: { name: 'creds' } }, { downwardAPI: { items: [{ path: 'ns', fieldRef: { fieldPath: 'metadata.namespace' } }] } }],
      },
    });
    const volumes = mounted(await manager().setUpPod(p, { objects }));
    expect(volumes.get('all')).toEqual({ hostPath: volumeDir('projected', 'all'), readOnly: true });
    expect(await payloadFiles(volumeDir('projected', 'all'))).toEqual({ level: ['info', '440'], ns: ['default', '440'], token: ['t0k3n', '440'] });
  });

  test('every volume of the pod is set up, in a map by name', async () => {
    const objects = new Objects().withConfigMap('settings', { level: 'info' });
    const p = podWith({ name: 'data', emptyDir: {} }, { name: 'config', configMap: { name: 'settings' } });
    const volumes = mounted(await manager().setUpPod(p, { objects }));
    expect([...volumes.keys()]).toEqual(['data', 'config']);
  });

  test('a file system failure while setting up is a failed volume, not a throw', async () => {
    await mkdir(rootDir.podsDir(), { recursive: true });
    await writeFile(rootDir.podDir('uid-1'), 'not a directory');
    const result = await manager().setUpPod(podWith({ name: 'data', emptyDir: {} }), { objects: new Objects() });
    expect(result).toEqual({ ok: false, volume: 'data', message: `ENOTDIR: not a directory, mkdir '${volumeDir('empty-dir', 'data')}'` });
  });
});

describe('tearDownPod', () => {
  test('unmounts the pod\'s tmpfs mounts, then removes its directory', async () => {
    const objects = new Objects().withSecret('creds', { user: 'admin' });
    const p = podWith({ name: 'scratch', emptyDir: { medium: 'Memory' } }, { name: 'creds', secret: { secretName: 'creds' } }, { name: 'data', emptyDir: {} });
    const volumes = manager();
    mounted(await volumes.setUpPod(p, { objects }));
    expect(mountPointsBelow(root)).toHaveLength(2);
    await volumes.tearDownPod('uid-1');
    expect(mountPointsBelow(root)).toEqual([]);
    await expect(stat(rootDir.podDir('uid-1'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  test('never touches a hostPath\'s contents, even through a symlink a container left in an emptyDir', async () => {
    const host = join(root, 'host');
    await mkdir(host);
    await writeFile(join(host, 'precious'), 'keep me');
    const volumes = manager();
    mounted(await volumes.setUpPod(podWith({ name: 'host', hostPath: { path: host } }, { name: 'data', emptyDir: {} }), { objects: new Objects() }));
    await symlink(host, join(volumeDir('empty-dir', 'data'), 'to-host'));
    await volumes.tearDownPod('uid-1');
    expect(await readdir(host)).toEqual(['precious']);
    expect(await readFile(join(host, 'precious'), 'utf8')).toBe('keep me');
    await expect(stat(rootDir.podDir('uid-1'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  test('leaves other pods\' directories and mounts alone', async () => {
    const volumes = manager();
    const other = pod({ volumes: [{ name: 'scratch', emptyDir: { medium: 'Memory' } }] }, { uid: 'uid-2' });
    mounted(await volumes.setUpPod(podWith({ name: 'scratch', emptyDir: { medium: 'Memory' } }), { objects: new Objects() }));
    mounted(await volumes.setUpPod(other, { objects: new Objects() }));
    await volumes.tearDownPod('uid-1');
    expect(mountPointsBelow(root)).toEqual([rootDir.volumeDir('uid-2', 'empty-dir', 'scratch')]);
  });

  test('a pod with no directory: nothing to do', async () => {
    await manager().tearDownPod('uid-unknown');
    await expect(stat(rootDir.podsDir())).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('emptyDirUsage', () => {
  /** Allocated bytes below `dir` as du counts them (hard links once, one file system). */
  const du = (dir: string): number => Number(execFileSync('du', ['-s', '-x', '-B1', dir], { encoding: 'utf8' }).split('\t')[0]);

  test('counts allocated bytes only for disk emptyDirs with a sizeLimit', async () => {
    const p = podWith(
      { name: 'limited', emptyDir: { sizeLimit: '1Mi' } },
      { name: 'unlimited', emptyDir: {} },
      { name: 'memory', emptyDir: { medium: 'Memory', sizeLimit: '1Mi' } },
    );
    const volumes = manager();
    mounted(await volumes.setUpPod(p, { objects: new Objects() }));
    await writeFile(join(volumeDir('empty-dir', 'limited'), 'blob'), Buffer.alloc(200_000, 7));
    await writeFile(join(volumeDir('empty-dir', 'unlimited'), 'blob'), Buffer.alloc(200_000, 7));
    const usage = await volumes.emptyDirUsage(p);
    expect(usage).toEqual([{ volume: 'limited', usedBytes: du(volumeDir('empty-dir', 'limited')), limitBytes: MiB }]);
    expect(usage[0]!.usedBytes).toBeGreaterThanOrEqual(200_000);
  });

  test('a sparse file counts its allocated blocks, not its apparent size', async () => {
    const p = podWith({ name: 'limited', emptyDir: { sizeLimit: '1Mi' } });
    const volumes = manager();
    mounted(await volumes.setUpPod(p, { objects: new Objects() }));
    const dir = volumeDir('empty-dir', 'limited');
    await writeFile(join(dir, 'sparse'), '');
    await truncate(join(dir, 'sparse'), 10 * MiB);
    const [usage] = await volumes.emptyDirUsage(p);
    expect(usage!.usedBytes).toBe(du(dir));
    expect(usage!.usedBytes).toBeLessThan(MiB);
  });

  test('a file with several hard links counts once', async () => {
    const p = podWith({ name: 'limited', emptyDir: { sizeLimit: '1Mi' } });
    const volumes = manager();
    mounted(await volumes.setUpPod(p, { objects: new Objects() }));
    const dir = volumeDir('empty-dir', 'limited');
    await writeFile(join(dir, 'blob'), Buffer.alloc(300_000, 1));
    const [before] = await volumes.emptyDirUsage(p);
    for (const name of ['a', 'b', 'c', 'd']) await link(join(dir, 'blob'), join(dir, name));
    const [after] = await volumes.emptyDirUsage(p);
    expect(after!.usedBytes).toBe(before!.usedBytes);
    expect(after!.usedBytes).toBe(du(dir));
  });

  test('symlinks are not followed', async () => {
    const outside = join(root, 'outside');
    await mkdir(outside);
    await writeFile(join(outside, 'big'), Buffer.alloc(2 * MiB, 1));
    const p = podWith({ name: 'limited', emptyDir: { sizeLimit: '1Mi' } });
    const volumes = manager();
    mounted(await volumes.setUpPod(p, { objects: new Objects() }));
    const dir = volumeDir('empty-dir', 'limited');
    await symlink(outside, join(dir, 'link'));
    const [usage] = await volumes.emptyDirUsage(p);
    expect(usage!.usedBytes).toBe(du(dir));
    expect(usage!.usedBytes).toBeLessThan(MiB);
  });

  test('a volume not set up yet uses nothing', async () => {
    const p = podWith({ name: 'limited', emptyDir: { sizeLimit: '500M' } });
    expect(await manager().emptyDirUsage(p)).toEqual([{ volume: 'limited', usedBytes: 0, limitBytes: 500_000_000 }]);
  });

  test('a sizeLimit of 0 sets no limit (upstream evicts only for a positive one)', async () => {
    const p = podWith({ name: 'zero', emptyDir: { sizeLimit: '0' } });
    const volumes = manager();
    mounted(await volumes.setUpPod(p, { objects: new Objects() }));
    expect(await volumes.emptyDirUsage(p)).toEqual([]);
  });
});
