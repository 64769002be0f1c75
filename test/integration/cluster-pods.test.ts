/**
 * Cluster mode, pods from the API server: a pod bound to the node through the API runs, its status
 * reaches the API, and kubectl delete goes through the grace period to the object's removal by the
 * agent; mirror pods; an API outage; ConfigMaps, Secrets, Services, imagePullSecrets and projected
 * service account tokens from the API server. All against a real kube-apiserver with the node's
 * own credentials.
 */
import { readFile } from 'node:fs/promises';
import { expect, onTestFinished, test } from 'vitest';
import type { Pod } from '../../common/api/types.js';
import { busyboxPod, startAgent } from '../helpers/agent-harness.js';
import { clusterOptions, useControlPlane } from '../helpers/cluster.js';
import { BusyboxImage, docker, watchEvents } from '../helpers/docker.js';
import { startRegistry } from '../helpers/registry.js';
import { freePort, uniqueNodeName } from '../helpers/test-node.js';
import { waitFor } from '../helpers/wait-for.js';

const plane = useControlPlane();

/** A pod bound to `nodeName` whose container exits at once on SIGTERM. */
function boundPod(name: string, nodeName: string, namespace: string): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace },
    spec: {
      nodeName,
      containers: [{ name: 'main', image: 'dockerlet.local/busybox:1.35', imagePullPolicy: 'Never', command: ['sh', '-c', "trap 'exit 0' TERM; sleep 3600 & wait $!"] }],
    },
  };
}

async function apiPod(namespace: string, name: string): Promise<Pod | undefined> {
  const { status, body } = await plane().get(`/api/v1/namespaces/${namespace}/pods/${name}`);
  return status === 200 ? (body as Pod) : undefined;
}

test('a pod created through the API runs, and its status reaches the API server', async () => {
  const nodeName = uniqueNodeName('c');
  const agent = await startAgent({ nodeName, options: { cluster: await clusterOptions(plane(), nodeName) } });
  const created = (await plane().request('POST', '/api/v1/namespaces/default/pods', boundPod('web', nodeName, 'default'))).body as Pod;
  const running = await waitFor('the API pod to be Running and Ready in the API', async () => {
    const pod = await apiPod('default', 'web');
    return pod?.status?.phase === 'Running' && pod.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ? pod : undefined;
  }, { timeoutMs: 60_000 });
  expect(running.metadata?.uid).toBe(created.metadata?.uid);
  expect(running.status?.podIP).toMatch(/^10\.244\.\d+\.\d+$/);
  expect(running.status?.containerStatuses?.[0]).toMatchObject({ name: 'main', ready: true, restartCount: 0, state: { running: expect.any(Object) } });
  // What earlier statuses said is gone, not merged in: no waiting state beside running, no reason on a True condition.
  expect(Object.keys(running.status!.containerStatuses![0]!.state!)).toEqual(['running']);
  expect(running.status?.conditions?.find((c) => c.type === 'Ready')).toEqual({ type: 'Ready', status: 'True', lastProbeTime: null, lastTransitionTime: expect.any(String) });
  // The agent runs it under its API name and UID, not as a static pod.
  const local = agent.kubelet.podsWithStatus().find((pod) => pod.metadata?.uid === created.metadata?.uid);
  expect(local?.metadata?.name).toBe('web');
  expect(local?.metadata?.annotations?.['kubernetes.io/config.source']).toBe('api');
  expect(await plane().kubectl('get', 'pod', 'web', '-o', 'wide', '--no-headers')).toMatch(new RegExp(`^web\\s+1/1\\s+Running\\s+0\\s+\\S+\\s+10\\.244\\.\\S+\\s+${nodeName}`));
  // Its story, as kubectl describe tells it: the kubelet's events on the pod.
  const events = await waitFor('the Started event', async () => {
    const list = (await plane().get(`/api/v1/namespaces/default/events?fieldSelector=involvedObject.uid=${created.metadata!.uid!}`)).body as { items: Array<{ reason: string; message: string; source: { component: string; host: string }; involvedObject: { fieldPath?: string } }> };
    return list.items.some((event) => event.reason === 'Started') ? list.items : undefined;
  });
  expect(events.map((event) => event.reason)).toEqual(expect.arrayContaining(['Pulled', 'Created', 'Started']));
  expect(events.find((event) => event.reason === 'Started')).toMatchObject({ message: 'Started container main', source: { component: 'kubelet', host: nodeName }, involvedObject: { fieldPath: 'spec.containers{main}' } });
  expect(await plane().kubectl('describe', 'pod', 'web')).toMatch(/Normal\s+Started\s+.*kubelet.*\s+Started container main/);
  await plane().request('DELETE', '/api/v1/namespaces/default/pods/web?gracePeriodSeconds=0');
});

test('kubectl delete: the containers get the grace period, then the agent removes the API object', async () => {
  const nodeName = uniqueNodeName('c');
  const agent = await startAgent({ nodeName, options: { cluster: await clusterOptions(plane(), nodeName) } });
  await plane().request('POST', '/api/v1/namespaces/default/pods', boundPod('doomed', nodeName, 'default'));
  await waitFor('the pod to run', async () => (await apiPod('default', 'doomed'))?.status?.phase === 'Running', { timeoutMs: 60_000 });
  const events = await watchEvents({ label: [`dockerlet.io/node=${nodeName}`, 'io.kubernetes.container.name=main'] });
  try {
    await plane().kubectl('delete', 'pod', 'doomed', '--grace-period=7', '--wait=false');
    // The object stays while the pod terminates, then the agent deletes it for good.
    await waitFor('the API object to be gone', async () => (await apiPod('default', 'doomed')) === undefined, { timeoutMs: 30_000 });
    const kill = events.events.find((event) => event.action === 'kill');
    expect(kill?.signal).toBe('15');
    expect(events.events.some((event) => event.action === 'kill' && event.signal === '9')).toBe(false);
    expect((await agent.containers('main')).filter((container) => container.State === 'running')).toEqual([]);
  } finally {
    events.stop();
  }
});

test('a static pod gets a mirror pod with its status; a deleted mirror comes back, the pod untouched', async () => {
  const nodeName = uniqueNodeName('c');
  const agent = await startAgent({ nodeName, manifests: { 'static.yaml': busyboxPod('static', 'sleep 3600') }, options: { cluster: await clusterOptions(plane(), nodeName) } });
  const fullName = `static-${nodeName}`;
  const mirror = await waitFor('the mirror pod to show the static pod Running', async () => {
    const pod = await apiPod('default', fullName);
    return pod?.status?.phase === 'Running' ? pod : undefined;
  }, { timeoutMs: 60_000 });
  const staticPod = agent.pod('static')!;
  const node = (await plane().get(`/api/v1/nodes/${nodeName}`)).body as { metadata: { uid: string } };
  expect(mirror.metadata?.annotations).toMatchObject({
    'kubernetes.io/config.mirror': staticPod.metadata!.annotations!['kubernetes.io/config.hash'],
    'kubernetes.io/config.source': 'file',
  });
  expect(mirror.metadata?.ownerReferences).toEqual([{ apiVersion: 'v1', kind: 'Node', name: nodeName, uid: node.metadata.uid, controller: true }]);
  expect(mirror.metadata?.uid).not.toBe(staticPod.metadata?.uid);
  expect(mirror.status?.containerStatuses?.[0]).toMatchObject({ name: 'main', ready: true });
  const containerId = await agent.containerId('main');

  await plane().kubectl('delete', 'pod', fullName, '--wait=false');
  const recreated = await waitFor('the mirror pod to be made again', async () => {
    const pod = await apiPod('default', fullName);
    return pod && pod.metadata?.uid !== mirror.metadata?.uid && !pod.metadata?.deletionTimestamp ? pod : undefined;
  }, { timeoutMs: 30_000 });
  expect(recreated.metadata?.annotations?.['kubernetes.io/config.mirror']).toBe(mirror.metadata?.annotations?.['kubernetes.io/config.mirror']);
  expect(await agent.containerId('main')).toBe(containerId);
  expect(agent.pod('static')?.status?.containerStatuses?.[0]?.restartCount).toBe(0);
  // kubectl get pods -A lists it with its real status.
  expect(await plane().kubectl('get', 'pods', '-A', '--no-headers')).toMatch(new RegExp(`default\\s+${fullName}\\s+1/1\\s+Running`));
});

test('an API outage: every pod keeps running, the local API keeps serving, and the agent resyncs after', async () => {
  const nodeName = uniqueNodeName('c');
  const readOnlyPort = await freePort();
  const agent = await startAgent({
    nodeName,
    manifests: { 'static.yaml': busyboxPod('static', 'sleep 3600') },
    options: { readOnlyPort, cluster: { ...(await clusterOptions(plane(), nodeName)), nodeLeaseDurationSeconds: 4 } },
  });
  await plane().request('POST', '/api/v1/namespaces/default/pods', boundPod('steady', nodeName, 'default'));
  await waitFor('both pods Running in the API', async () => (await apiPod('default', 'steady'))?.status?.phase === 'Running' && (await apiPod('default', `static-${nodeName}`))?.status?.phase === 'Running', { timeoutMs: 60_000 });
  const events = await watchEvents({ label: [`dockerlet.io/node=${nodeName}`] });
  try {
    await plane().stopApiServer();
    // The outage is seen: the watch and the Lease fail, and are retried.
    await waitFor('the agent to see the outage', () => agent.log.lines.some((line) => line.msg === 'failed to renew the node lease, will retry') && agent.log.lines.some((line) => line.msg === 'list/watch failed, will retry'), { timeoutMs: 30_000 });
    const served = (await (await fetch(`http://127.0.0.1:${readOnlyPort}/pods`)).json()) as { items: Pod[] };
    expect(served.items.map((pod) => pod.metadata?.name).sort()).toEqual([`static-${nodeName}`, 'steady']);
    expect(served.items.every((pod) => pod.status?.phase === 'Running')).toBe(true);

    await plane().startApiServer();
    // Back: the pods are listed again, and the status flows again (the node reports Ready).
    await waitFor('the node to report again', async () => {
      const lease = (await plane().get(`/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${nodeName}`)).body as { spec: { renewTime: string } };
      return Date.parse(lease.spec.renewTime) > Date.now() - 3_000;
    }, { timeoutMs: 30_000 });
    expect((await apiPod('default', 'steady'))?.status?.phase).toBe('Running');
    // Not a container was created, killed or removed through all of it.
    expect(events.events.filter((event) => ['create', 'kill', 'die', 'destroy'].includes(event.action))).toEqual([]);
    expect(agent.kubelet.podsWithStatus().map((pod) => pod.metadata?.name).sort()).toEqual([`static-${nodeName}`, 'steady']);
  } finally {
    events.stop();
    // A failure must not leave the next tests without an API server.
    await plane().startApiServer().catch(() => undefined);
  }
});

test('ConfigMaps, Secrets and Services come from the API server, in env and volumes, and a change reaches the volume', async () => {
  const nodeName = uniqueNodeName('c');
  const agent = await startAgent({ nodeName, options: { cluster: await clusterOptions(plane(), nodeName) } });
  const namespace = 'default';
  const suffix = nodeName.slice(-4);
  await plane().request('POST', `/api/v1/namespaces/${namespace}/configmaps`, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `settings-${suffix}` }, data: { greeting: 'hello', 'app.conf': 'v1' } });
  await plane().request('POST', `/api/v1/namespaces/${namespace}/secrets`, { apiVersion: 'v1', kind: 'Secret', metadata: { name: `creds-${suffix}` }, stringData: { password: 's3cret' } });
  const linked = (await plane().request('POST', `/api/v1/namespaces/${namespace}/services`, { apiVersion: 'v1', kind: 'Service', metadata: { name: `linked-${suffix}` }, spec: { ports: [{ port: 5432 }] } })).body as { spec: { clusterIP: string } };
  const pod = boundPod(`configured-${suffix}`, nodeName, namespace);
  pod.spec!.containers[0]!.env = [
    { name: 'GREETING', valueFrom: { configMapKeyRef: { name: `settings-${suffix}`, key: 'greeting' } } },
    { name: 'PASSWORD', valueFrom: { secretKeyRef: { name: `creds-${suffix}`, key: 'password' } } },
  ];
  pod.spec!.containers[0]!.volumeMounts = [
    { name: 'conf', mountPath: '/conf' },
    { name: 'creds', mountPath: '/creds' },
  ];
  pod.spec!.volumes = [
    { name: 'conf', configMap: { name: `settings-${suffix}` } },
    { name: 'creds', secret: { secretName: `creds-${suffix}` } },
  ];
  await plane().request('POST', `/api/v1/namespaces/${namespace}/pods`, pod);
  await waitFor('the configured pod to run', async () => (await apiPod(namespace, `configured-${suffix}`))?.status?.phase === 'Running', { timeoutMs: 60_000 });
  expect((await agent.exec('main', ['sh', '-c', 'echo "$GREETING $PASSWORD"; cat /conf/app.conf; echo; cat /creds/password'])).output).toBe('hello s3cret\nv1\ns3cret');
  // The pod waited for its objects (the service-account token's Secret among them) to be read: no failed mount on the way.
  expect(agent.log.events('FailedMount')).toEqual([]);
  // Service links from the API's Services: the namespace's, and the master Service's (the API server at 10.96.0.1).
  const env = (await agent.exec('main', ['env'])).output.split('\n');
  expect(env).toContain('KUBERNETES_SERVICE_HOST=10.96.0.1');
  expect(env).toContain('KUBERNETES_SERVICE_PORT=443');
  expect(env).toContain(`LINKED_${suffix.toUpperCase()}_SERVICE_HOST=${linked.spec.clusterIP}`);

  await plane().request('PUT', `/api/v1/namespaces/${namespace}/configmaps/settings-${suffix}`, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `settings-${suffix}` }, data: { greeting: 'hello', 'app.conf': 'v2' } });
  await waitFor('the new ConfigMap in the volume', async () => (await agent.exec('main', ['cat', '/conf/app.conf'])).output === 'v2', { timeoutMs: 30_000 });
});

test('a pod that completed and is then deleted in the API is removed at once', async () => {
  const nodeName = uniqueNodeName('c');
  await startAgent({ nodeName, options: { cluster: await clusterOptions(plane(), nodeName) } });
  const pod = boundPod('finished', nodeName, 'default');
  pod.spec!.restartPolicy = 'Never';
  pod.spec!.containers[0]!.command = ['true'];
  await plane().request('POST', '/api/v1/namespaces/default/pods', pod);
  await waitFor('the pod to have Succeeded in the API', async () => (await apiPod('default', 'finished'))?.status?.phase === 'Succeeded', { timeoutMs: 60_000 });
  await plane().kubectl('delete', 'pod', 'finished', '--wait=false');
  await waitFor('the API object to be gone', async () => (await apiPod('default', 'finished')) === undefined, { timeoutMs: 30_000 });
});

test('a projected kube-api-access volume: a bound token from TokenRequest, the cluster CA and the namespace', async () => {
  const nodeName = uniqueNodeName('c');
  const agent = await startAgent({ nodeName, options: { cluster: await clusterOptions(plane(), nodeName) } });
  const name = `token-${nodeName.slice(-4)}`;
  const pod = boundPod(name, nodeName, 'default');
  // What 1.22+ API servers inject in place of the secret volume of 1.20's (they ask for 3607 s,
  // which the server silently extends to a year: 3600 shows the requested lifetime reaching it).
  pod.spec!.volumes = [
    {
      name: 'kube-api-access',
      projected: {
        defaultMode: 0o644,
        sources: [
          { serviceAccountToken: { path: 'token', expirationSeconds: 3600 } },
          { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
          { downwardAPI: { items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }] } },
        ],
      },
    },
  ];
  pod.spec!.containers[0]!.volumeMounts = [{ name: 'kube-api-access', mountPath: '/var/run/secrets/tokens', readOnly: true }];
  const created = (await plane().request('POST', '/api/v1/namespaces/default/pods', pod)).body as Pod;
  await waitFor('the pod to run', async () => (await apiPod('default', name))?.status?.phase === 'Running', { timeoutMs: 60_000 });
  const read = async (file: string): Promise<string> => (await agent.exec('main', ['cat', `/var/run/secrets/tokens/${file}`])).output;
  expect(await read('namespace')).toBe('default');
  expect(await read('ca.crt')).toBe(await readFile(plane().caFile, 'utf8'));
  const token = await read('token');
  // The API server takes it as the pod's service account, bound to this very pod.
  const review = (await plane().request('POST', '/apis/authentication.k8s.io/v1/tokenreviews', { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token } })).body as {
    status: { authenticated?: boolean; user?: { username: string; extra?: Record<string, string[]> } };
  };
  expect(review.status.authenticated).toBe(true);
  expect(review.status.user?.username).toBe('system:serviceaccount:default:default');
  expect(review.status.user?.extra?.['authentication.kubernetes.io/pod-uid']).toEqual([created.metadata!.uid]);
  const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as { exp: number; iat: number };
  expect(claims.exp - claims.iat).toBe(3600);
  expect(agent.log.events('FailedMount')).toEqual([]);
  await plane().request('DELETE', `/api/v1/namespaces/default/pods/${name}?gracePeriodSeconds=0`);
});

test("imagePullSecrets from the API server log in to a registry that wants it", async () => {
  const nodeName = uniqueNodeName('c');
  const login = { username: 'bob', password: 'hunter2' };
  const registry = await startRegistry({ login });
  onTestFinished(() => registry.stop());
  const image = await registry.push(BusyboxImage, `private/busybox:${nodeName.slice(-4)}`);
  onTestFinished(() => docker.getImage(image).remove({ force: true }).then(() => undefined, () => undefined));
  await startAgent({ nodeName, options: { cluster: await clusterOptions(plane(), nodeName) } });
  const secret = `pull-${nodeName.slice(-4)}`;
  const auths = { [registry.address]: { username: login.username, password: login.password } };
  await plane().request('POST', '/api/v1/namespaces/default/secrets', { apiVersion: 'v1', kind: 'Secret', metadata: { name: secret }, type: 'kubernetes.io/dockerconfigjson', stringData: { '.dockerconfigjson': JSON.stringify({ auths }) } });
  const pod = boundPod(`private-${nodeName.slice(-4)}`, nodeName, 'default');
  pod.spec!.imagePullSecrets = [{ name: secret }];
  pod.spec!.containers[0] = { ...pod.spec!.containers[0]!, image, imagePullPolicy: 'Always' };
  await plane().request('POST', '/api/v1/namespaces/default/pods', pod);
  const running = await waitFor('the private image to run', async () => {
    const current = await apiPod('default', pod.metadata!.name!);
    return current?.status?.phase === 'Running' ? current : undefined;
  }, { timeoutMs: 60_000 });
  expect(running.status?.containerStatuses?.[0]?.imageID).toMatch(new RegExp(`^docker-pullable://${registry.address}/private/busybox@sha256:`));
  await plane().request('DELETE', `/api/v1/namespaces/default/pods/${pod.metadata!.name!}?gracePeriodSeconds=0`);
});
