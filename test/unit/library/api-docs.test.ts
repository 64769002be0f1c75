/** docs/api is what `npm run docs:api` makes of the library's declarations now: never stale. */
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';
import { expect, test } from 'vitest';

const root = resolve(import.meta.dirname, '../../..');

async function files(dir: string): Promise<Map<string, string>> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const found = new Map<string, string>();
  for (const entry of entries.filter((e) => e.isFile())) {
    const path = join(entry.parentPath, entry.name);
    found.set(relative(dir, path), await readFile(path, 'utf8'));
  }
  return found;
}

test('docs/api matches the declarations (run npm run docs:api after changing the library API)', async () => {
  const out = await mkdtemp(join(tmpdir(), 'api-docs-'));
  try {
    await promisify(execFile)(process.execPath, [join(root, 'node_modules/typedoc/bin/typedoc'), '--logLevel', 'Warn', '--out', out], { cwd: root });
    expect(Object.fromEntries(await files(out))).toEqual(Object.fromEntries(await files(join(root, 'docs/api'))));
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}, 60_000);
