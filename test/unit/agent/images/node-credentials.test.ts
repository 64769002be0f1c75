import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { NodeDockerConfig } from '../../../../agent/images/node-credentials.js';
import { memoryLogger } from '../../../helpers/memory-logger.js';

let rootDir: string;
let home: string;
let workingDir: string;
beforeEach(async () => {
  rootDir = await mkdtemp(join(tmpdir(), 'dockerlet-node-creds-'));
  home = await mkdtemp(join(tmpdir(), 'dockerlet-home-'));
  workingDir = await mkdtemp(join(tmpdir(), 'dockerlet-cwd-'));
});
afterEach(async () => {
  for (const path of [rootDir, home, workingDir]) await rm(path, { recursive: true, force: true });
});

function nodeConfig(now: { ms: number }) {
  const log = memoryLogger();
  return { config: new NodeDockerConfig({ rootDir, home, workingDir, clock: { now: () => now.ms }, logger: log.logger }), log };
}

describe('NodeDockerConfig (the kubelet default keyring)', () => {
  test("config.json in the root dir first; a .dockercfg only when no config.json parses; the file's entries as they are", async () => {
    await writeFile(join(rootDir, '.dockercfg'), JSON.stringify({ 'old.example.com': { auth: 'b2xkOnB3' } }));
    const { config, log } = nodeConfig({ ms: 0 });
    expect(await config.read()).toEqual({ 'old.example.com': { auth: 'b2xkOnB3' } });

    await writeFile(join(rootDir, 'config.json'), '{not json');
    const second = nodeConfig({ ms: 0 });
    expect(await second.config.read()).toEqual({ 'old.example.com': { auth: 'b2xkOnB3' } });
    expect(second.log.lines.some((line) => line.msg === 'a docker config file that does not parse is passed over' && line['path'] === join(rootDir, 'config.json'))).toBe(true);
    expect(log.lines).toEqual([]);

    await writeFile(join(rootDir, 'config.json'), JSON.stringify({ auths: { 'registry.example.com': { username: 'node', password: 'pw' } }, credsStore: 'desktop' }));
    expect(await nodeConfig({ ms: 0 }).config.read()).toEqual({ 'registry.example.com': { username: 'node', password: 'pw' } });
  });

  test('$HOME/.docker/config.json when the root dir has none; nothing anywhere: no entries', async () => {
    expect(await nodeConfig({ ms: 0 }).config.read()).toEqual({});
    await mkdir(join(home, '.docker'));
    await writeFile(join(home, '.docker', 'config.json'), JSON.stringify({ auths: { 'home.example.com': { username: 'me' } } }));
    expect(await nodeConfig({ ms: 0 }).config.read()).toEqual({ 'home.example.com': { username: 'me' } });
  });

  test('what was read is kept for 5 minutes', async () => {
    const now = { ms: 0 };
    const { config } = nodeConfig(now);
    expect(await config.read()).toEqual({});
    await writeFile(join(rootDir, 'config.json'), JSON.stringify({ auths: { 'r.example.com': { username: 'u' } } }));
    now.ms = 299_999;
    expect(await config.read()).toEqual({});
    now.ms = 300_000;
    expect(await config.read()).toEqual({ 'r.example.com': { username: 'u' } });
  });
});
