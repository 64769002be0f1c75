/**
 * A resumed cluster keeps its control plane only while the build script's record beside the
 * binaries names every fix the script applies now (scripts/build-control-plane.sh --source-fixes).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, expect, test } from 'vitest';
import { builtWithCurrentFixes } from '../../../../cli/cluster/control-plane-binaries.js';

let binDir: string;
beforeEach(async () => {
  binDir = await mkdtemp(join(tmpdir(), 'dockerlet-bin-'));
});
afterEach(() => rm(binDir, { recursive: true, force: true }));

const currentFixes = async (): Promise<string> =>
  (await promisify(execFile)(join(import.meta.dirname, '../../../../scripts/build-control-plane.sh'), ['--source-fixes'])).stdout.trim();

test('binaries recorded with the fixes the build applies now are kept', async () => {
  const fixes = await currentFixes();
  expect(fixes).toContain('noexecute-taint-queue');
  await writeFile(join(binDir, '.source-fixes'), `${fixes}\n`);
  expect(await builtWithCurrentFixes(binDir)).toBe(true);
});

test('binaries built before a fix, or with no record at all, are built again', async () => {
  expect(await builtWithCurrentFixes(binDir)).toBe(false);
  await writeFile(join(binDir, '.source-fixes'), 'reflect2-1.0.2 openapi\n');
  expect(await builtWithCurrentFixes(binDir)).toBe(false);
});
