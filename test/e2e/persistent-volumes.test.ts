/**
 * A lone host's PersistentVolumeClaims, with the agent as a real process on real Docker: a claim
 * declared beside its pod is provisioned under the root dir, bound, and its data outlives the
 * pod's deletion and an agent killed with SIGKILL; a claim that is not there keeps its pod
 * waiting with FailedMount; a claim's document removed deletes or keeps its data by its class's
 * reclaim policy, once no pod uses it.
 */
import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { ReclaimGraceMs } from '../../agent/volumes/claims/local-claims.js';
import type { PersistentVolumeClaim, Pod } from '../../common/api/types.js';
import { containerStatus, isReady } from '../helpers/agent-harness.js';
import { startAgentProcess, type AgentProcess } from '../helpers/agent-process.js';
import { dockerExec } from '../helpers/docker.js';
import { waitFor } from '../helpers/wait-for.js';

const claim = (name: string, extra = ''): string => `apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: ${name}}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
${extra}`;

/** A pod that keeps a token in each claim: written once when missing, then left as it is. */
const podWithClaims = (name: string, claims: readonly string[]): string => `apiVersion: v1
kind: Pod
metadata: {name: ${name}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
    - name: main
      image: dockerlet.local/busybox:1.35
      command: ["sh", "-c", "for d in /claims/*; do [ -f $d/token ] || cat /proc/sys/kernel/random/uuid > $d/token; done; exec sleep 3600"]
      volumeMounts: [${claims.map((c) => `{name: ${c}, mountPath: /claims/${c}}`).join(', ')}]
  volumes: [${claims.map((c) => `{name: ${c}, persistentVolumeClaim: {claimName: ${c}}}`).join(', ')}]
`;

const dataDir = (agent: AgentProcess, claimName: string): string => join(agent.rootDir, 'persistent-volumes', 'default', claimName, 'data');
const exists = async (path: string): Promise<boolean> => (await stat(path).catch(() => undefined)) !== undefined;

async function tokenIn(agent: AgentProcess, pod: Pod, claimName: string): Promise<string> {
  const id = containerStatus(pod, 'main')!.containerID!.slice('docker://'.length);
  return waitFor(`the token in ${claimName}`, async () => {
    const read = await dockerExec(id, ['cat', `/claims/${claimName}/token`]);
    return read.exitCode === 0 ? read.output.trim() || undefined : undefined;
  });
}

async function claims(agent: AgentProcess): Promise<PersistentVolumeClaim[]> {
  return ((await (await agent.get('/persistentvolumeclaims')).json()) as { items: PersistentVolumeClaim[] }).items;
}

describe('a lone host\'s PersistentVolumeClaims', () => {
  test('a claim beside its pod is provisioned and bound; its data outlives the pod\'s deletion and an agent SIGKILL', async () => {
    const first = await startAgentProcess({ manifests: { 'claim.yaml': claim('data'), 'writer.yaml': podWithClaims('writer', ['data']) } });
    const writer = await first.waitForPod('writer', 'Ready', isReady, { timeoutMs: 60_000 });
    const token = await tokenIn(first, writer, 'data');
    expect(await readFile(join(dataDir(first, 'data'), 'token'), 'utf8')).toBe(`${token}\n`);
    expect(await claims(first)).toEqual([
      expect.objectContaining({ metadata: { name: 'data', namespace: 'default' }, spec: expect.objectContaining({ volumeName: 'pvc-default.data' }), status: { phase: 'Bound', accessModes: ['ReadWriteOnce'], capacity: { storage: '1Gi' } } }),
    ]);

    // The pod goes; the claim and its data stay.
    await rm(join(first.manifestDir, 'writer.yaml'));
    await waitFor('the writer gone', async () => (await first.pod('writer')) === undefined, { timeoutMs: 30_000 });
    expect(await readFile(join(dataDir(first, 'data'), 'token'), 'utf8')).toBe(`${token}\n`);

    // The agent dies; the next one, and a new pod of the claim, find the same data.
    first.process.child.kill('SIGKILL');
    await first.process.exited;
    const second = await first.restart();
    await writeFile(join(second.manifestDir, 'reader.yaml'), podWithClaims('reader', ['data']));
    const reader = await second.waitForPod('reader', 'Ready', isReady, { timeoutMs: 60_000 });
    expect(await tokenIn(second, reader, 'data')).toBe(token);
  });

  test('a pod whose claim is not declared waits with FailedMount, and starts once the claim is there', async () => {
    const agent = await startAgentProcess({ manifests: { 'waiting.yaml': podWithClaims('waiting', ['late']) } });
    await waitFor('the FailedMount event', () => /FailedMount.*error processing PVC default\/late: persistentvolumeclaims \\"late\\" not found/.test(agent.process.stderr), { timeoutMs: 30_000 });
    expect((await agent.pod('waiting'))?.status?.phase).toBe('Pending');
    await writeFile(join(agent.manifestDir, 'late.yaml'), claim('late'));
    await agent.waitForPod('waiting', 'Ready once its claim is declared', isReady, { timeoutMs: 60_000 });
  });

  test('a claim\'s document removed: Delete (the built-in class) removes its data once no pod uses it, Retain keeps it; a pod stuck on another claim holds up nothing', async () => {
    const keep = 'apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: keep}\nprovisioner: dockerlet.io/local-path\nreclaimPolicy: Retain\n';
    const agent = await startAgentProcess({
      manifests: {
        'keep-class.yaml': keep,
        'claims.yaml': `${claim('scratch')}---\n${claim('kept', '  storageClassName: keep\n')}`,
        'user.yaml': podWithClaims('user', ['scratch', 'kept']),
        // A pod stuck on a claim that never comes (its directory made for its emptyDir first) holds up nothing.
        'stuck.yaml': podWithClaims('stuck', ['never']).replace('volumes: [', 'volumes: [{name: scratchpad, emptyDir: {}}, '),
      },
    });
    const user = await agent.waitForPod('user', 'Ready', isReady, { timeoutMs: 60_000 });
    const kept = await tokenIn(agent, user, 'kept');
    await tokenIn(agent, user, 'scratch');
    // The claims go first, while their pod still runs: nothing is reclaimed under it, past the grace period too.
    await rm(join(agent.manifestDir, 'claims.yaml'));
    await waitFor('the claims gone from /persistentvolumeclaims', async () => (await claims(agent)).length === 0);
    // Proving that nothing happens takes time: housekeeping passes (every 2 s) well past the grace period.
    const gone = Date.now();
    await waitFor('a housekeeping pass past the grace period', async () => Date.now() - gone > ReclaimGraceMs + 3_000, { timeoutMs: ReclaimGraceMs + 10_000, intervalMs: 1_000 });
    expect(await readFile(join(dataDir(agent, 'scratch'), 'token'), 'utf8')).not.toBe('');
    expect(agent.process.stderr).not.toContain('its data is deleted');
    await rm(join(agent.manifestDir, 'user.yaml'));
    await waitFor('the scratch claim\'s data deleted', async () => !(await exists(join(agent.rootDir, 'persistent-volumes', 'default', 'scratch'))), { timeoutMs: 60_000 });
    expect(await readFile(join(dataDir(agent, 'kept'), 'token'), 'utf8')).toBe(`${kept}\n`);
    expect(agent.process.stderr).toMatch(/scratch.*its data is deleted \(reclaim policy Delete\)|its data is deleted \(reclaim policy Delete\).*scratch/);
  });
});
