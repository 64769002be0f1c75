/**
 * prepareSubPath on real mounts: what is bound is the file that was checked. The race tests run
 * a second process that keeps swapping a path component for a symlink out of the volume while
 * subPaths are prepared, as a container that owns the volume could (CVE-2021-25741).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { prepareSubPath } from '../../../../agent/volumes/subpath.js';
import { mountsAt, removeTempRoot, tempRoot } from './tmp-mounts.js';

let root: string;
let data: string;
let outside: string;
const swappers: Array<{ child: ChildProcess; exited: Promise<unknown> }> = [];

beforeEach(async () => {
  root = await tempRoot('dockerlet-subpath-');
  data = join(root, 'volume');
  outside = join(root, 'outside');
  await mkdir(data, { mode: 0o777 });
  await mkdir(outside);
  await writeFile(join(outside, 'secret'), 'host secret');
});

afterEach(async () => {
  for (const { child, exited } of swappers.splice(0)) {
    child.kill('SIGKILL');
    await exited;
  }
  await removeTempRoot(root);
});

const volume = () => ({ hostPath: data, readOnly: false });
const target = (name = 'main'): string => join(root, 'volume-subpaths', 'data', name, '0');

async function identity(path: string): Promise<string> {
  const { dev, ino } = await stat(path);
  return `${dev}:${ino}`;
}

describe('prepareSubPath: the target', () => {
  test('a restarted container finds its target mounted with the same file and reuses it', async () => {
    await mkdir(join(data, 'logs'));
    expect(await prepareSubPath(volume(), 'logs', target())).toEqual({ ok: true, hostPath: target() });
    expect(await prepareSubPath(volume(), 'logs', target())).toEqual({ ok: true, hostPath: target() });
    expect(mountsAt(target())).toHaveLength(1);
  });

  test('a target mounted with another file is unmounted and bound again', async () => {
    await mkdir(join(data, 'one'));
    await mkdir(join(data, 'two'));
    await prepareSubPath(volume(), 'one', target());
    await prepareSubPath(volume(), 'two', target());
    expect(mountsAt(target())).toHaveLength(1);
    expect(await identity(target())).toBe(await identity(join(data, 'two')));
  });

  test('a target with mounts stacked on it is unmounted down to the directory before it is bound again', async () => {
    await mkdir(join(data, 'one'));
    await mkdir(join(data, 'two'));
    await prepareSubPath(volume(), 'one', target());
    execFileSync('mount', ['--bind', join(data, 'one'), target()]);
    await prepareSubPath(volume(), 'two', target());
    expect(mountsAt(target())).toHaveLength(1);
    expect(await identity(target())).toBe(await identity(join(data, 'two')));
  });

  test('a target that was a directory becomes a file for a file, and back', async () => {
    await mkdir(join(data, 'dir'));
    await writeFile(join(data, 'file'), 'x');
    await prepareSubPath(volume(), 'dir', target());
    await prepareSubPath(volume(), 'file', target());
    expect((await stat(target())).isFile()).toBe(true);
    await prepareSubPath(volume(), 'dir', target());
    expect((await stat(target())).isDirectory()).toBe(true);
    expect(mountsAt(target())).toHaveLength(1);
  });
});

/**
 * Starts a process that swaps `path` (a directory) for a symlink to `to` and back as fast as it
 * can, until the test ends; resolves once it has swapped a few times. A step that fails (the
 * code under test made a directory in the gap) is skipped: the swapping goes on.
 */
async function swapper(path: string, to: string): Promise<void> {
  const script = `
    const fs = require('node:fs');
    const [path, to] = process.argv.slice(1);
    const attempt = (step) => { try { step(); } catch {} };
    for (let swaps = 1; ; swaps++) {
      attempt(() => fs.renameSync(path, path + '.real'));
      attempt(() => fs.symlinkSync(to, path));
      attempt(() => fs.unlinkSync(path));
      attempt(() => fs.renameSync(path + '.real', path));
      if (swaps === 100) console.log('swapping');
    }`;
  const child = spawn(process.execPath, ['-e', script, path, to], { stdio: ['ignore', 'pipe', 'inherit'] });
  swappers.push({ child, exited: new Promise((resolve) => child.on('exit', resolve)) });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`the swapper exited (code ${code})`)));
  });
}

/** Prepares `subPathOf(i)` `times` times (i from `from`), each on a target of its own; the outcome of each. */
async function prepareRepeatedly(times: number, subPathOf: (i: number) => string, from = 0): Promise<Array<'refused' | 'inside' | 'OUTSIDE'>> {
  const outsideDir = await identity(outside);
  const outcomes: Array<'refused' | 'inside' | 'OUTSIDE'> = [];
  for (let i = from; i < from + times; i++) {
    const result = await prepareSubPath(volume(), subPathOf(i), target(`c${i}`)).catch((err: Error) => ({ ok: false as const, message: err.message }));
    if (!result.ok) outcomes.push('refused');
    else outcomes.push((await identity(result.hostPath)) === outsideDir || (await readdir(result.hostPath)).includes('secret') ? 'OUTSIDE' : 'inside');
  }
  return outcomes;
}

describe('prepareSubPath against a process swapping the path for a symlink out of the volume', () => {
  test('what is bound is a directory of the volume, never the symlink\'s target; else nothing is bound', async () => {
    await mkdir(join(data, 'swap'));
    await swapper(join(data, 'swap'), outside);
    const outcomes = await prepareRepeatedly(200, () => 'swap');
    // On a loaded machine the swapper may win every race for a while: go on until a preparation
    // has found the directory in place too, so that both outcomes were tried.
    while (!outcomes.includes('inside') && outcomes.length < 3000) outcomes.push(...(await prepareRepeatedly(200, () => 'swap', outcomes.length)));
    expect(outcomes).not.toContain('OUTSIDE');
    expect(outcomes).toContain('inside');
  }, 120_000);

  test('directories a subPath needs are never made outside the volume, nor bound from there', async () => {
    await mkdir(join(data, 'swap'));
    await swapper(join(data, 'swap'), outside);
    const outcomes = await prepareRepeatedly(200, (i) => `swap/new${i}/deeper`);
    expect(outcomes).not.toContain('OUTSIDE');
    expect(outcomes).toContain('inside');
    expect(await readdir(outside)).toEqual(['secret']);
  }, 60_000);
});
