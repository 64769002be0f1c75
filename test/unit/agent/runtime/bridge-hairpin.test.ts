import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { BridgeHairpin } from '../../../../agent/runtime/docker/network.js';

/** A stand-in for /sys/class/net: dockerlet0/brif/<port>/hairpin_mode files. */
let sys: string;
const ports = (): string => join(sys, 'dockerlet0', 'brif');
const hairpin = (port: string): Promise<string> => readFile(join(ports(), port, 'hairpin_mode'), 'utf8');

async function addPort(port: string): Promise<void> {
  await mkdir(join(ports(), port), { recursive: true });
  await writeFile(join(ports(), port, 'hairpin_mode'), '0');
}

beforeEach(async () => {
  sys = await mkdtemp(join(tmpdir(), 'dockerlet-hairpin-'));
});

afterEach(async () => {
  await rm(sys, { recursive: true, force: true });
});

describe('BridgeHairpin', () => {
  test('sets every port, and later only the ports that are new', async () => {
    await addPort('veth1');
    await addPort('veth2');
    const bridge = new BridgeHairpin('dockerlet0', sys);
    await bridge.enable();
    expect([await hairpin('veth1'), await hairpin('veth2')]).toEqual(['1', '1']);
    // Reset behind its back: a port it has set is not written again.
    await writeFile(join(ports(), 'veth1', 'hairpin_mode'), '0');
    await addPort('veth3');
    await bridge.enable();
    expect([await hairpin('veth1'), await hairpin('veth3')]).toEqual(['0', '1']);
  });

  test('a port whose write failed is tried again next time', async () => {
    // A directory where the file should be: the write fails (as root, permissions would not).
    await mkdir(join(ports(), 'veth1', 'hairpin_mode'), { recursive: true });
    const bridge = new BridgeHairpin('dockerlet0', sys);
    await bridge.enable();
    await rm(join(ports(), 'veth1', 'hairpin_mode'), { recursive: true });
    await writeFile(join(ports(), 'veth1', 'hairpin_mode'), '0');
    await bridge.enable();
    expect(await hairpin('veth1')).toBe('1');
  });

  test('a missing bridge is no error', async () => {
    await expect(new BridgeHairpin('nobridge', sys).enable()).resolves.toBeUndefined();
  });
});
