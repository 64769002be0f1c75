import { mkdir, readdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import type { PersistentVolume, PersistentVolumeClaim, StorageClass } from '../../../../../common/api/types.js';
import { LocalClaims, ReclaimGraceMs } from '../../../../../agent/volumes/claims/local-claims.js';
import { RootDir } from '../../../../../agent/volumes/root-dir.js';
import { memoryLogger } from '../../../../helpers/memory-logger.js';
import { removeTempRoot, tempRoot } from '../tmp-mounts.js';

let root: string;
let rootDir: RootDir;
let now: number;
let logs: ReturnType<typeof memoryLogger>;

beforeEach(async () => {
  root = await tempRoot('dockerlet-claims-');
  rootDir = new RootDir(join(root, 'kubelet'));
  now = 1_000_000;
  logs = memoryLogger();
});

afterEach(async () => {
  await removeTempRoot(root);
});

const newClaims = (sources: Array<'file' | 'http'> = ['file']): LocalClaims => new LocalClaims({ rootDir, sources, clock: { now: () => now }, logger: logs.logger });

function claim(name: string, spec: Partial<NonNullable<PersistentVolumeClaim['spec']>> = {}, namespace = 'default'): PersistentVolumeClaim {
  return { apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name, namespace }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } }, ...spec } };
}

const storageClass = (name: string, extra: Partial<StorageClass> = {}): StorageClass => ({ apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass', metadata: { name }, provisioner: 'dockerlet.io/local-path', ...extra });

function declare(claims: LocalClaims, objects: { claims?: PersistentVolumeClaim[]; volumes?: PersistentVolume[]; classes?: StorageClass[] }, whole = true, source: 'file' | 'http' = 'file'): void {
  claims.set(source, { persistentVolumeClaims: objects.claims ?? [], persistentVolumes: objects.volumes ?? [], storageClasses: objects.classes ?? [] }, whole);
}

const dataDir = (name: string, namespace = 'default'): string => join(rootDir.claimDir(namespace, name), 'data');
const exists = async (path: string): Promise<boolean> => (await stat(path).catch(() => undefined)) !== undefined;

describe('LocalClaims: binding and provisioning', () => {
  test('a claim with no class is provisioned by the built-in class: a 0777 directory, a pv.json record, bound', async () => {
    const claims = newClaims();
    declare(claims, { claims: [claim('data')] });
    const resolved = await claims.resolve('default', 'data');
    expect(resolved).toMatchObject({
      ok: true,
      provisioned: true,
      volume: { metadata: { name: 'pvc-default.data' }, spec: { capacity: { storage: '1Gi' }, local: { path: dataDir('data') }, persistentVolumeReclaimPolicy: 'Delete', storageClassName: 'standard' } },
    });
    expect(((await stat(dataDir('data'))).mode & 0o777).toString(8)).toBe('777');
    const record = JSON.parse(await readFile(join(rootDir.claimDir('default', 'data'), 'pv.json'), 'utf8')) as PersistentVolume;
    expect(record.spec?.claimRef).toMatchObject({ namespace: 'default', name: 'data' });
  });

  test('a claim not declared, or of a class not declared, or with class "" and no volume, is pending with why', async () => {
    const claims = newClaims();
    declare(claims, { claims: [claim('fast', { storageClassName: 'ssd' }), claim('manual', { storageClassName: '' })] });
    expect(await claims.resolve('default', 'nothing')).toEqual({ ok: false, message: 'persistentvolumeclaims "nothing" not found: declare it in a manifest beside the pod' });
    expect(await claims.resolve('default', 'fast')).toEqual({ ok: false, message: 'PVC is not bound: storageclass.storage.k8s.io "ssd" not found' });
    expect(await claims.resolve('default', 'manual')).toMatchObject({ ok: false, message: expect.stringMatching(/^PVC is not bound: it has no StorageClass/) });
    expect(await exists(rootDir.persistentVolumesDir())).toBe(false);
  });

  test('a class of another provisioner leaves the claim to it, as the PV controller says', async () => {
    const claims = newClaims();
    declare(claims, { claims: [claim('data', { storageClassName: 'csi' })], classes: [storageClass('csi', { provisioner: 'ebs.csi.aws.com' })] });
    expect(await claims.resolve('default', 'data')).toEqual({
      ok: false,
      message: 'PVC is not bound: waiting for a volume to be created, either by external provisioner "ebs.csi.aws.com" or manually created by system administrator',
    });
  });

  test('a declared default class wins over the built-in one, and its reclaim policy is recorded', async () => {
    const claims = newClaims();
    const keep = storageClass('keep', { reclaimPolicy: 'Retain', metadata: { name: 'keep', annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } } });
    declare(claims, { claims: [claim('data')], classes: [keep] });
    expect(await claims.resolve('default', 'data')).toMatchObject({ ok: true, volume: { spec: { persistentVolumeReclaimPolicy: 'Retain', storageClassName: 'keep' } } });
  });

  test('a claim binds to the PersistentVolume it names, or to the one whose claimRef names it, if it is not another\'s and satisfies the claim', async () => {
    const claims = newClaims();
    const disk = (name: string, extra: Partial<NonNullable<PersistentVolume['spec']>> = {}): PersistentVolume => ({ metadata: { name }, spec: { capacity: { storage: '5Gi' }, accessModes: ['ReadWriteOnce'], hostPath: { path: `/srv/${name}` }, ...extra } });
    declare(claims, {
      claims: [
        claim('named', { volumeName: 'disk-a' }), claim('second', { volumeName: 'disk-a' }), claim('chosen'), claim('taken', { volumeName: 'disk-b' }), claim('missing', { volumeName: 'disk-z' }),
        claim('big', { volumeName: 'disk-c', resources: { requests: { storage: '10Gi' } } }), claim('shared', { volumeName: 'disk-d', accessModes: ['ReadWriteMany'] }), claim('fast', { volumeName: 'disk-e', storageClassName: 'ssd' }),
      ],
      volumes: [disk('disk-a'), disk('disk-b', { claimRef: { name: 'chosen' } }), disk('disk-c'), disk('disk-d'), disk('disk-e')],
    });
    expect(await claims.resolve('default', 'named')).toMatchObject({ ok: true, volume: { metadata: { name: 'disk-a' } } });
    expect(await claims.resolve('default', 'second')).toEqual({ ok: false, message: 'PVC is not bound: PersistentVolume "disk-a" is for claim default/named' });
    expect(await claims.resolve('default', 'chosen')).toMatchObject({ ok: true, volume: { metadata: { name: 'disk-b' } } });
    expect(await claims.resolve('default', 'taken')).toEqual({ ok: false, message: 'PVC is not bound: PersistentVolume "disk-b" is for claim default/chosen' });
    expect(await claims.resolve('default', 'missing')).toEqual({ ok: false, message: 'PVC is not bound: the PersistentVolume "disk-z" it names is not declared' });
    expect(await claims.resolve('default', 'big')).toEqual({ ok: false, message: 'PVC is not bound: Cannot bind to requested volume "disk-c": requested PV is too small' });
    expect(await claims.resolve('default', 'shared')).toEqual({ ok: false, message: 'PVC is not bound: Cannot bind to requested volume "disk-d": incompatible accessMode' });
    expect(await claims.resolve('default', 'fast')).toEqual({ ok: false, message: 'PVC is not bound: Cannot bind to requested volume "disk-e": storageClassName does not match' });
    expect(await exists(rootDir.persistentVolumesDir())).toBe(false);
    expect((await claims.list()).find((c) => c.metadata?.name === 'named')).toMatchObject({ spec: { volumeName: 'disk-a' }, status: { phase: 'Bound', capacity: { storage: '5Gi' } } });
  });

  test('once provisioned, the record is the binding: a volume declared later for the claim does not move it', async () => {
    const claims = newClaims();
    declare(claims, { claims: [claim('data')] });
    await claims.resolve('default', 'data');
    declare(claims, { claims: [claim('data')], volumes: [{ metadata: { name: 'disk' }, spec: { capacity: { storage: '5Gi' }, accessModes: ['ReadWriteOnce'], hostPath: { path: '/srv/disk' }, claimRef: { name: 'data' } } }] });
    expect(await claims.resolve('default', 'data')).toMatchObject({ ok: true, provisioned: true, volume: { spec: { local: { path: dataDir('data') } } } });
  });

  test('a link in place of a claim\'s directory, or of its namespace\'s, is refused, and nothing is made through it', async () => {
    const claims = newClaims();
    declare(claims, { claims: [claim('data'), claim('other', {}, 'apps')] });
    const elsewhere = join(root, 'elsewhere');
    await mkdir(elsewhere);
    await mkdir(join(rootDir.persistentVolumesDir(), 'default'), { recursive: true });
    await symlink(elsewhere, rootDir.claimDir('default', 'data'));
    await symlink(elsewhere, join(rootDir.persistentVolumesDir(), 'apps'));
    await expect(claims.resolve('default', 'data')).rejects.toThrow(/data is a symbolic link/);
    await expect(claims.resolve('apps', 'other')).rejects.toThrow(/apps is a symbolic link/);
    expect(await readdir(elsewhere)).toEqual([]);
  });

  test('nothing is provisioned before every source has been read: a class or a volume for the claim may come from any', async () => {
    const claims = newClaims(['file', 'http']);
    declare(claims, { claims: [claim('data')] });
    expect(await claims.resolve('default', 'data')).toEqual({ ok: false, message: 'waiting for the manifest sources to be read (http)' });
    declare(claims, { classes: [storageClass('keep', { reclaimPolicy: 'Retain', metadata: { name: 'keep', annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } } })] }, true, 'http');
    expect(await claims.resolve('default', 'data')).toMatchObject({ ok: true, volume: { spec: { persistentVolumeReclaimPolicy: 'Retain' } } });
  });

  test('a record whose path was edited away from its data directory is no longer dockerlet\'s own volume', async () => {
    const claims = newClaims();
    declare(claims, { claims: [claim('data')] });
    await claims.resolve('default', 'data');
    const record = join(rootDir.claimDir('default', 'data'), 'pv.json');
    const edited = JSON.parse(await readFile(record, 'utf8')) as PersistentVolume;
    edited.spec!.local!.path = '/etc';
    await writeFile(record, JSON.stringify(edited));
    expect(await claims.resolve('default', 'data')).toMatchObject({ ok: true, provisioned: false, volume: { spec: { local: { path: '/etc' } } } });
  });

  test('list shows Bound claims with their volume and Pending ones with why', async () => {
    const claims = newClaims();
    declare(claims, { claims: [claim('used'), claim('unused'), claim('fast', { storageClassName: 'ssd' })] });
    await claims.resolve('default', 'used');
    const listed = await claims.list();
    expect(listed.map((c) => [c.metadata?.name, c.status?.phase, c.spec?.volumeName ?? c.metadata?.annotations?.['dockerlet.io/pending-reason']])).toEqual([
      ['used', 'Bound', 'pvc-default.used'],
      ['unused', 'Pending', 'waiting for first consumer to be created before binding'],
      ['fast', 'Pending', 'PVC is not bound: storageclass.storage.k8s.io "ssd" not found'],
    ]);
  });
});

describe('LocalClaims: reclaiming', () => {
  async function provisioned(claims: LocalClaims, name: string): Promise<void> {
    await claims.resolve('default', name);
    await writeFile(join(dataDir(name), 'kept'), 'precious');
  }

  test('a claim whose document is gone is deleted (policy Delete) only once no pod uses it and the grace period has passed', async () => {
    const claims = newClaims();
    declare(claims, { claims: [claim('data')] });
    await provisioned(claims, 'data');
    declare(claims, {});
    await claims.reclaim(new Set(['default/data']));
    now += ReclaimGraceMs;
    await claims.reclaim(new Set(['default/data']));
    expect(await exists(dataDir('data'))).toBe(true);
    await claims.reclaim(new Set());
    expect(await exists(rootDir.claimDir('default', 'data'))).toBe(false);
    expect(logs.lines.some((line) => line.msg.includes('its data is deleted (reclaim policy Delete)'))).toBe(true);
  });

  test('within the grace period a claim that comes back keeps its data', async () => {
    const claims = newClaims();
    declare(claims, { claims: [claim('data')] });
    await provisioned(claims, 'data');
    declare(claims, {});
    now += ReclaimGraceMs - 1;
    await claims.reclaim(new Set());
    declare(claims, { claims: [claim('data')] });
    now += ReclaimGraceMs;
    await claims.reclaim(new Set());
    expect(await readFile(join(dataDir('data'), 'kept'), 'utf8')).toBe('precious');
  });

  test('Retain keeps the data, and a claim declared again by the name finds it; the policy is the recorded one, whatever the manifests\' classes say later', async () => {
    const claims = newClaims();
    declare(claims, { claims: [claim('data', { storageClassName: 'keep' })], classes: [storageClass('keep', { reclaimPolicy: 'Retain' })] });
    await provisioned(claims, 'data');
    declare(claims, { claims: [claim('data', { storageClassName: 'keep' })], classes: [storageClass('keep', { reclaimPolicy: 'Delete' })] });
    declare(claims, { classes: [storageClass('keep', { reclaimPolicy: 'Delete' })] });
    now += ReclaimGraceMs;
    await claims.reclaim(new Set());
    now += ReclaimGraceMs;
    await claims.reclaim(new Set());
    expect(await readFile(join(dataDir('data'), 'kept'), 'utf8')).toBe('precious');
    expect(logs.lines.filter((line) => line.msg.includes('its data is kept (reclaim policy Retain)'))).toHaveLength(1);
    declare(claims, { claims: [claim('data', { storageClassName: 'keep' })], classes: [storageClass('keep', { reclaimPolicy: 'Retain' })] });
    expect(await claims.resolve('default', 'data')).toMatchObject({ ok: true, volume: { spec: { local: { path: dataDir('data') } } } });
    expect(await readFile(join(dataDir('data'), 'kept'), 'utf8')).toBe('precious');
  });

  test('after a restart, a record no manifest declares (a claim removed while the agent was down) is kept, and said so once', async () => {
    const before = newClaims();
    declare(before, { claims: [claim('data')] });
    await provisioned(before, 'data');
    const after = newClaims();
    declare(after, {});
    for (let pass = 0; pass < 3; pass++) {
      now += ReclaimGraceMs;
      await after.reclaim(new Set());
    }
    expect(await readFile(join(dataDir('data'), 'kept'), 'utf8')).toBe('precious');
    expect(logs.lines.filter((line) => line.msg.includes('no manifest declares the claim since the agent started'))).toHaveLength(1);
  });

  test('with two sources, what one declared in its last whole read stays while it cannot read (an empty URL body), whatever the other reads', async () => {
    const claims = newClaims(['file', 'http']);
    declare(claims, {}, true, 'file');
    declare(claims, { claims: [claim('web')] }, true, 'http');
    await provisioned(claims, 'web');
    declare(claims, {}, false, 'http');
    declare(claims, {}, true, 'file');
    now += 2 * ReclaimGraceMs;
    await claims.reclaim(new Set());
    expect(await exists(dataDir('web'))).toBe(true);
    declare(claims, {}, true, 'http');
    await claims.reclaim(new Set());
    now += ReclaimGraceMs;
    await claims.reclaim(new Set());
    expect(await exists(dataDir('web'))).toBe(false);
  });

  test('a source that could not read its manifests (a missing path) removes nothing; the next whole read without the claim does', async () => {
    const claims = newClaims();
    declare(claims, { claims: [claim('data')] });
    await provisioned(claims, 'data');
    declare(claims, {}, false);
    now += 2 * ReclaimGraceMs;
    await claims.reclaim(new Set());
    expect(await exists(dataDir('data'))).toBe(true);
    declare(claims, {});
    await claims.reclaim(new Set());
    now += ReclaimGraceMs;
    await claims.reclaim(new Set());
    expect(await exists(dataDir('data'))).toBe(false);
  });

  test('a directory without a record is never touched', async () => {
    const claims = newClaims();
    const stray = join(rootDir.persistentVolumesDir(), 'default', 'stray');
    await mkdir(stray, { recursive: true });
    declare(claims, {});
    now += ReclaimGraceMs;
    await claims.reclaim(new Set());
    now += ReclaimGraceMs;
    await claims.reclaim(new Set());
    expect(await exists(stray)).toBe(true);
  });
});
