/**
 * Storage in a cluster from `dockerlet cluster up`, through kubectl as a user drives it: the
 * default StorageClass and the local provisioner that `up` runs give a StatefulSet's
 * volumeClaimTemplates a volume per replica on the node; each replica keeps its data when its pod
 * is deleted and comes back with the same claim, the headless Service's pod names resolve,
 * scaling down keeps the claims, a claim deleted takes its volume and data with it (policy
 * Delete), and `down --keep-data` keeps the data for the next `up`. Runs in the network group:
 * the node runs a proxy.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { DockerletBin, runCli } from '../helpers/agent-process.js';
import { BusyboxImage } from '../helpers/docker.js';
import { freePort } from '../helpers/test-node.js';
import { waitFor } from '../helpers/wait-for.js';

const run = promisify(execFile);
const Name = `e2e-storage-${process.pid}`;
let dir: string;
let clusterDir: string;
let kubeconfig: string;
const flags = (): string[] => ['--name', Name, '--dir', clusterDir];

async function kubectl(...args: string[]): Promise<string> {
  return (await run('kubectl', ['--kubeconfig', kubeconfig, ...args], { maxBuffer: 16 * 1024 * 1024 })).stdout;
}

async function kubectlJson<T>(...args: string[]): Promise<T> {
  return JSON.parse(await kubectl(...args, '-o', 'json')) as T;
}

interface Claim {
  metadata: { name: string };
  spec: { volumeName?: string; storageClassName?: string };
  status: { phase: string };
}

interface Volume {
  metadata: { name: string };
  spec: { local?: { path: string }; persistentVolumeReclaimPolicy: string; claimRef?: { name: string } };
}

const statefulSet = `apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  clusterIP: None
  selector: {app: web}
  ports: [{name: http, port: 80}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: web}
spec:
  serviceName: web
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: main
          image: ${BusyboxImage}
          imagePullPolicy: Never
          command: ["sh", "-c", "[ -f /data/id ] || cat /proc/sys/kernel/random/uuid > /data/id; trap 'exit 0' TERM; sleep 3600 & wait"]
          volumeMounts: [{name: data, mountPath: /data}]
  volumeClaimTemplates:
    - metadata: {name: data}
      spec:
        accessModes: [ReadWriteOnce]
        resources: {requests: {storage: 64Mi}}
`;

async function replicaId(pod: string): Promise<string> {
  return waitFor(`${pod}'s id`, async () => (await kubectl('exec', pod, '--', 'cat', '/data/id').catch(() => '')).trim() || undefined, { timeoutMs: 30_000 });
}

async function podUid(pod: string): Promise<string | undefined> {
  return (await kubectl('get', 'pod', pod, '-o', 'jsonpath={.metadata.uid}', '--ignore-not-found')).trim() || undefined;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dockerlet-storage-e2e-'));
  clusterDir = join(dir, Name);
  kubeconfig = join(clusterDir, 'kubeconfig', 'admin.kubeconfig');
  // The node's cluster DNS forwards to a resolver on the pods' own loopback, where none listens: no query leaves the machine.
  await writeFile(join(dir, 'resolv.conf'), 'nameserver 127.0.0.1\n');
});

afterAll(async () => {
  try {
    await run(process.execPath, [DockerletBin, 'cluster', 'down', ...flags()]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}, 180_000);

test('a StatefulSet with volumeClaimTemplates: a volume per replica from the local provisioner, data kept across a pod\'s deletion, scale-down and down --keep-data; a claim deleted takes its data', async () => {
  const upFlags = ['--api-server-port', String(await freePort()), '--resolv-conf', join(dir, 'resolv.conf'), '--detach'];
  const up = await runCli(['cluster', 'up', ...upFlags, ...flags()]).exited;
  expect(up.code, up.stderr + up.stdout).toBe(0);
  expect(await kubectl('get', 'storageclass')).toMatch(/^standard \(default\)\s+dockerlet\.io\/local-path\s+Delete\s+WaitForFirstConsumer\s/m);

  const manifest = join(dir, 'web.yaml');
  await writeFile(manifest, statefulSet);
  await kubectl('apply', '-f', manifest);
  await kubectl('rollout', 'status', 'statefulset/web', '--timeout=180s');
  const claims = await kubectlJson<{ items: Claim[] }>('get', 'pvc');
  expect(claims.items.map((c) => [c.metadata.name, c.status.phase, c.spec.storageClassName])).toEqual([
    ['data-web-0', 'Bound', 'standard'],
    ['data-web-1', 'Bound', 'standard'],
  ]);
  const volumes = await kubectlJson<{ items: Volume[] }>('get', 'pv');
  for (const volume of volumes.items) expect(volume.spec.local?.path.startsWith(join(clusterDir, 'volumes') + '/')).toBe(true);
  const ids = { 'web-0': await replicaId('web-0'), 'web-1': await replicaId('web-1') };
  expect(ids['web-0']).not.toBe(ids['web-1']);

  // The headless Service names each replica.
  const web1IP = (await kubectl('get', 'pod', 'web-1', '-o', 'jsonpath={.status.podIP}')).trim();
  const lookup = await waitFor('web-1.web to resolve from web-0', async () => {
    const answer = await kubectl('exec', 'web-0', '--', 'nslookup', `web-1.web.default.svc.cluster.local`).catch(() => '');
    return answer.includes(web1IP) ? answer : undefined;
  }, { timeoutMs: 30_000, intervalMs: 500 });
  expect(lookup).toContain(web1IP);

  // A replica deleted comes back, a new pod with the same claim and data.
  const before = await podUid('web-0');
  await kubectl('delete', 'pod', 'web-0', '--wait=true');
  await waitFor('web-0 back as a new pod', async () => {
    const uid = await podUid('web-0');
    return uid !== undefined && uid !== before;
  }, { timeoutMs: 60_000, intervalMs: 500 });
  await kubectl('wait', '--for=condition=Ready', 'pod/web-0', '--timeout=60s');
  expect(await replicaId('web-0')).toBe(ids['web-0']);

  // Scaling down keeps the claims, as Kubernetes does; deleting a claim takes its volume and data (policy Delete).
  await kubectl('scale', 'statefulset/web', '--replicas=1');
  await waitFor('web-1 gone', async () => (await podUid('web-1')) === undefined, { timeoutMs: 60_000, intervalMs: 500 });
  expect((await kubectlJson<{ items: Claim[] }>('get', 'pvc')).items.map((c) => [c.metadata.name, c.status.phase])).toEqual([['data-web-0', 'Bound'], ['data-web-1', 'Bound']]);
  console.log(`kubectl get sts,pvc,pv -o wide, after scaling to 1:\n${await kubectl('get', 'sts,pvc,pv', '-o', 'wide')}`);
  const web1Volume = volumes.items.find((v) => v.spec.claimRef?.name === 'data-web-1')!;
  await kubectl('delete', 'pvc', 'data-web-1', '--wait=true');
  await waitFor('data-web-1\'s volume and directory gone', async () => {
    const left = await kubectlJson<{ items: Volume[] }>('get', 'pv');
    const dirs = await readdir(join(clusterDir, 'volumes'));
    return !left.items.some((v) => v.metadata.name === web1Volume.metadata.name) && !dirs.some((d) => web1Volume.spec.local!.path.endsWith(d));
  }, { timeoutMs: 60_000, intervalMs: 500 });

  // down --keep-data, then up: the replica comes back on its data.
  const keep = await runCli(['cluster', 'down', '--keep-data', ...flags()]).exited;
  expect(keep.code, keep.stderr).toBe(0);
  const again = await runCli(['cluster', 'up', ...upFlags, ...flags()]).exited;
  expect(again.code, again.stderr + again.stdout).toBe(0);
  await kubectl('rollout', 'status', 'statefulset/web', '--timeout=180s');
  expect(await replicaId('web-0')).toBe(ids['web-0']);
}, 900_000);
