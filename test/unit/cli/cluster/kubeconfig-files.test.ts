import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { ClusterLayout } from '../../../../cli/cluster/cluster-layout.js';
import { mergeKubeconfig, unmergeKubeconfig, writeKubeconfig } from '../../../../cli/cluster/kubeconfig-files.js';

let dir: string;
let layout: ClusterLayout;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kubeconfig-files-'));
  layout = new ClusterLayout(join(dir, 'cluster'));
  await mkdir(layout.pkiDir, { recursive: true });
  await writeFile(layout.pki('ca').cert, 'CA PEM');
  await writeFile(layout.pki('admin').cert, 'ADMIN CERT');
  await writeFile(layout.pki('admin').key, 'ADMIN KEY');
});
afterEach(() => rm(dir, { recursive: true, force: true }));

const otherContext = {
  apiVersion: 'v1',
  kind: 'Config',
  clusters: [{ name: 'prod', cluster: { server: 'https://prod:6443' } }],
  users: [{ name: 'prod', user: { token: 'secret' } }],
  contexts: [{ name: 'prod', context: { cluster: 'prod', user: 'prod' } }],
  'current-context': 'prod',
  preferences: {},
};

describe('kubeconfig files', () => {
  test('a kubeconfig carries the CA and the client certificate inside, and names its context', async () => {
    await writeKubeconfig(layout, layout.adminKubeconfig, 'https://127.0.0.1:6443', 'dockerlet-demo', 'admin');
    const config = parse(await readFile(layout.adminKubeconfig, 'utf8'));
    expect(config['current-context']).toBe('dockerlet-demo');
    expect(config.clusters[0].cluster).toEqual({ server: 'https://127.0.0.1:6443', 'certificate-authority-data': Buffer.from('CA PEM').toString('base64') });
    expect(config.users[0].user['client-key-data']).toBe(Buffer.from('ADMIN KEY').toString('base64'));
  });

  test("merging adds the cluster's entries beside the user's own, made current, and again replaces them rather than adding twice", async () => {
    await writeKubeconfig(layout, layout.adminKubeconfig, 'https://127.0.0.1:6443', 'dockerlet-demo', 'admin');
    const target = join(dir, 'config');
    await writeFile(target, JSON.stringify(otherContext));
    await mergeKubeconfig(layout.adminKubeconfig, target);
    await mergeKubeconfig(layout.adminKubeconfig, target);
    const merged = parse(await readFile(target, 'utf8'));
    expect(merged.contexts.map((context: { name: string }) => context.name)).toEqual(['prod', 'dockerlet-demo']);
    expect(merged.clusters.map((cluster: { name: string }) => cluster.name)).toEqual(['prod', 'dockerlet-demo']);
    expect(merged['current-context']).toBe('dockerlet-demo');
    expect(merged.preferences).toEqual({});

    await unmergeKubeconfig('dockerlet-demo', target);
    const unmerged = parse(await readFile(target, 'utf8'));
    expect(unmerged).toEqual({ ...otherContext, 'current-context': '' });
  });

  test('merging into a file that does not exist makes it', async () => {
    await writeKubeconfig(layout, layout.adminKubeconfig, 'https://127.0.0.1:6443', 'dockerlet-demo', 'admin');
    const target = join(dir, 'new', 'config');
    await mergeKubeconfig(layout.adminKubeconfig, target);
    expect(parse(await readFile(target, 'utf8')).contexts).toHaveLength(1);
  });

  test('a file that is no kubeconfig is refused by name, and left as it was', async () => {
    const target = join(dir, 'config');
    await writeFile(target, '- just\n- a list\n');
    await expect(unmergeKubeconfig('dockerlet-demo', target)).rejects.toThrow(`${target}: not a kubeconfig`);
    expect(await readFile(target, 'utf8')).toBe('- just\n- a list\n');
  });
});
