import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { ClusterStateFile, readClusterState, type ClusterState } from '../../../../cli/cluster/cluster-state.js';

let dir: string;
beforeEach(async () => void (dir = await mkdtemp(join(tmpdir(), 'cluster-state-'))));
afterEach(() => rm(dir, { recursive: true, force: true }));

const state: ClusterState = { name: 'demo', ports: { apiServer: 6443, etcdClient: 40001, etcdPeer: 40002 }, components: {} };

describe('cluster.json', () => {
  test('no file is no cluster', async () => {
    expect(await readClusterState(join(dir, 'cluster.json'))).toBeUndefined();
  });

  test('updates made one after another without waiting are all written, in order', async () => {
    const path = join(dir, 'cluster.json');
    const file = new ClusterStateFile(path, state);
    void file.update((s) => void (s.components.etcd = { pid: 10, command: 'etcd', startedAt: 't', restarts: 0 }));
    void file.update((s) => void (s.components['kube-apiserver'] = { pid: 11, command: 'kube-apiserver', startedAt: 't', restarts: 0 }));
    await file.update((s) => void delete s.components.etcd);
    expect(await readClusterState(path)).toEqual({ ...state, components: { 'kube-apiserver': { pid: 11, command: 'kube-apiserver', startedAt: 't', restarts: 0 } } });
    expect(JSON.parse(await readFile(path, 'utf8'))).toEqual(file.state);
  });

  test('a damaged file is refused naming the file and the field, with what to do', async () => {
    const path = join(dir, 'cluster.json');
    await writeFile(path, JSON.stringify({ ...state, ports: { ...state.ports, etcdPeer: 70000 } }));
    await expect(readClusterState(path)).rejects.toThrow(`${path}: ports.etcdPeer: `);
    await writeFile(path, '{"name":');
    await expect(readClusterState(path)).rejects.toThrow(/not JSON .*fix it, or remove the cluster by hand \(dockerlet cluster down says how\)/);
    await writeFile(path, JSON.stringify({ ...state, components: { etcdd: { pid: 1, command: 'x', startedAt: 't', restarts: 0 } } }));
    await expect(readClusterState(path)).rejects.toThrow(`${path}: components.etcdd: Invalid key in record`);
    await writeFile(path, JSON.stringify({ ...state, nodes: 0 }));
    await expect(readClusterState(path)).rejects.toThrow(`${path}: nodes: `);
  });
});
