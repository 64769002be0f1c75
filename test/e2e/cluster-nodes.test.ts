/**
 * `dockerlet cluster up --nodes 3` as a user runs it: three Ready nodes, this host and two hosts
 * of their own (network and mount namespaces, a Docker engine each), with a /24 each of one pod
 * network. Images loaded into the further engines with `cluster load-image`; a Service with a
 * pod on every node, reached by name from a pod on the third node through its node's cluster
 * DNS, answers from all three; pods reach each other across nodes both ways; `kubectl logs` and
 * `exec` reach a further node; a claim's volume is made on the node its pod is scheduled to. Stopping `up` leaves every pod running and the next `up` adopts
 * them (another node count is refused); `down` leaves no namespace, link, rule, mount, engine, cgroup, container or directory.
 * Runs in the network group: the first node runs a proxy on this host.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { cgroupPath } from '../../agent/qos/qos-cgroups.js';
import { ClusterLayout } from '../../cli/cluster/cluster-layout.js';
import { clusterNetwork } from '../../cli/cluster/cluster-network.js';
import { readClusterState } from '../../cli/cluster/cluster-state.js';
import { NodeHosts } from '../../cli/cluster/node-hosts.js';
import { isRunning } from '../../cli/cluster/processes.js';
import { DockerletBin, runCli } from '../helpers/agent-process.js';
import { BusyboxImage, docker, nodeContainers } from '../helpers/docker.js';
import { freePort } from '../helpers/test-node.js';
import { waitFor } from '../helpers/wait-for.js';

const run = promisify(execFile);
const Name = `e2e-nodes-${process.pid}`;
const NodeNames = [Name, `${Name}-2`, `${Name}-3`];
let dir: string;
let clusterDir: string;
let flags: string[];
let hosts: NodeHosts;

async function cluster(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return runCli(['cluster', ...args, ...flags]).exited;
}

async function kubectl(...args: string[]): Promise<string> {
  return (await run('kubectl', ['--kubeconfig', join(clusterDir, 'kubeconfig', 'admin.kubeconfig'), ...args], { maxBuffer: 16 * 1024 * 1024 })).stdout;
}

interface PodList {
  items: Array<{ metadata: { name: string }; spec: { nodeName?: string }; status: { phase: string; podIP?: string; containerStatuses?: Array<{ ready: boolean; restartCount: number; containerID?: string }> } }>;
}

async function webPods(): Promise<PodList['items']> {
  return (JSON.parse(await kubectl('get', 'pods', '-l', 'app=web', '-o', 'json')) as PodList).items;
}

const allReady = (pods: PodList['items']): boolean => pods.length === 3 && pods.every((pod) => pod.status.phase === 'Running' && (pod.status.containerStatuses ?? []).every((status) => status.ready));

/** What this host has of the cluster's further nodes and pod network: empty once it is removed. */
async function leftOnHost(): Promise<string[]> {
  const left: string[] = [];
  const { stdout: namespaces } = await run('ip', ['netns', 'list']);
  left.push(...namespaces.split('\n').filter((line) => line.startsWith(`dkl-${hosts.id}-`)));
  const { stdout: links } = await run('ip', ['-o', 'link', 'show']);
  left.push(...links.split('\n').filter((line) => line.includes(`dkl${hosts.id}`)).map((line) => line.split(':')[1]!.trim()));
  const { stdout: rules } = await run('iptables-save');
  left.push(...rules.split('\n').filter((line) => line.includes(`dockerlet cluster ${hosts.id}`) || line.includes('DKL-POD-')));
  // Each hierarchy (v1's directories, or v2's root), in both cgroup drivers' spellings.
  const hierarchies = ['/sys/fs/cgroup', ...(await readdir('/sys/fs/cgroup', { withFileTypes: true })).filter((entry) => entry.isDirectory()).map((entry) => join('/sys/fs/cgroup', entry.name))];
  for (const host of hosts.hosts) {
    const cgroups = hierarchies.flatMap((hierarchy) => (['cgroupfs', 'systemd'] as const).map((driver) => join(hierarchy, cgroupPath([host.podsCgroup], driver))));
    for (const path of [host.mountNamespace, `${host.mountNamespace}.new`, host.execRoot, ...cgroups]) if (existsSync(path)) left.push(path);
  }
  if (existsSync(clusterDir)) left.push(clusterDir);
  left.push(...(await docker.listNetworks({ filters: { name: ['dockerlet-pods'] } })).map((network) => `network ${network.Name}`));
  left.push(...(await nodeContainers(Name)).map((container) => `container ${container.Names[0]}`));
  return left;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dockerlet-cluster-nodes-'));
  clusterDir = join(dir, Name);
  flags = ['--name', Name, '--dir', clusterDir];
  hosts = new NodeHosts(new ClusterLayout(clusterDir), clusterNetwork(Name, 3));
  // The nodes' cluster DNS forwards to a resolver on their own loopback, where none listens: no query leaves the machine.
  await writeFile(join(dir, 'resolv.conf'), 'nameserver 127.0.0.1\n');
});

afterAll(async () => {
  // Whatever the test reached: down removes what is left (it finds nothing after a passing run).
  try {
    await run(process.execPath, [DockerletBin, 'cluster', 'down', ...flags]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}, 180_000);

test('three nodes, one pod network: a Service by name across them, pods to pods, logs and exec on a further node; stop and resume keep the pods; down leaves nothing', async () => {
  const upFlags = ['--api-server-port', String(await freePort()), '--resolv-conf', join(dir, 'resolv.conf'), '--detach'];
  const up = await cluster('up', '--nodes', '3', ...upFlags);
  expect(up.code, up.stderr + up.stdout).toBe(0);
  expect(up.stdout).toContain(`cluster ${Name} is up: nodes ${NodeNames.join(', ')} Ready`);

  interface NodeList {
    items: Array<{ metadata: { name: string }; spec: { podCIDR?: string }; status: { addresses?: Array<{ type: string; address: string }>; conditions?: Array<{ type: string; status: string }> } }>;
  }
  const nodes = (JSON.parse(await kubectl('get', 'nodes', '-o', 'json')) as NodeList).items.map((node) => [
    node.metadata.name,
    node.spec.podCIDR,
    node.status.addresses?.find((address) => address.type === 'InternalIP')?.address,
    node.status.conditions?.find((condition) => condition.type === 'Ready')?.status,
  ]);
  expect(nodes).toEqual([[Name, '10.245.0.0/24', '10.253.0.1', 'True'], [`${Name}-2`, '10.245.1.0/24', '10.253.0.11', 'True'], [`${Name}-3`, '10.245.2.0/24', '10.253.0.12', 'True']]);
  const status = await cluster('status');
  expect(status.code, status.stdout).toBe(0);
  for (const component of ['dockerlet', 'dockerd-2', 'dockerlet-2', 'dockerd-3', 'dockerlet-3']) expect(status.stdout).toMatch(new RegExp(`^${component}\\s+\\d+\\s+running\\s+0\\s`, 'm'));

  const load = await cluster('load-image', BusyboxImage);
  expect(load.code, load.stderr).toBe(0);
  expect(load.stdout).toContain(`loaded ${BusyboxImage} into node ${Name}-3`);
  const missing = await cluster('load-image', 'dockerlet.local/no-such-image:1');
  expect(missing.code).toBe(1);
  expect(missing.stderr).toContain('image dockerlet.local/no-such-image:1: not in the Docker engine at /var/run/docker.sock; build or pull it there first');

  // A web pod on each node, and a Service over the three.
  for (const [index, node] of NodeNames.entries()) {
    await kubectl('run', `web-${index + 1}`, `--image=${BusyboxImage}`, '--image-pull-policy=Never', '--labels=app=web', `--overrides=${JSON.stringify({ spec: { nodeName: node, terminationGracePeriodSeconds: 1 } })}`,
      '--command', '--', 'sh', '-c', 'echo "started $HOSTNAME"; echo "$HOSTNAME" > /tmp/index.html; exec httpd -f -p 8080 -h /tmp');
  }
  await kubectl('create', 'service', 'clusterip', 'web', '--tcp=80:8080');
  await kubectl('set', 'selector', 'service', 'web', 'app=web');
  await waitFor('the three web pods Ready', async () => allReady(await webPods()), { timeoutMs: 90_000, intervalMs: 500 });
  const pods = await webPods();
  expect(pods.map((pod) => pod.spec.nodeName).sort()).toEqual(NodeNames);

  // By name, through the third node's DNS and proxy: the answers come from every node. (busybox's wget dies of SIGSEGV with -T.)
  const answered = new Set<string>();
  await waitFor('the Service to answer from all three nodes', async () => {
    answered.add((await kubectl('exec', 'web-3', '--', 'wget', '-qO-', 'http://web.default.svc.cluster.local/index.html').catch(() => '')).trim());
    return ['web-1', 'web-2', 'web-3'].every((pod) => answered.has(pod));
  }, { timeoutMs: 60_000, intervalMs: 100 });
  // Pod to pod, the first node's and the third's, both ways.
  const ip = (name: string): string => pods.find((pod) => pod.metadata.name === name)!.status.podIP!;
  expect((await kubectl('exec', 'web-1', '--', 'wget', '-qO-', `http://${ip('web-3')}:8080/index.html`)).trim()).toBe('web-3');
  expect((await kubectl('exec', 'web-3', '--', 'wget', '-qO-', `http://${ip('web-1')}:8080/index.html`)).trim()).toBe('web-1');
  expect((await kubectl('logs', 'web-2')).trim()).toBe('started web-2');

  // A claim of the default StorageClass, its pod scheduled on the third node: that node's provisioner makes the volume there.
  await writeFile(join(dir, 'claim.json'), JSON.stringify({
    apiVersion: 'v1', kind: 'List', items: [
      { apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'data' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Mi' } } } },
      { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'writer' }, spec: {
        nodeSelector: { 'kubernetes.io/hostname': NodeNames[2] }, terminationGracePeriodSeconds: 1,
        containers: [{ name: 'c', image: BusyboxImage, imagePullPolicy: 'Never', command: ['sh', '-c', 'echo written > /data/file; exec sleep 3600'], volumeMounts: [{ name: 'd', mountPath: '/data' }] }],
        volumes: [{ name: 'd', persistentVolumeClaim: { claimName: 'data' } }],
      } },
    ],
  }));
  await kubectl('apply', '-f', join(dir, 'claim.json'));
  await kubectl('wait', '--for=condition=Ready', 'pod/writer', '--timeout=90s');
  const volume = (await kubectl('get', 'pvc', 'data', '-o', 'jsonpath={.spec.volumeName}')).trim();
  const path = (await kubectl('get', 'pv', volume, '-o', 'jsonpath={.spec.local.path}')).trim();
  expect(path.startsWith(join(clusterDir, 'nodes', '3', 'volumes', `${volume}_`)), path).toBe(true);
  expect(await readFile(join(path, 'file'), 'utf8')).toBe('written\n');

  // Stopping up leaves the pods running: the next up adopts the same containers.
  const containers = (list: PodList['items']): string[] => list.flatMap((pod) => (pod.status.containerStatuses ?? []).map((status) => `${status.containerID}:${status.restartCount}`)).sort();
  const before = containers(pods);
  const supervisor = (await readClusterState(join(clusterDir, 'cluster.json')))!.supervisor!;
  process.kill(supervisor.pid, 'SIGTERM');
  await waitFor('cluster up to stop', async () => !(await isRunning(supervisor)), { timeoutMs: 120_000, intervalMs: 250 });
  const recount = await cluster('up', '--nodes', '2', ...upFlags);
  expect(recount.code, recount.stderr + recount.stdout).toBe(2);
  expect(recount.stderr).toContain(`--nodes 2: cluster ${Name} was made with 3 nodes, and keeps them`);
  const resumed = await cluster('up', ...upFlags);
  expect(resumed.code, resumed.stderr + resumed.stdout).toBe(0);
  await waitFor('the three web pods Ready again', async () => allReady(await webPods()), { timeoutMs: 60_000, intervalMs: 500 });
  expect(containers(await webPods())).toEqual(before);
  expect((await kubectl('exec', 'web-2', '--', 'wget', '-qO-', `http://${ip('web-1')}:8080/index.html`)).trim()).toBe('web-1');

  const down = await cluster('down');
  expect(down.code, down.stderr + down.stdout).toBe(0);
  expect(down.stdout).toContain(`removed nodes ${Name}-2, ${Name}-3`);
  expect(await leftOnHost()).toEqual([]);
}, 420_000);
