/** Before the end-to-end tests: build dist/ from the current sources, so the CLI under test is never stale. */
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';

export default async function setup(): Promise<void> {
  const root = resolve(import.meta.dirname, '../..');
  await promisify(execFile)(process.execPath, [resolve(root, 'node_modules/typescript/bin/tsc'), '-p', resolve(root, 'tsconfig.json')], { cwd: root });
}
