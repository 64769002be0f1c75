import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { HostLock, readSecret } from '../../../../common/util/host-lock.js';

const held: HostLock[] = [];
afterEach(async () => {
  await Promise.all(held.splice(0).map((lock) => lock.release()));
});

const key = (name: string): string => `test/${process.pid}/${name}`;
const refuse = (k: string, holder: Record<string, string | number> | undefined): Error => new Error(`${k} held by ${JSON.stringify(holder)}`);

describe('HostLock', () => {
  test('a held key is refused with what its holder says; all or none of the keys are taken', async () => {
    held.push(await HostLock.acquire([key('a')], { pid: process.pid, role: 'first' }, refuse));
    await expect(HostLock.acquire([key('b'), key('a')], { pid: process.pid, role: 'second' }, refuse)).rejects.toThrow(`${key('a')} held by {"pid":${process.pid},"role":"first"}`);
    held.push(await HostLock.acquire([key('b')], { pid: process.pid, role: 'third' }, refuse));
    expect(await HostLock.holder(key('b'))).toEqual({ pid: process.pid, role: 'third' });
  });

  test('a key nobody holds has no holder', async () => {
    expect(await HostLock.holder(key('free'))).toBeUndefined();
  });

  test('the names are keyed with a secret only root can read, so no other user can take them first', async () => {
    held.push(await HostLock.acquire([key('c')], { pid: process.pid }, refuse));
    expect((await stat('/run/dockerlet')).mode & 0o777).toBe(0o700);
    const secret = await stat('/run/dockerlet/lock-secret');
    expect([secret.mode & 0o777, secret.uid, secret.size]).toEqual([0o600, 0, 32]);
  });

  test('a secret anyone but root could read, or of the wrong size, is refused rather than trusted', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dockerlet-lock-secret-'));
    try {
      const path = join(dir, 'lock-secret');
      expect(await readSecret(path)).toBeUndefined();
      await writeFile(path, randomBytes(32), { mode: 0o600 });
      expect(await readSecret(path)).toHaveLength(32);
      await chmod(path, 0o644);
      await expect(readSecret(path)).rejects.toThrow(`${path} must be root's alone (mode 0600) and 32 bytes long: remove it, and it is made again`);
      await writeFile(path, 'short', { mode: 0o600 });
      await chmod(path, 0o600);
      await expect(readSecret(path)).rejects.toThrow('32 bytes long');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
