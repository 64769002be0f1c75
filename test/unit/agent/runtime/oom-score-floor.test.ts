import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { oomScoreFloor } from '../../../../agent/runtime/docker/oom-score-floor.js';

let dir: string;
beforeAll(async () => void (dir = await mkdtemp(join(tmpdir(), 'oom-floor-'))));
afterAll(() => rm(dir, { recursive: true, force: true }));

async function floorWith(capEff: string | undefined): Promise<number> {
  const path = join(dir, `status-${capEff ?? 'none'}`);
  await writeFile(path, `Name:\tnode\n${capEff !== undefined ? `CapEff:\t${capEff}\n` : ''}CapBnd:\t000001ffffffffff\n`);
  return oomScoreFloor(path);
}

describe('oomScoreFloor', () => {
  test('with CAP_SYS_RESOURCE (bit 24) in the effective set, scores go down to -1000', async () => {
    expect(await floorWith('000001ffffffffff')).toBe(-1000);
    expect(await floorWith('0000000001000000')).toBe(-1000);
  });

  test('without it, as in a container that dropped it, nothing below 0', async () => {
    expect(await floorWith('000001fffeffffff')).toBe(0);
  });

  test('a status without CapEff, or no file at all, is read as without it', async () => {
    expect(await floorWith(undefined)).toBe(0);
    expect(await oomScoreFloor(join(dir, 'missing'))).toBe(0);
  });
});
