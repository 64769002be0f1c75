/**
 * Persistent volumes in cluster mode, against a real kube-apiserver, controller manager (the PV
 * controller binds) and scheduler (it picks the node for WaitForFirstConsumer claims), with the
 * node's own credentials: claims bound to hostPath and local PVs mounted; an unbound claim, and a
 * PV of a kind the node cannot mount, reported as the kubelet reports them; the local provisioner
 * giving claims local PVs on the scheduled node, and deleting or keeping their data per the
 * class's reclaim policy when the claims go.
 */
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, onTestFinished, test } from 'vitest';
import type { PersistentVolume, PersistentVolumeClaim, Pod, Volume } from '../../common/api/types.js';
import { KubeClient } from '../../common/kube-api/kube-client.js';
import { LocalProvisioner } from '../../provisioner/local-provisioner.js';
import { startAgent } from '../helpers/agent-harness.js';
import { clusterOptions, useControlPlane } from '../helpers/cluster.js';
import { BusyboxImage } from '../helpers/docker.js';
import { memoryLogger } from '../helpers/memory-logger.js';
import { uniqueNodeName } from '../helpers/test-node.js';
import { waitFor } from '../helpers/wait-for.js';

const plane = useControlPlane({ scheduler: true });

interface EventList {
  items: Array<{ reason: string; message: string; type: string; source?: { component?: string } }>;
}

/** A namespace of the test's own, deleted when it ends; ready for pods once its default ServiceAccount has its token. */
async function namespace(name: string): Promise<string> {
  await plane().request('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  onTestFinished(async () => void (await plane().request('DELETE', `/api/v1/namespaces/${name}`)));
  await waitFor(`namespace ${name}'s default ServiceAccount token`, async () => ((await apiObject<{ secrets?: unknown[] }>(`/api/v1/namespaces/${name}/serviceaccounts/default`))?.secrets?.length ?? 0) > 0);
  return name;
}

/** A temporary directory on the host, removed when the test ends. */
async function hostDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function create<T>(path: string, object: T): Promise<T> {
  const { status, body } = await plane().request('POST', path, object);
  if (status !== 201) throw new Error(`POST ${path}: ${status} ${JSON.stringify(body)}`);
  return body as T;
}

/** A PersistentVolume, deleted when the test ends. */
async function persistentVolume(volume: PersistentVolume): Promise<void> {
  await create('/api/v1/persistentvolumes', { apiVersion: 'v1', kind: 'PersistentVolume', ...volume });
  onTestFinished(async () => void (await plane().request('DELETE', `/api/v1/persistentvolumes/${volume.metadata!.name!}`)));
}

function claim(ns: string, name: string, spec: Partial<NonNullable<PersistentVolumeClaim['spec']>>): Promise<PersistentVolumeClaim> {
  return create(`/api/v1/namespaces/${ns}/persistentvolumeclaims`, {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: { name, namespace: ns },
    spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '64Mi' } }, ...spec },
  });
}

/** A pod that writes `<claim>` into /claims/<claim>/written for each of its claims, then sleeps. */
function claimPod(ns: string, name: string, claims: readonly string[], placement: Pick<NonNullable<Pod['spec']>, 'nodeName' | 'nodeSelector'>): Promise<Pod> {
  const volumes: Volume[] = claims.map((c) => ({ name: c, persistentVolumeClaim: { claimName: c } }));
  return create(`/api/v1/namespaces/${ns}/pods`, {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: ns },
    spec: {
      ...placement,
      terminationGracePeriodSeconds: 1,
      containers: [{
        name: 'main', image: BusyboxImage, imagePullPolicy: 'Never',
        command: ['sh', '-c', `for c in ${claims.join(' ')}; do echo $c > /claims/$c/written; done; trap 'exit 0' TERM; sleep 3600 & wait`],
        volumeMounts: claims.map((c) => ({ name: c, mountPath: `/claims/${c}` })),
      }],
      volumes,
    },
  });
}

async function apiObject<T>(path: string): Promise<T | undefined> {
  const { status, body } = await plane().get(path);
  return status === 200 ? (body as T) : undefined;
}

/** Running: a pod whose claim the PV controller binds at its next claim sync (every 15 s) can take a while, more under load. */
const running = (ns: string, name: string): Promise<Pod> =>
  waitFor(`pod ${ns}/${name} Running`, async () => {
    const pod = await apiObject<Pod>(`/api/v1/namespaces/${ns}/pods/${name}`);
    return pod?.status?.phase === 'Running' ? pod : undefined;
  }, { timeoutMs: 120_000 });

async function eventsOf(ns: string, kind: string, name: string): Promise<EventList['items']> {
  return ((await plane().get(`/api/v1/namespaces/${ns}/events?fieldSelector=involvedObject.kind=${kind},involvedObject.name=${name}`)).body as EventList).items;
}

const exists = async (path: string): Promise<boolean> => (await stat(path).catch(() => undefined)) !== undefined;

test('claims bound to a hostPath PV and to a local PV of this node are mounted, writable, with the data on the host', async () => {
  const nodeName = uniqueNodeName('pv');
  await startAgent({ nodeName, options: { cluster: await clusterOptions(plane(), nodeName) } });
  const ns = await namespace(`pv-bound-${process.pid}`);
  const host = await hostDir('dockerlet-pv-host-');
  const local = await hostDir('dockerlet-pv-local-');
  const common = { capacity: { storage: '1Gi' }, accessModes: ['ReadWriteOnce'], storageClassName: '' };
  await persistentVolume({ metadata: { name: `${ns}-hp` }, spec: { ...common, hostPath: { path: host, type: 'Directory' }, claimRef: { namespace: ns, name: 'hp' } } });
  await persistentVolume({
    metadata: { name: `${ns}-lp` },
    spec: { ...common, local: { path: local }, claimRef: { namespace: ns, name: 'lp' }, nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: [nodeName] }] }] } } },
  });
  await claim(ns, 'hp', { storageClassName: '', volumeName: `${ns}-hp` });
  await claim(ns, 'lp', { storageClassName: '', volumeName: `${ns}-lp` });
  await waitFor('both claims Bound by the PV controller', async () => {
    const phases = await Promise.all(['hp', 'lp'].map(async (c) => (await apiObject<PersistentVolumeClaim>(`/api/v1/namespaces/${ns}/persistentvolumeclaims/${c}`))?.status?.phase));
    return phases.every((phase) => phase === 'Bound');
  }, { timeoutMs: 90_000 });
  await claimPod(ns, 'user', ['hp', 'lp'], { nodeName });
  await running(ns, 'user');
  await waitFor('the pod\'s writes on the host', async () => (await readFile(join(host, 'written'), 'utf8').catch(() => '')) === 'hp\n' && (await readFile(join(local, 'written'), 'utf8').catch(() => '')) === 'lp\n');
}, 300_000);

test('an unbound claim keeps its pod waiting with FailedMount until a volume is bound to it; a PV of a kind the node cannot mount is named', async () => {
  const nodeName = uniqueNodeName('pv');
  await startAgent({ nodeName, options: { cluster: await clusterOptions(plane(), nodeName) } });
  const ns = await namespace(`pv-unbound-${process.pid}`);
  await claim(ns, 'waiting', { storageClassName: '' });
  await claimPod(ns, 'patient', ['waiting'], { nodeName });
  const failed = await waitFor('the FailedMount event', async () => (await eventsOf(ns, 'Pod', 'patient')).find((event) => event.reason === 'FailedMount'), { timeoutMs: 30_000 });
  expect(failed).toMatchObject({ type: 'Warning', message: `MountVolume.SetUp failed for volume "waiting" : error processing PVC ${ns}/waiting: PVC is not bound`, source: { component: 'kubelet' } });
  expect((await apiObject<Pod>(`/api/v1/namespaces/${ns}/pods/patient`))?.status?.phase).toBe('Pending');

  await persistentVolume({ metadata: { name: `${ns}-share` }, spec: { capacity: { storage: '1Gi' }, accessModes: ['ReadWriteMany'], storageClassName: '', nfs: { server: 'nfs.invalid', path: '/export' }, claimRef: { namespace: ns, name: 'share' } } });
  await claim(ns, 'share', { storageClassName: '', volumeName: `${ns}-share`, accessModes: ['ReadWriteMany'] });
  await claimPod(ns, 'nfs-user', ['share'], { nodeName });
  // Until the PV controller binds the claim (at its next claim sync, every 15 s, when it saw the claim before the volume), its FailedMount says it is not bound; then it names the kind.
  const nfs = await waitFor('the FailedMount event naming nfs', async () => (await eventsOf(ns, 'Pod', 'nfs-user')).find((event) => event.reason === 'FailedMount' && event.message.includes('nfs')), { timeoutMs: 90_000 });
  expect(nfs.message).toBe(`MountVolume.SetUp failed for volume "share" : PersistentVolume "${ns}-share" is a nfs volume: dockerlet mounts only hostPath and local PersistentVolumes`);

  // A volume for the waiting claim: bound, and the pod goes on.
  const host = await hostDir('dockerlet-pv-late-');
  await persistentVolume({ metadata: { name: `${ns}-late` }, spec: { capacity: { storage: '1Gi' }, accessModes: ['ReadWriteOnce'], storageClassName: '', hostPath: { path: host }, claimRef: { namespace: ns, name: 'waiting' } } });
  await running(ns, 'patient');
  expect(await readFile(join(host, 'written'), 'utf8')).toBe('waiting\n');
}, 300_000);

test('the local provisioner gives WaitForFirstConsumer claims local PVs on the scheduled node; Delete removes the data with the claim, Retain keeps it', async () => {
  const nodeName = uniqueNodeName('pv');
  await startAgent({ nodeName, options: { cluster: await clusterOptions(plane(), nodeName) } });
  const ns = await namespace(`pv-dynamic-${process.pid}`);
  const volumesDir = await hostDir('dockerlet-pv-provisioned-');
  const classes = { scratch: `scratch-${process.pid}`, kept: `kept-${process.pid}` };
  for (const [name, reclaimPolicy] of [[classes.scratch, 'Delete'], [classes.kept, 'Retain']] as const) {
    await create('/apis/storage.k8s.io/v1/storageclasses', { apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass', metadata: { name }, provisioner: 'dockerlet.io/local-path', reclaimPolicy, volumeBindingMode: 'WaitForFirstConsumer' });
    onTestFinished(async () => void (await plane().request('DELETE', `/apis/storage.k8s.io/v1/storageclasses/${name}`)));
  }
  const provisioner = new LocalProvisioner({ client: await KubeClient.fromKubeconfig(plane().adminKubeconfig, 'dockerlet-test'), nodeName, path: volumesDir, logger: memoryLogger().logger });
  onTestFinished(() => provisioner.stop());
  await provisioner.start();

  const scratch = await claim(ns, 'scratch', { storageClassName: classes.scratch });
  const kept = await claim(ns, 'kept', { storageClassName: classes.kept });
  // Nothing is provisioned before a pod is scheduled: the claims wait for their first consumer.
  expect((await apiObject<PersistentVolumeClaim>(`/api/v1/namespaces/${ns}/persistentvolumeclaims/scratch`))?.status?.phase).toBe('Pending');
  await claimPod(ns, 'consumer', ['scratch', 'kept'], { nodeSelector: { 'kubernetes.io/hostname': nodeName } });
  const pod = await running(ns, 'consumer');
  expect(pod.spec?.nodeName).toBe(nodeName);

  const volumeOf = async (c: PersistentVolumeClaim): Promise<PersistentVolume> => (await apiObject<PersistentVolume>(`/api/v1/persistentvolumes/pvc-${c.metadata!.uid!}`))!;
  const scratchVolume = await volumeOf(scratch);
  expect(scratchVolume.spec).toMatchObject({
    persistentVolumeReclaimPolicy: 'Delete',
    storageClassName: classes.scratch,
    local: { path: join(volumesDir, `pvc-${scratch.metadata!.uid!}_${ns}_scratch`) },
    nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: [nodeName] }] }] } },
    claimRef: { namespace: ns, name: 'scratch', uid: scratch.metadata!.uid },
  });
  const keptPath = (await volumeOf(kept)).spec!.local!.path;
  await waitFor('the pod\'s writes in the provisioned directories', async () => (await readFile(join(keptPath, 'written'), 'utf8').catch(() => '')) === 'kept\n');
  expect((await eventsOf(ns, 'PersistentVolumeClaim', 'scratch')).map((event) => event.reason)).toEqual(expect.arrayContaining(['Provisioning', 'ProvisioningSucceeded']));

  // The pod and the claims go: the PV controller releases both volumes; the provisioner deletes the Delete one, data and object.
  await plane().request('DELETE', `/api/v1/namespaces/${ns}/pods/consumer?gracePeriodSeconds=0`);
  await waitFor('the pod gone', async () => (await apiObject(`/api/v1/namespaces/${ns}/pods/consumer`)) === undefined, { timeoutMs: 30_000 });
  for (const c of ['scratch', 'kept']) await plane().request('DELETE', `/api/v1/namespaces/${ns}/persistentvolumeclaims/${c}`);
  await waitFor('the Delete volume and its directory gone', async () => (await apiObject(`/api/v1/persistentvolumes/pvc-${scratch.metadata!.uid!}`)) === undefined && !(await exists(scratchVolume.spec!.local!.path)), { timeoutMs: 90_000 });
  const released = await waitFor('the Retain volume Released', async () => {
    const volume = await volumeOf(kept);
    return volume.status?.phase === 'Released' ? volume : undefined;
  }, { timeoutMs: 60_000 });
  expect(released.spec?.persistentVolumeReclaimPolicy).toBe('Retain');
  expect(await readFile(join(keptPath, 'written'), 'utf8')).toBe('kept\n');
  await plane().request('DELETE', `/api/v1/persistentvolumes/pvc-${kept.metadata!.uid!}`);
}, 300_000);
