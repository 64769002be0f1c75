import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, test } from 'vitest';
import { logFilesBytes } from '../../../../agent/runtime/docker/log-files.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'log-files-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

test("the live log, the rotated ones and the compressed ones count; the container's other files do not", async () => {
  const log = join(dir, 'abc-json.log');
  await writeFile(log, Buffer.alloc(100));
  await writeFile(`${log}.1`, Buffer.alloc(1000));
  await writeFile(`${log}.2.gz`, Buffer.alloc(10));
  await writeFile(join(dir, 'config.v2.json'), Buffer.alloc(5000));
  await writeFile(join(dir, 'abc-json.logger'), Buffer.alloc(7));
  expect(await logFilesBytes(log)).toBe(1110);
});

test('no log path, or a directory gone, is 0', async () => {
  expect(await logFilesBytes(undefined)).toBe(0);
  expect(await logFilesBytes(join(dir, 'gone', 'x-json.log'))).toBe(0);
});
