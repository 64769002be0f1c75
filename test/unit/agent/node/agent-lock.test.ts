import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, onTestFinished, test } from 'vitest';
import { lockAgent } from '../../../../agent/node/agent-lock.js';
import type { HostLock } from '../../../../common/util/host-lock.js';

let dir: string;
const held: HostLock[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dockerlet-lock-'));
});

afterEach(async () => {
  await Promise.all(held.splice(0).map((lock) => lock.release()));
  await rm(dir, { recursive: true, force: true });
});

async function rootDir(name: string): Promise<string> {
  const path = join(dir, name);
  await mkdir(path, { recursive: true });
  return path;
}

async function acquire(options: { rootDir: string; nodeName: string }): Promise<HostLock> {
  const lock = await lockAgent(options);
  held.push(lock);
  return lock;
}

const node = (suffix: string): string => `lock-test-${process.pid}-${suffix}`;

describe('lockAgent', () => {
  test('a second agent on the same root dir is refused, naming the holder and what to do', async () => {
    const root = await rootDir('a');
    await acquire({ rootDir: root, nodeName: node('1') });
    await expect(acquire({ rootDir: root, nodeName: node('2') })).rejects.toThrow(
      `another dockerlet agent (pid ${process.pid}, node ${node('1')}, root dir ${root}) already runs with root dir ${root}: two agents would kill each other's pods; stop that one first, or give this one its own --root-dir`,
    );
  });

  test('a root dir reached through a symlink is the same root dir', async () => {
    const root = await rootDir('real');
    await symlink(root, join(dir, 'link'));
    await acquire({ rootDir: root, nodeName: node('1') });
    await expect(acquire({ rootDir: join(dir, 'link'), nodeName: node('2') })).rejects.toThrow(`already runs with root dir ${root}`);
  });

  test('a second agent with the same node name is refused though its root dir differs; the root dir it claimed meanwhile is let go', async () => {
    await acquire({ rootDir: await rootDir('a'), nodeName: node('same') });
    const other = await rootDir('b');
    await expect(acquire({ rootDir: other, nodeName: node('same') })).rejects.toThrow(
      `already runs with node name ${node('same')}: two agents would kill each other's pods; stop that one first, or give this one its own --hostname-override`,
    );
    await acquire({ rootDir: other, nodeName: node('other') });
  });

  test('released, both names can be taken again', async () => {
    const root = await rootDir('a');
    const first = await lockAgent({ rootDir: root, nodeName: node('1') });
    await first.release();
    await acquire({ rootDir: root, nodeName: node('1') });
  });

  test('a holder killed with SIGKILL leaves no stale lock', async () => {
    const root = await rootDir('a');
    const script = join(dir, 'holder.mts');
    const lockModule = resolve(import.meta.dirname, '../../../../agent/node/agent-lock.ts');
    await writeFile(
      script,
      `import { lockAgent } from ${JSON.stringify(lockModule)};\nawait lockAgent({ rootDir: ${JSON.stringify(root)}, nodeName: ${JSON.stringify(node('child'))} });\nconsole.log('held');\nsetInterval(() => undefined, 60_000);\n`,
    );
    const child = spawn(process.execPath, ['--import', 'tsx', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise((resolveExit) => child.on('exit', resolveExit));
    onTestFinished(async () => {
      child.kill('SIGKILL');
      await exited;
    });
    await new Promise<void>((resolveHeld, reject) => {
      child.stdout.on('data', (chunk: Buffer) => chunk.toString().includes('held') && resolveHeld());
      child.on('exit', (code) => reject(new Error(`the holder exited early (code ${code})`)));
    });
    await expect(acquire({ rootDir: root, nodeName: node('parent') })).rejects.toThrow(`(pid ${child.pid}, node ${node('child')}`);
    child.kill('SIGKILL');
    await exited;
    await acquire({ rootDir: root, nodeName: node('child') });
  });
});
