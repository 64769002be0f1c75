/** The V8 flags reach every way a dockerlet process starts: the bin's shebang, npm start, and the processes dockerlet starts itself. */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { describe, expect, test } from 'vitest';
import { NodeFlags } from '../../../cli/node-flags.js';

const Repository = resolve(import.meta.dirname, '../../..');

describe('NodeFlags', () => {
  test('the bin runs node with them (env -S splits the shebang line into arguments)', async () => {
    const shebang = (await readFile(resolve(Repository, 'cli/main.ts'), 'utf8')).split('\n')[0];
    expect(shebang).toBe(`#!/usr/bin/env -S node ${NodeFlags.join(' ')}`);
  });

  test('npm start runs node with them', async () => {
    const manifest = JSON.parse(await readFile(resolve(Repository, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(manifest.scripts['start']).toMatch(new RegExp(`^node ${NodeFlags.join(' ')} dist/cli/main\\.js `));
  });

  test('every process dockerlet starts of itself gets them', async () => {
    let found = 0;
    for (const file of ['cli/run-command.ts', 'cli/cluster/cluster-up.ts']) {
      const text = await readFile(resolve(Repository, file), 'utf8');
      // Each place that runs this program again names its script as process.argv[1].
      for (const line of text.split('\n').filter((l) => l.includes('process.argv[1]!'))) {
        found += 1;
        expect(line, file).toContain('...NodeFlags, process.argv[1]!');
      }
    }
    expect(found).toBe(3);
  });
});
