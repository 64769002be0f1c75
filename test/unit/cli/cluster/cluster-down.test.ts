/** What down does before it touches the host: refusing a directory that holds no cluster and a name that is not the cluster's, removing what an up that never started left. */
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { clusterDown } from '../../../../cli/cluster/cluster-down.js';
import { clusterTarget } from '../../../../cli/cluster/cluster-options.js';

let dir: string;
const said: string[] = [];
const out = { say: (line: string) => void said.push(line) };
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cluster-down-'));
  said.length = 0;
});
afterEach(() => rm(dir, { recursive: true, force: true }));

describe('cluster down', () => {
  test('a directory that does not exist is nothing to remove', async () => {
    expect(await clusterDown(clusterTarget({ name: 'demo', dir: join(dir, 'none') }), false, out)).toBe(0);
    expect(said).toEqual([`no cluster demo in ${join(dir, 'none')}: nothing to remove`]);
  });

  test('a directory with no cluster.json and files of its own is refused and left as it was', async () => {
    await mkdir(join(dir, 'mine', 'logs'), { recursive: true });
    await writeFile(join(dir, 'mine', 'notes.txt'), 'keep me');
    await expect(clusterDown(clusterTarget({ name: 'demo', dir: join(dir, 'mine') }), false, out)).rejects.toThrow(`--dir ${join(dir, 'mine')} holds no cluster (no cluster.json) but notes.txt: nothing removed`);
    expect((await readdir(join(dir, 'mine'))).sort()).toEqual(['logs', 'notes.txt']);
  });

  test('what an up that ended before its first step left (its logs, no cluster.json) is removed', async () => {
    await mkdir(join(dir, 'started', 'logs'), { recursive: true });
    await writeFile(join(dir, 'started', 'logs', 'cluster.log'), 'no proxy may run beside the node\n');
    expect(await clusterDown(clusterTarget({ name: 'demo', dir: join(dir, 'started') }), false, out)).toBe(0);
    expect(await readdir(dir)).toEqual([]);
  });

  test("a name that is not the directory's cluster's is refused, naming the right one", async () => {
    const state = { name: 'other', ports: { apiServer: 6443, etcdClient: 40001, etcdPeer: 40002 }, components: {} };
    await writeFile(join(dir, 'cluster.json'), JSON.stringify(state));
    await expect(clusterDown(clusterTarget({ name: 'demo', dir }), false, out)).rejects.toThrow(`--name demo: ${dir} holds cluster other; pass --name other`);
    expect(await readdir(dir)).toEqual(['cluster.json']);
  });
});
