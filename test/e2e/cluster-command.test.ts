/**
 * `dockerlet cluster` as a user runs it: `up --detach --merge-kubeconfig` gives a cluster whose
 * node is dockerlet, as the current context of the user's kubeconfig, and kubectl 1.32 alone does
 * the rest with the real controllers: a Deployment scaled and rolled, a Service reached on its
 * ClusterIP from the host and by name from a pod, a Job, a CronJob firing on its schedule, a
 * namespace deleted with everything in it, a static pod's mirror. `status` and `logs` report on
 * it. Stopping `up` leaves the pods running and the next `up` adopts them; `down --keep-data` then
 * `up` brings the cluster back with its objects; `down` leaves no process, container, service
 * rule, address, mount or kubeconfig context behind. A terminal's Ctrl-C to a foreground `up`
 * stops everything in order, while it starts as once it is up; `down` after a killed `up` ends
 * what it left. Runs in the network group: the node runs a proxy.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, onTestFinished, test } from 'vitest';
import { mountPointsUnder } from '../../agent/volumes/mounts.js';
import { readClusterState } from '../../cli/cluster/cluster-state.js';
import { isRunning } from '../../cli/cluster/processes.js';
import { DockerletBin, runCli } from '../helpers/agent-process.js';
import { BusyboxImage, nodeContainers } from '../helpers/docker.js';
import { freePort } from '../helpers/test-node.js';
import { waitFor } from '../helpers/wait-for.js';

const run = promisify(execFile);
let dir: string;
/** The cluster the current test drives: each test has its own, all of them removed after the file. */
let Name: string;
let clusterDir: string;
let kubeconfig: string;
let flags: string[];
const clusters: string[][] = [];

function useCluster(suffix: string): void {
  Name = `e2e-${suffix}-${process.pid}`;
  clusterDir = join(dir, Name);
  kubeconfig = join(clusterDir, 'kubeconfig', 'admin.kubeconfig');
  flags = ['--name', Name, '--dir', clusterDir];
  clusters.push(flags);
}

/** The lines of the proxy's own rules (the host guard's chain is the host's, not the proxy's), and the loopback's addresses. */
async function hostNetworkState(): Promise<{ rules: string[]; loopback: string }> {
  const { stdout } = await run('iptables-save');
  const rules = stdout.split('\n').filter((line) => line.includes('DOCKERLET-') && !line.includes('DOCKERLET-SERVICE-GUARD')).map((line) => line.replace(/\[\d+:\d+\]/, ''));
  return { rules, loopback: (await run('ip', ['-o', 'addr', 'show', 'dev', 'lo'])).stdout };
}

async function cluster(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return runCli(['cluster', ...args, ...flags]).exited;
}

async function kubectl(...args: string[]): Promise<string> {
  return (await run('kubectl', ['--kubeconfig', kubeconfig, ...args], { maxBuffer: 16 * 1024 * 1024 })).stdout;
}

async function kubectlJson<T>(...args: string[]): Promise<T> {
  return JSON.parse(await kubectl(...args, '-o', 'json')) as T;
}

interface PodList {
  items: Array<{ metadata: { name: string; namespace: string; ownerReferences?: Array<{ kind: string; name: string }> }; spec: { nodeName?: string }; status: { phase: string; containerStatuses?: Array<{ ready: boolean; containerID?: string }> } }>;
}

async function readyPods(selector: string): Promise<PodList['items']> {
  const pods = await kubectlJson<PodList>('get', 'pods', '-l', selector);
  return pods.items.filter((pod) => pod.status.phase === 'Running' && (pod.status.containerStatuses ?? []).every((status) => status.ready));
}

let before: Awaited<ReturnType<typeof hostNetworkState>>;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dockerlet-cluster-e2e-'));
  // The node's cluster DNS forwards to a resolver on the pods' own loopback, where none listens: no query leaves the machine.
  await writeFile(join(dir, 'resolv.conf'), 'nameserver 127.0.0.1\n');
  await mkdir(join(dir, 'static'));
  await writeFile(join(dir, 'static', 'static.yaml'), JSON.stringify({
    apiVersion: 'v1', kind: 'Pod', metadata: { name: 'static' },
    spec: { containers: [{ name: 'c', image: BusyboxImage, imagePullPolicy: 'Never', command: ['sh', '-c', "trap 'exit 0' TERM; sleep 3600 & wait"] }] },
  }));
  before = await hostNetworkState();
});

afterAll(async () => {
  // Whatever the test reached: down removes what is left (it finds nothing after a passing run).
  try {
    for (const each of clusters) await run(process.execPath, [DockerletBin, 'cluster', 'down', ...each]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}, 180_000);

test('cluster up, the workloads of a cluster through kubectl, stop and resume, down --keep-data and up, down leaving nothing', async () => {
  useCluster('workloads');
  const apiPort = String(await freePort());
  const upFlags = ['--api-server-port', apiPort, '--resolv-conf', join(dir, 'resolv.conf'), '--pod-manifest-path', join(dir, 'static'), '--detach'];
  // The user's kubeconfig, with a context of their own the merge must keep.
  const userKubeconfig = join(dir, 'user.kubeconfig');
  await writeFile(userKubeconfig, JSON.stringify({ apiVersion: 'v1', kind: 'Config', clusters: [{ name: 'prod', cluster: { server: 'https://prod.invalid' } }], contexts: [{ name: 'prod', context: { cluster: 'prod', user: '' } }], users: [], 'current-context': 'prod' }));
  process.env.KUBECONFIG = userKubeconfig;
  const up = await cluster('up', ...upFlags, '--merge-kubeconfig');
  expect(up.code, up.stderr + up.stdout).toBe(0);
  expect(up.stdout).toContain(`cluster ${Name} is up: node ${Name} Ready`);
  expect(up.stdout).toContain(`kubectl's current context is dockerlet-${Name} (in ${userKubeconfig})`);
  expect((await run('kubectl', ['config', 'current-context'])).stdout.trim()).toBe(`dockerlet-${Name}`);
  expect((await run('kubectl', ['get', 'nodes', '-o', 'name'])).stdout.trim()).toBe(`node/${Name}`);
  expect((await run('kubectl', ['config', 'get-contexts', '-o', 'name'])).stdout.split('\n').sort()).toEqual(['', `dockerlet-${Name}`, 'prod']);

  const status = await cluster('status');
  expect(status.code, status.stdout).toBe(0);
  for (const component of ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'local-provisioner', 'dockerlet']) {
    expect(status.stdout).toMatch(new RegExp(`^${component}\\s+\\d+\\s+running\\s+0\\s+\\S+`, 'm'));
  }
  expect(await kubectl('get', 'nodes')).toMatch(new RegExp(`^${Name}\\s+Ready\\s`, 'm'));
  const logs = await cluster('logs', 'kube-apiserver', '--tail', '2');
  expect(logs.code, logs.stderr).toBe(0);
  expect(logs.stdout.trimEnd().split('\n')).toHaveLength(2);

  // A Deployment, its Service, and the Service reached from the host and, by name, from a pod.
  const httpd = ['sh', '-c', 'echo "$HOSTNAME" > /tmp/index.html; exec httpd -f -p 80 -h /tmp'];
  await kubectl('create', 'deployment', 'web', `--image=${BusyboxImage}`, '--replicas=3', '--', ...httpd);
  await waitFor('3 web pods Ready', async () => (await readyPods('app=web')).length === 3, { timeoutMs: 90_000, intervalMs: 500 });
  expect((await readyPods('app=web')).every((pod) => pod.spec.nodeName === Name)).toBe(true);
  await kubectl('expose', 'deployment', 'web', '--port', '80');
  const clusterIP = (await kubectl('get', 'service', 'web', '-o', 'jsonpath={.spec.clusterIP}')).trim();
  const webPods = new Set((await readyPods('app=web')).map((pod) => pod.metadata.name));
  const fromHost = await waitFor('the ClusterIP to answer from the host', async () => {
    const response = await fetch(`http://${clusterIP}/index.html`, { signal: AbortSignal.timeout(3_000) });
    return (await response.text()).trim();
  }, { timeoutMs: 30_000, intervalMs: 250 });
  expect(webPods).toContain(fromHost);
  const client = [...webPods][0]!;
  expect(webPods).toContain((await kubectl('exec', client, '--', 'wget', '-qO-', 'http://web/index.html')).trim());

  // Scale, then a rolling update: every pod replaced, under a new ReplicaSet.
  await kubectl('scale', 'deployment', 'web', '--replicas=4');
  await waitFor('4 web pods Ready', async () => (await readyPods('app=web')).length === 4, { timeoutMs: 60_000, intervalMs: 500 });
  const scaled = new Set((await readyPods('app=web')).map((pod) => pod.metadata.name));
  await kubectl('rollout', 'restart', 'deployment/web');
  await kubectl('rollout', 'status', 'deployment/web', '--timeout=180s');
  const rolled = await waitFor('4 new web pods Ready, the old ones gone', async () => {
    const pods = await kubectlJson<PodList>('get', 'pods', '-l', 'app=web');
    const ready = await readyPods('app=web');
    return pods.items.length === 4 && ready.length === 4 && ready.every((pod) => !scaled.has(pod.metadata.name)) ? ready : undefined;
  }, { timeoutMs: 90_000, intervalMs: 500 });
  expect(new Set(rolled.map((pod) => pod.metadata.ownerReferences?.[0]?.name)).size).toBe(1);

  // A Job to completion, and a CronJob (batch/v1beta1: what a 1.20 API server serves) firing on its schedule.
  await kubectl('create', 'job', 'once', `--image=${BusyboxImage}`, '--', 'sh', '-c', 'echo job done');
  await kubectl('wait', '--for=condition=complete', 'job/once', '--timeout=60s');
  expect((await kubectl('logs', 'job/once')).trim()).toBe('job done');
  await applyCronJob();
  const fired = await waitFor('a Job of the CronJob to complete', async () => {
    const jobs = await kubectlJson<{ items: Array<{ metadata: { name: string; ownerReferences?: Array<{ kind: string }> }; status: { succeeded?: number } }> }>('get', 'jobs');
    return jobs.items.find((job) => job.metadata.ownerReferences?.[0]?.kind === 'CronJob' && job.status.succeeded === 1)?.metadata.name;
  }, { timeoutMs: 150_000, intervalMs: 1_000 });
  expect((await kubectl('logs', `job/${fired}`)).trim()).toBe('tick');

  // A namespace deleted takes its Deployment's pods, and their containers, with it.
  await kubectl('create', 'namespace', 'scratch');
  await kubectl('-n', 'scratch', 'create', 'deployment', 'sleeper', `--image=${BusyboxImage}`, '--', 'sh', '-c', "trap 'exit 0' TERM; sleep 3600 & wait");
  await kubectl('-n', 'scratch', 'wait', '--for=condition=available', 'deployment/sleeper', '--timeout=60s');
  const inScratch = async (): Promise<number> => (await nodeContainers(Name)).filter((c) => c.Labels['io.kubernetes.pod.namespace'] === 'scratch').length;
  expect(await inScratch()).toBe(2);
  await kubectl('delete', 'namespace', 'scratch', '--timeout=120s');
  expect(await kubectl('get', 'namespaces', '-o', 'name')).not.toContain('namespace/scratch');
  await waitFor("the namespace's containers to go", async () => (await inScratch()) === 0, { timeoutMs: 30_000, intervalMs: 500 });

  // The node's static pod, through its mirror.
  const mirror = await kubectlJson<{ metadata: { annotations: Record<string, string> }; status: { phase: string } }>('get', 'pod', `static-${Name}`);
  expect(mirror.metadata.annotations['kubernetes.io/config.mirror']).toBeDefined();
  expect(mirror.status.phase).toBe('Running');

  // Stopping `up` stops every process and leaves the pods running; the next `up` adopts them.
  const running = await nodeContainerIds();
  const stopped = await stopSupervisor();
  expect(await anyRunning(stopped)).toBe(false);
  expect(await nodeContainerIds()).toEqual(running);
  const resumed = await cluster('up', ...upFlags);
  expect(resumed.code, resumed.stderr + resumed.stdout).toBe(0);
  expect(resumed.stdout).toContain(`resuming cluster ${Name}`);
  await waitFor('the 4 web pods Ready again', async () => (await readyPods('app=web')).length === 4, { timeoutMs: 60_000, intervalMs: 500 });
  expect((await nodeContainerIds()).filter((id) => running.includes(id))).toEqual(running);

  // down --keep-data, then up: the objects are back from etcd, the pods made again.
  const keep = await cluster('down', '--keep-data');
  expect(keep.code, keep.stderr).toBe(0);
  expect(await nodeContainers(Name)).toEqual([]);
  const again = await cluster('up', ...upFlags);
  expect(again.code, again.stderr + again.stdout).toBe(0);
  await waitFor('the 4 web pods Ready from the kept data', async () => (await readyPods('app=web')).length === 4, { timeoutMs: 90_000, intervalMs: 500 });
  expect((await kubectl('get', 'service', 'web', '-o', 'jsonpath={.spec.clusterIP}')).trim()).toBe(clusterIP);

  // down leaves nothing: no process, container, service rule, loopback address, mount or file.
  const last = await recordedProcesses();
  const down = await cluster('down');
  expect(down.code, down.stderr).toBe(0);
  expect(down.stdout).toContain(`cluster ${Name} is removed`);
  expect(await anyRunning(last)).toBe(false);
  expect(await nodeContainers(Name)).toEqual([]);
  expect(await hostNetworkState()).toEqual(before);
  expect(await mountPointsUnder(clusterDir)).toEqual([]);
  await expect(readFile(join(clusterDir, 'cluster.json'))).rejects.toThrow(/ENOENT/);
  expect((await run('kubectl', ['config', 'get-contexts', '-o', 'name'])).stdout.trim()).toBe('prod');
  delete process.env.KUBECONFIG;
}, 900_000);

async function applyCronJob(): Promise<void> {
  const cronJob = {
    apiVersion: 'batch/v1beta1', kind: 'CronJob', metadata: { name: 'tick' },
    spec: {
      schedule: '*/1 * * * *',
      jobTemplate: { spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'tick', image: BusyboxImage, command: ['sh', '-c', 'echo tick'] }] } } } },
    },
  };
  const file = join(dir, 'cronjob.json');
  await writeFile(file, JSON.stringify(cronJob));
  await kubectl('apply', '-f', file);
}

async function nodeContainerIds(): Promise<string[]> {
  return (await nodeContainers(Name)).filter((c) => c.State === 'running').map((c) => c.Id).sort();
}

/** The `up` process and every component, as cluster.json records them. */
async function recordedProcesses(): Promise<Array<{ pid: number; command: string; startedAt: string }>> {
  const state = await readClusterState(join(clusterDir, 'cluster.json'));
  return [...(state?.supervisor ? [state.supervisor] : []), ...Object.values(state?.components ?? {}).flatMap((recorded) => (recorded ? [recorded] : []))];
}

async function anyRunning(processes: Array<{ pid: number; command: string; startedAt: string }>): Promise<boolean> {
  return (await Promise.all(processes.map(isRunning))).some(Boolean);
}

/** `cluster up` in the foreground, leading a process group of its own as a shell's job does; its output, and its exit code. */
function foregroundUp(upFlags: string[]): { pid: number; output: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [DockerletBin, 'cluster', 'up', ...upFlags, ...flags], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  onTestFinished(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  });
  return { pid: child.pid!, output: () => output, exited };
}

/** SIGTERM to the background `up` (as systemd stops it); resolves once it and its components are gone, with what was recorded. */
async function stopSupervisor(): Promise<Array<{ pid: number; command: string; startedAt: string }>> {
  const recorded = await recordedProcesses();
  const supervisor = (await readClusterState(join(clusterDir, 'cluster.json')))?.supervisor;
  expect(supervisor).toBeDefined();
  process.kill(supervisor!.pid, 'SIGTERM');
  await waitFor('cluster up to stop', async () => !(await isRunning(supervisor!)), { timeoutMs: 90_000, intervalMs: 250 });
  return recorded;
}

test("a terminal's Ctrl-C to a foreground up, while it starts and once it is up, stops it all in order; down after a killed up ends the processes it left", async () => {
  useCluster('signals');
  const upFlags = ['--api-server-port', String(await freePort()), '--resolv-conf', join(dir, 'resolv.conf')];
  // As a terminal does: SIGINT to the whole foreground process group.
  const starting = foregroundUp(upFlags);
  await waitFor('up to start the API server', () => starting.output().includes('starting kube-apiserver'), { timeoutMs: 120_000, intervalMs: 100 });
  const startedSoFar = await recordedProcesses();
  expect(startedSoFar.length).toBeGreaterThanOrEqual(2);
  process.kill(-starting.pid, 'SIGINT');
  expect(await starting.exited).toBe(130);
  expect(starting.output()).toContain('interrupted: stopping what was started');
  expect(await anyRunning(startedSoFar)).toBe(false);
  const stoppedStatus = await cluster('status');
  expect(stoppedStatus.code).toBe(1);
  expect(stoppedStatus.stdout).toMatch(new RegExp(`^cluster ${Name}: stopped`, 'm'));

  const running = foregroundUp(upFlags);
  await waitFor('the foreground up to be up', () => running.output().includes(`cluster ${Name} is up`), { timeoutMs: 120_000, intervalMs: 100 });
  const upProcesses = await recordedProcesses();
  process.kill(-running.pid, 'SIGINT');
  expect(await running.exited).toBe(0);
  // The node first, and no component seen exiting on its own (none got the terminal's signal).
  expect(running.output()).toMatch(/stopping dockerlet\nstopping local-provisioner\nstopping kube-scheduler\nstopping kube-controller-manager\nstopping kube-apiserver\nstopping etcd\n/);
  expect(running.output()).not.toMatch(/exited \(/);
  expect(await anyRunning(upProcesses)).toBe(false);

  const up = await cluster('up', ...upFlags, '--detach');
  expect(up.code, up.stderr + up.stdout).toBe(0);
  const recorded = await recordedProcesses();
  const supervisor = (await readClusterState(join(clusterDir, 'cluster.json')))!.supervisor!;
  process.kill(supervisor.pid, 'SIGKILL');
  await waitFor('the killed up to be gone', async () => !(await isRunning(supervisor)), { timeoutMs: 10_000 });
  const components = recorded.filter((entry) => entry.pid !== supervisor.pid);
  expect((await Promise.all(components.map(isRunning))).every(Boolean)).toBe(true);
  const down = await cluster('down');
  expect(down.code, down.stderr).toBe(0);
  expect(await anyRunning(components)).toBe(false);
  expect(await nodeContainers(Name)).toEqual([]);
  expect(await hostNetworkState()).toEqual(before);
}, 300_000);
