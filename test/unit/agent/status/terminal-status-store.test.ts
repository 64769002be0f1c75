import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { TerminalStatusStore } from '../../../../agent/status/terminal-status-store.js';

let dir: string;
let store: TerminalStatusStore;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'terminal-status-'));
  store = new TerminalStatusStore((uid) => join(dir, uid, 'terminal-status.json'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

describe('TerminalStatusStore', () => {
  test("a finished pod's status comes back as it was kept; nothing kept is undefined", async () => {
    await mkdir(join(dir, 'uid-1'));
    const status = { phase: 'Succeeded', containerStatuses: [{ name: 'main', image: 'busybox', imageID: '', ready: false, restartCount: 0, state: { terminated: { exitCode: 0, reason: 'Completed' } } }] };
    await store.save('uid-1', status);
    expect(await store.load('uid-1')).toEqual(status);
    expect(await store.load('uid-2')).toBeUndefined();
  });

  test('nothing is kept for a pod whose directory is gone: it was removed meanwhile', async () => {
    await expect(store.save('uid-gone', { phase: 'Succeeded' })).rejects.toThrow(/ENOENT/);
    expect(await store.load('uid-gone')).toBeUndefined();
  });

  test("a running pod's status is refused; a torn or foreign file reads as nothing kept", async () => {
    await mkdir(join(dir, 'uid-1'));
    await expect(store.save('uid-1', { phase: 'Running' })).rejects.toThrow(/only a finished pod's status is kept, not phase Running/);
    await store.save('uid-1', { phase: 'Failed' });
    await writeFile(join(dir, 'uid-1', 'terminal-status.json'), '{"phase": "Fai');
    expect(await store.load('uid-1')).toBeUndefined();
    await writeFile(join(dir, 'uid-1', 'terminal-status.json'), '{"phase": "Running"}');
    expect(await store.load('uid-1')).toBeUndefined();
  });
});
