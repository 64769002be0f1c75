/**
 * A resumed cluster keeps its control plane only while its binaries are all there and the build
 * script's record beside them names every fix the script applies now
 * (scripts/build-control-plane.sh --source-fixes); otherwise `up` builds it again.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, expect, test } from 'vitest';
import { stillUsable, type ControlPlaneBinaries } from '../../../../cli/cluster/control-plane-binaries.js';

let binDir: string;
let recorded: ControlPlaneBinaries;

beforeEach(async () => {
  binDir = await mkdtemp(join(tmpdir(), 'dockerlet-bin-'));
  recorded = { binDir, etcd: join(binDir, 'etcd'), version: 'v1.20.2' };
  for (const name of ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler']) await writeFile(join(binDir, name), '');
});
afterEach(() => rm(binDir, { recursive: true, force: true }));

const currentFixes = async (): Promise<string> =>
  (await promisify(execFile)(join(import.meta.dirname, '../../../../scripts/build-control-plane.sh'), ['--source-fixes'])).stdout.trim();

test('binaries recorded with the fixes the build applies now are kept', async () => {
  const fixes = await currentFixes();
  expect(fixes).toContain('noexecute-taint-queue');
  await writeFile(join(binDir, '.source-fixes'), `${fixes}\n`);
  expect(await stillUsable(recorded)).toBe(recorded);
});

test('binaries built before a fix, or with no record of their fixes, are not', async () => {
  expect(await stillUsable(recorded)).toBeUndefined();
  await writeFile(join(binDir, '.source-fixes'), 'reflect2-1.0.2 openapi\n');
  expect(await stillUsable(recorded)).toBeUndefined();
});

test('binaries of which one is gone are not; nor is a cluster that recorded none', async () => {
  await writeFile(join(binDir, '.source-fixes'), `${await currentFixes()}\n`);
  await rm(join(binDir, 'kube-scheduler'));
  expect(await stillUsable(recorded)).toBeUndefined();
  expect(await stillUsable(undefined)).toBeUndefined();
});
