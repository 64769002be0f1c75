import { mkdir, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import type { DefaultedPod, PersistentVolume } from '../../../../common/api/types.js';
import type { ClaimResolution, PersistentVolumeClaimSource } from '../../../../agent/volumes/plugins/volume-plugin.js';
import { RootDir } from '../../../../agent/volumes/root-dir.js';
import { VolumeManager } from '../../../../agent/volumes/volume-manager.js';
import { pod } from '../../fixtures.js';
import { removeTempRoot, tempRoot } from './tmp-mounts.js';

let root: string;
let rootDir: RootDir;

beforeEach(async () => {
  root = await tempRoot('dockerlet-pvc-');
  rootDir = new RootDir(join(root, 'kubelet'));
});

afterEach(async () => {
  await removeTempRoot(root);
});

const noObjects = { configMap: () => undefined, secret: () => undefined };
const node = { name: 'node-1', labels: { 'kubernetes.io/hostname': 'node-1', 'topology.example/zone': 'a' } };

function manager(allowedHostPathPrefixes: readonly string[] = []): VolumeManager {
  return new VolumeManager({ rootDir, allowedHostPathPrefixes, nodeAllocatable: { milliCpu: 1000, memoryBytes: 2 ** 30, ephemeralStorageBytes: 2 ** 34 }, node });
}

/** Claims that resolve to `volume` (provisioned by dockerlet itself, or not), or fail with `message`. */
function claims(resolution: { volume: PersistentVolume; provisioned?: boolean } | { message: string }): PersistentVolumeClaimSource & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    async resolve(namespace, claimName): Promise<ClaimResolution> {
      asked.push(`${namespace}/${claimName}`);
      return 'message' in resolution ? { ok: false, message: resolution.message } : { ok: true, ...resolution };
    },
  };
}

const volumeOf = (spec: PersistentVolume['spec']): PersistentVolume => ({ metadata: { name: 'pv-1' }, spec: { capacity: { storage: '1Gi' }, accessModes: ['ReadWriteOnce'], claimRef: { name: 'data', namespace: 'default', uid: 'claim-uid' }, ...spec } });

const podWithClaim = (readOnly?: boolean, fsGroup?: number): DefaultedPod =>
  pod({ volumes: [{ name: 'store', persistentVolumeClaim: { claimName: 'data', ...(readOnly === undefined ? {} : { readOnly }) } }], ...(fsGroup === undefined ? {} : { securityContext: { fsGroup } }) });

describe('persistentVolumeClaim volumes', () => {
  test('a claim bound to a hostPath PV mounts the host path, writable; nothing is made under the pod\'s directory', async () => {
    const host = join(root, 'srv/data');
    const source = claims({ volume: volumeOf({ hostPath: { path: host, type: 'DirectoryOrCreate' } }) });
    const result = await manager().setUpPod(podWithClaim(), { objects: noObjects, claims: source });
    expect(result).toEqual({ ok: true, volumes: new Map([['store', { hostPath: host, readOnly: false }]]) });
    expect(source.asked).toEqual(['default/data']);
    expect((await stat(host)).isDirectory()).toBe(true);
    await expect(stat(rootDir.podDir('uid-1'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  test('a hostPath PV keeps the hostPath checks: its type, and the node\'s allowed prefixes', async () => {
    const file = join(root, 'a-file');
    await writeFile(file, 'x');
    const typed = await manager().setUpPod(podWithClaim(), { objects: noObjects, claims: claims({ volume: volumeOf({ hostPath: { path: file, type: 'Directory' } }) }) });
    expect(typed).toEqual({ ok: false, volume: 'store', message: `hostPath type check failed: ${file} is not a directory` });
    const refused = await manager([join(root, 'allowed')]).setUpPod(podWithClaim(), { objects: noObjects, claims: claims({ volume: volumeOf({ hostPath: { path: join(root, 'srv') } }) }) });
    expect(refused).toMatchObject({ ok: false, message: expect.stringContaining('is not allowed on this node') });
  });

  test('a local PV mounts its path; readOnly on the claim makes it read-only', async () => {
    const path = join(root, 'disks/one');
    await mkdir(path, { recursive: true });
    const source = claims({ volume: volumeOf({ local: { path } }) });
    expect(await manager().setUpPod(podWithClaim(), { objects: noObjects, claims: source })).toEqual({ ok: true, volumes: new Map([['store', { hostPath: path, readOnly: false }]]) });
    expect(await manager().setUpPod(podWithClaim(true), { objects: noObjects, claims: source })).toEqual({ ok: true, volumes: new Map([['store', { hostPath: path, readOnly: true }]]) });
  });

  test('a local PV outside the node\'s allowed prefixes is refused, wherever its links lead; one dockerlet provisioned itself is not', async () => {
    const allowed = join(root, 'allowed');
    const outside = join(root, 'disks/one');
    await mkdir(outside, { recursive: true });
    await mkdir(allowed);
    await symlink(outside, join(allowed, 'link'));
    for (const path of [outside, join(allowed, 'link')]) {
      expect(await manager([allowed]).setUpPod(podWithClaim(), { objects: noObjects, claims: claims({ volume: volumeOf({ local: { path } }) }) })).toEqual({
        ok: false,
        volume: 'store',
        message: `local PersistentVolume "pv-1" at ${JSON.stringify(path)} is not allowed on this node: it is under none of the allowed prefixes ${JSON.stringify(allowed)} (--allowed-host-path-prefixes)`,
      });
    }
    expect(await manager([allowed]).setUpPod(podWithClaim(), { objects: noObjects, claims: claims({ volume: volumeOf({ local: { path: outside } }), provisioned: true }) })).toMatchObject({ ok: true });
  });

  test('a pod whose first set-up failed has claims this agent does not know: claimsOf says so', async () => {
    const path = join(root, 'disks/one');
    await mkdir(path, { recursive: true });
    const volumes = manager();
    const p = pod({ volumes: [{ name: 'store', persistentVolumeClaim: { claimName: 'data' } }, { name: 'settings', configMap: { name: 'missing' } }] });
    expect(await volumes.setUpPod(p, { objects: noObjects, claims: claims({ volume: volumeOf({ local: { path } }) }) })).toMatchObject({ ok: false, volume: 'settings' });
    expect(volumes.claimsOf('uid-1')).toBeUndefined();
  });

  test('once mounted, a claim\'s volume stays for the pod\'s life: a source that fails later (an API server away) stops nothing', async () => {
    const path = join(root, 'disks/one');
    await mkdir(path, { recursive: true });
    const volumes = manager();
    const p = podWithClaim();
    await volumes.setUpPod(p, { objects: noObjects, claims: claims({ volume: volumeOf({ local: { path } }) }) });
    const away = claims({ message: 'failed to fetch PVC from API server: connection refused' });
    expect(await volumes.setUpPod(p, { objects: noObjects, claims: away })).toEqual({ ok: true, volumes: new Map([['store', { hostPath: path, readOnly: false }]]) });
    expect(away.asked).toEqual([]);
    await volumes.tearDownPod('uid-1');
    expect(await volumes.setUpPod(p, { objects: noObjects, claims: away })).toMatchObject({ ok: false });
  });

  test('a local PV whose path is missing fails, naming the path', async () => {
    const path = join(root, 'disks/missing');
    const result = await manager().setUpPod(podWithClaim(), { objects: noObjects, claims: claims({ volume: volumeOf({ local: { path } }) }) });
    expect(result).toEqual({ ok: false, volume: 'store', message: `local PersistentVolume "pv-1": path ${JSON.stringify(path)} does not exist on this node` });
  });

  test('a local PV of another node fails its node affinity check', async () => {
    const path = join(root, 'disks/one');
    await mkdir(path, { recursive: true });
    const otherNode = { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: ['node-2'] }] }] } };
    for (const elsewhere of [volumeOf({ local: { path }, nodeAffinity: otherNode }), volumeOf({ hostPath: { path }, nodeAffinity: otherNode })]) {
      expect(await manager().setUpPod(podWithClaim(), { objects: noObjects, claims: claims({ volume: elsewhere }) })).toEqual({
        ok: false,
        volume: 'store',
        message: 'NodeAffinity check failed for PersistentVolume "pv-1": no matching NodeSelectorTerms (it is meant for another node)',
      });
    }
    const here = volumeOf({
      local: { path },
      nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: ['node-2'] }] }, { matchExpressions: [{ key: 'topology.example/zone', operator: 'Exists' }, { key: 'kubernetes.io/hostname', operator: 'NotIn', values: ['node-3'] }] }] } },
    });
    expect(await manager().setUpPod(podWithClaim(), { objects: noObjects, claims: claims({ volume: here }) })).toMatchObject({ ok: true });
  });

  test('a writable local PV gets the pod\'s fsGroup on its root (group, g+rwx, setgid); a read-only one is left as it is', async () => {
    const path = join(root, 'disks/one');
    await mkdir(path, { recursive: true, mode: 0o755 });
    const source = claims({ volume: volumeOf({ local: { path } }) });
    await manager().setUpPod(podWithClaim(true, 4321), { objects: noObjects, claims: source });
    expect((await stat(path)).gid).not.toBe(4321);
    await manager().setUpPod(podWithClaim(false, 4321), { objects: noObjects, claims: source });
    const info = await stat(path);
    expect(info.gid).toBe(4321);
    expect((info.mode & 0o7777).toString(8)).toBe('2775');
  });

  test('an unbound claim fails with the kubelet\'s words, naming the claim', async () => {
    expect(await manager().setUpPod(podWithClaim(), { objects: noObjects, claims: claims({ message: 'PVC is not bound' }) })).toEqual({
      ok: false,
      volume: 'store',
      message: 'error processing PVC default/data: PVC is not bound',
    });
  });

  test('a PV of a kind the node cannot mount, or of volumeMode Block, fails naming it', async () => {
    const nfs = volumeOf({ nfs: { server: 'nfs.example', path: '/export' } });
    expect(await manager().setUpPod(podWithClaim(), { objects: noObjects, claims: claims({ volume: nfs }) })).toEqual({
      ok: false,
      volume: 'store',
      message: 'PersistentVolume "pv-1" is a nfs volume: dockerlet mounts only hostPath and local PersistentVolumes',
    });
    const block = volumeOf({ local: { path: root }, volumeMode: 'Block' });
    expect(await manager().setUpPod(podWithClaim(), { objects: noObjects, claims: claims({ volume: block }) })).toMatchObject({ ok: false, message: 'PersistentVolume "pv-1" has volumeMode Block: dockerlet mounts only volumeMode Filesystem (no volumeDevices)' });
  });

  test('volumeStats reports a local PV\'s usage with its claim; a hostPath PV\'s is left out', async () => {
    const path = join(root, 'disks/one');
    await mkdir(path, { recursive: true });
    await writeFile(join(path, 'blob'), Buffer.alloc(64 * 1024));
    const volumes = manager();
    const p = podWithClaim();
    await volumes.setUpPod(p, { objects: noObjects, claims: claims({ volume: volumeOf({ local: { path } }) }) });
    const [stats] = await volumes.volumeStats(p);
    expect(stats).toMatchObject({ name: 'store', pvcRef: { name: 'data', namespace: 'default' } });
    expect(stats!.usedBytes).toBeGreaterThanOrEqual(64 * 1024);
    expect(volumes.claimsOf('uid-1')).toEqual([{ name: 'data', namespace: 'default' }]);
    const other = pod({ volumes: [{ name: 'store', persistentVolumeClaim: { claimName: 'data' } }] }, { uid: 'uid-2' });
    await volumes.setUpPod(other, { objects: noObjects, claims: claims({ volume: volumeOf({ hostPath: { path } }) }) });
    expect(await volumes.volumeStats(other)).toEqual([]);
    expect(volumes.claimsOf('uid-2')).toEqual([{ name: 'data', namespace: 'default' }]);
  });
});
