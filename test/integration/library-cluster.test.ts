/**
 * A library test node joined to a cluster (a real kube-apiserver, controller manager and
 * scheduler), with the admin's kubeconfig as a test author has it from `dockerlet cluster up`:
 * objects applied through the API server, pods bound to the node, Services served by ClusterIP,
 * and everything, the Node included, gone after stop().
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, onTestFinished, test } from 'vitest';
import type { Node, Pod } from '../../common/api/types.js';
import { cidrContains, parseIpv4Cidr } from '../../common/util/ipv4.js';
import { reapDeadSessions, startNode } from '../../library/index.js';
import { useControlPlane } from '../helpers/cluster.js';
import { ServiceClusterIPRange } from '../helpers/control-plane.js';
import { nodeContainers } from '../helpers/docker.js';
import { memoryLogger } from '../helpers/memory-logger.js';
import { uniqueNodeName } from '../helpers/test-node.js';
import { waitFor } from '../helpers/wait-for.js';

const plane = useControlPlane({ scheduler: true });

const manifests = `apiVersion: v1
kind: ConfigMap
metadata: {name: greeting}
data: {index.html: hello from the cluster}
---
apiVersion: v1
kind: Pod
metadata:
  name: web
  labels: {app: web}
spec:
  terminationGracePeriodSeconds: 1
  containers:
    - name: httpd
      image: dockerlet.local/busybox:1.35
      command: ["httpd", "-f", "-p", "8080", "-h", "/www"]
      readinessProbe: {httpGet: {path: /, port: 8080}, periodSeconds: 1}
      volumeMounts: [{name: www, mountPath: /www}]
  volumes: [{name: www, configMap: {name: greeting}}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
`;

async function status(path: string): Promise<number> {
  return (await plane().request('GET', path)).status;
}

test('joined to a cluster: applied through the API server, bound to the node, served by ClusterIP; stop deletes them and the Node', async () => {
  const scratch = await mkdtemp(join(tmpdir(), 'library-cluster-'));
  onTestFinished(() => rm(scratch, { recursive: true, force: true }));
  await writeFile(join(scratch, 'resolv.conf'), 'nameserver 127.0.0.1\n');
  // Pods are admitted once the default ServiceAccount has its token.
  await waitFor('the default ServiceAccount token', async () => ((await plane().request('GET', '/api/v1/namespaces/default/serviceaccounts/default')).body as { secrets?: unknown[] }).secrets?.length);
  const name = uniqueNodeName('lib');
  const node = await startNode({ name, kubeconfig: plane().adminKubeconfig, sessionsDir: join(scratch, 'sessions'), resolvConf: join(scratch, 'resolv.conf'), logger: memoryLogger().logger });
  onTestFinished(() => node.stop());

  const registered = (await plane().request('GET', `/api/v1/nodes/${name}`)).body as Node;
  expect(registered.spec?.taints).toContainEqual({ key: 'dockerlet.io/test-node', effect: 'NoSchedule' });

  expect(await node.apply(manifests)).toEqual([
    { kind: 'ConfigMap', namespace: 'default', name: 'greeting' },
    { kind: 'Pod', namespace: 'default', name: 'web' },
    { kind: 'Service', namespace: 'default', name: 'web' },
  ]);
  const [pod] = await node.waitForPods(['web'], { timeout: '90s' });
  expect(pod?.spec?.nodeName).toBe(name);
  await waitFor('the pod Running in the API server', async () => ((await plane().request('GET', '/api/v1/namespaces/default/pods/web')).body as Pod).status?.phase === 'Running');

  const url = await node.serviceUrl('web');
  expect(cidrContains(parseIpv4Cidr(ServiceClusterIPRange)!, new URL(url).hostname)).toBe(true);
  expect(await (await fetch(url)).text()).toBe('hello from the cluster');
  expect((await node.exec('web', ['cat', '/www/index.html'])).stdout).toBe('hello from the cluster');

  await node.stop();
  expect(await status(`/api/v1/nodes/${name}`)).toBe(404);
  for (const path of ['/api/v1/namespaces/default/pods/web', '/api/v1/namespaces/default/services/web', '/api/v1/namespaces/default/configmaps/greeting']) expect(await status(path)).toBe(404);
  expect(await nodeContainers(name)).toEqual([]);
});

test('a joined node whose test process was killed: the reaper deletes its objects and its Node from the API server', async () => {
  const scratch = await mkdtemp(join(tmpdir(), 'library-cluster-'));
  const sessions = join(scratch, 'sessions');
  onTestFinished(async () => {
    await reapDeadSessions(sessions, memoryLogger().logger);
    await rm(scratch, { recursive: true, force: true });
  });
  await writeFile(join(scratch, 'resolv.conf'), 'nameserver 127.0.0.1\n');
  const name = uniqueNodeName('lib');
  const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, '../helpers/library-child.ts'), sessions, name, join(scratch, 'resolv.conf'), plane().adminKubeconfig], { stdio: ['ignore', 'pipe', 'inherit'] });
  onTestFinished(() => void child.kill('SIGKILL'));
  await once(createInterface({ input: child.stdout! }), 'line');
  expect(await status('/api/v1/namespaces/default/pods/sleeper')).toBe(200);
  child.kill('SIGKILL');
  await once(child, 'exit');

  expect(await reapDeadSessions(sessions, memoryLogger().logger)).toEqual([name]);
  for (const path of [`/api/v1/nodes/${name}`, '/api/v1/namespaces/default/pods/sleeper', '/api/v1/namespaces/default/services/sleeper']) expect(await status(path)).toBe(404);
  expect(await nodeContainers(name)).toEqual([]);
});
