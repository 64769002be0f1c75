/** IpAddressManager with the real `ip`, inside a network namespace it makes and deletes (never the host's own lo). */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { IpAddressManager } from '../../proxy/datapath/userspace/address-manager.js';

const netns = `dkl-us-${randomBytes(4).toString('hex')}`;

describe('IpAddressManager in a throwaway network namespace', () => {
  beforeAll(() => {
    execFileSync('ip', ['netns', 'add', netns]);
    execFileSync('ip', ['-n', netns, 'link', 'set', 'lo', 'up']);
  });

  afterAll(() => {
    execFileSync('ip', ['netns', 'del', netns], { stdio: 'ignore' });
  });

  test('adds, lists and removes /32s on the namespace lo, idempotently', async () => {
    const manager = new IpAddressManager({ netns });
    expect(await manager.list()).toEqual([]);
    await manager.add('10.96.0.10');
    await manager.add('10.96.0.10');
    await manager.add('10.96.0.11');
    expect((await manager.list()).sort()).toEqual(['10.96.0.10', '10.96.0.11']);
    await manager.remove('10.96.0.10');
    await manager.remove('10.96.0.10');
    expect(await manager.list()).toEqual(['10.96.0.11']);
  });
});
