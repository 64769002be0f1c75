/** The library's test nodes (library/): what a test author does with one, on the real engine. */
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { cidrContains, parseIpv4Cidr } from '../../common/util/ipv4.js';
import { mountPointsUnder } from '../../agent/volumes/mounts.js';
import { parseCgroupMounts } from '../../agent/qos/cgroup-manager.js';
import { cgroupPath } from '../../agent/qos/qos-cgroups.js';
import { reapDeadSessions, startNode, PodWaitError, type TestNode, type StartNodeOptions } from '../../library/index.js';
import { docker, nodeContainers } from '../helpers/docker.js';
import { memoryLogger } from '../helpers/memory-logger.js';
import { uniqueNodeName } from '../helpers/test-node.js';

let base: string;
let resolvConf: string;

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'dockerlet-library-'));
  // Names outside the cluster go to 127.0.0.1, where nothing answers: no query leaves the machine.
  resolvConf = join(base, 'resolv.conf');
  await writeFile(resolvConf, 'nameserver 127.0.0.1\n');
});

afterAll(async () => {
  // A session a test left (a killed child's) is reaped before its record goes.
  await reapDeadSessions(join(base, 'sessions'), memoryLogger().logger);
  await rm(base, { recursive: true, force: true });
});

/** The cgroup hierarchies where the node's root cgroup (`dockerlet-<node>`, as the engine's driver spells it) is. */
async function nodeCgroups(nodeName: string): Promise<string[]> {
  const { CgroupDriver } = (await docker.info()) as { CgroupDriver: 'cgroupfs' | 'systemd' };
  const path = cgroupPath([`dockerlet-${nodeName}`], CgroupDriver);
  const mounts = parseCgroupMounts(await readFile('/proc/self/mountinfo', 'utf8')).filter((mount) => mount.root === '/');
  return mounts.map((mount) => join(mount.mountPoint, path)).filter((dir) => existsSync(dir));
}

/** A node of this file: its own sessions directory, stopped when the test ends, pass or fail. */
async function testNode(onFinished: (cleanup: () => Promise<void>) => void, options: StartNodeOptions = {}): Promise<TestNode> {
  const node = await startNode({ name: uniqueNodeName('lib'), sessionsDir: join(base, 'sessions'), resolvConf, logger: memoryLogger().logger, ...options });
  onFinished(() => node.stop());
  return node;
}

const webPod = (name: string, role: string): string => `apiVersion: v1
kind: Pod
metadata:
  name: ${name}
  labels: {app: web}
spec:
  terminationGracePeriodSeconds: 1
  containers:
    - name: httpd
      image: dockerlet.local/busybox:1.35
      command: ["sh", "-c", "mkdir -p /www && echo $(cat /config/greeting) > /www/index.html && echo \\"$NODE $ROLE\\" >> /www/index.html && echo serving && exec httpd -f -p 8080 -h /www"]
      env:
        - {name: ROLE, value: ${role}}
        - name: NODE
          valueFrom: {fieldRef: {fieldPath: spec.nodeName}}
      readinessProbe:
        httpGet: {path: /, port: 8080}
        periodSeconds: 1
      volumeMounts: [{name: config, mountPath: /config}]
  volumes:
    - name: config
      configMap: {name: greeting}
`;

const webManifests = `${webPod('web-a', 'a')}---
${webPod('web-b', 'b')}---
apiVersion: v1
kind: ConfigMap
metadata: {name: greeting}
data: {greeting: hello}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  type: NodePort
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: 8080}]
`;

async function fetchText(url: string): Promise<string> {
  const response = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  return response.text();
}

/** What the node's slice put on lo. */
async function addressesOnLo(serviceCIDR: string): Promise<string[]> {
  const { stdout } = await promisify(execFile)('ip', ['-j', '-4', 'addr', 'show', 'dev', 'lo']);
  const cidr = parseIpv4Cidr(serviceCIDR)!;
  return (JSON.parse(stdout) as Array<{ addr_info: Array<{ local: string }> }>).flatMap((link) => link.addr_info.map((info) => info.local)).filter((ip) => cidrContains(cidr, ip));
}

describe('a test node', () => {
  test('runs applied manifests: pods ready, a Service reached from the test by ClusterIP and node port, logs and exec; stop leaves nothing', async ({ onTestFinished }) => {
    const node = await testNode(onTestFinished);
    const applied = await node.apply(webManifests);
    expect(applied).toEqual([
      { kind: 'Pod', namespace: 'default', name: `web-a-${node.name}` },
      { kind: 'Pod', namespace: 'default', name: `web-b-${node.name}` },
      { kind: 'ConfigMap', namespace: 'default', name: 'greeting' },
      { kind: 'Service', namespace: 'default', name: 'web' },
    ]);
    const pods = await node.waitForPods();
    expect(pods.map((pod) => pod.metadata?.name).sort()).toEqual([`web-a-${node.name}`, `web-b-${node.name}`]);
    for (const pod of pods) expect(cidrContains(parseIpv4Cidr(node.addresses.podCIDR)!, pod.status!.podIP!)).toBe(true);

    const url = await node.serviceUrl('web');
    expect(url).toMatch(/^http:\/\/10\.97\.\d+\.\d+:80$/);
    const answers = new Set<string>();
    for (let i = 0; i < 20 && answers.size < 2; i++) answers.add(await fetchText(url));
    expect([...answers].sort()).toEqual([`hello\n${node.name} a\n`, `hello\n${node.name} b\n`]);
    const nodePortUrl = await node.serviceUrl('web', { port: 'http', nodePort: true });
    const nodePort = Number(new URL(nodePortUrl).port);
    expect(nodePort).toBeGreaterThanOrEqual(node.addresses.nodePorts.min);
    expect(nodePort).toBeLessThanOrEqual(node.addresses.nodePorts.max);
    expect(await fetchText(nodePortUrl)).toMatch(/^hello\n/);

    expect(await node.logs('web-a')).toBe('serving\n');
    expect(await node.exec('web-b', ['sh', '-c', 'cat /config/greeting; echo oops >&2; exit 4'])).toEqual({ stdout: 'hello', stderr: 'oops\n', exitCode: 4 });
    expect((await node.exec('web-a', ['cat'], { stdin: 'piped' })).stdout).toBe('piped');

    // Deleting a pod stops it; the other keeps serving.
    await node.delete(webPod('web-a', 'a'));
    expect(node.pod('web-a')).toBeUndefined();
    expect(await fetchText(url)).toBe(`hello\n${node.name} b\n`);

    const containers = await nodeContainers(node.name);
    expect(containers.length).toBeGreaterThan(0);
    await node.stop();
    expect(await nodeContainers(node.name)).toEqual([]);
    expect((await docker.listNetworks()).filter((network) => network.IPAM?.Config?.[0]?.Subnet === node.addresses.podCIDR)).toEqual([]);
    expect(await addressesOnLo(node.addresses.serviceCIDR)).toEqual([]);
    expect(await readdir(join(base, 'sessions'))).not.toContain(node.name);
    expect(await mountPointsUnder(join(base, 'sessions'))).toEqual([]);
    await expect(node.apply(webManifests)).rejects.toThrow(`node ${node.name} is stopped`);
  });

  test('a pod that runs to completion: waitForPod resolves once it has Succeeded', async ({ onTestFinished }) => {
    const node = await testNode(onTestFinished);
    await node.apply({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'job' },
      spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: 'dockerlet.local/busybox:1.35', command: ['sh', '-c', 'echo done'] }] },
    });
    const pod = await node.waitForPod('job');
    expect(pod.status?.phase).toBe('Succeeded');
    expect(await node.logs('job')).toBe('done\n');
  });

  test('a failed pod ends the wait at once with its container, reason and last log lines', async ({ onTestFinished }) => {
    const node = await testNode(onTestFinished);
    // Docker copies stdout and stderr apart, so a line written to one right after lines written to
    // the other may be logged before them: the pause puts the stderr line last in the log.
    const script = 'for i in $(seq 1 15); do echo line $i; done; sleep 1; echo fatal: no database >&2; exit 3';
    await node.apply({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'migrate' },
      spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: 'dockerlet.local/busybox:1.35', command: ['sh', '-c', script] }] },
    });
    const failure = await node.waitForPods(undefined, { timeout: '60s' }).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(failure).toBeInstanceOf(PodWaitError);
    const error = failure as PodWaitError;
    expect(error.code).toBe('DKL_ERR_POD_FAILED');
    expect(error.message).toContain(`pod default/migrate-${node.name} (Failed):`);
    expect(error.message).toContain('container main: terminated: Error, exit code 3');
    // The last ten lines, stderr among them; the first lines are not.
    expect(error.message.split('\n').filter((line) => line.startsWith('    | '))).toHaveLength(10);
    expect(error.message).toContain('    | line 15\n    | fatal: no database');
    expect(error.message).not.toContain('    | line 1\n');
  });

  test('a pod that cannot start: the timeout names it with the reason its container waits', async ({ onTestFinished }) => {
    const node = await testNode(onTestFinished);
    await node.apply({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'missing-image' },
      spec: { containers: [{ name: 'main', image: 'dockerlet.local/not-built:1', imagePullPolicy: 'Never' }] },
    });
    const error = (await node.waitForPods(['missing-image'], { timeout: 3_000 }).catch((err: unknown) => err)) as PodWaitError;
    expect(error.code).toBe('DKL_ERR_WAIT_TIMEOUT');
    expect(error.message).toContain(`not ready or complete after 3 s: default/missing-image-${node.name}`);
    expect(error.message).toMatch(/container main: waiting: ErrImageNeverPull: Container image "dockerlet.local\/not-built:1" is not present with pull policy of Never/);
  });

  test('a bad manifest is refused with its file, document and field, and nothing of the call is applied', async ({ onTestFinished }) => {
    const node = await testNode(onTestFinished);
    const file = join(base, `bad-${node.name}.yaml`);
    await writeFile(file, 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: fine}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: broken}\nspec: {containers: [{name: main}]}\n');
    await expect(node.apply({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'other' } }, file)).rejects.toThrow(`${file}: document 2 (Pod "broken"): spec.containers[0].image: Required value`);
    await expect(node.apply(join(base, 'absent.yaml'))).rejects.toThrow('absent.yaml: no such file or directory');
    expect(node.pods()).toEqual([]);
    expect(await readdir(join(base, 'sessions', node.name, 'manifests'))).toEqual([]);
  });

  test('two nodes at once: each its own pod subnet, Services and pods, and QoS cgroups, the same manifests on both', async ({ onTestFinished }) => {
    const [one, two] = await Promise.all([testNode(onTestFinished), testNode(onTestFinished)]);
    expect(one.addresses.podCIDR).not.toBe(two.addresses.podCIDR);
    await Promise.all([one.apply(webManifests), two.apply(webManifests)]);
    await Promise.all([one.waitForPods(), two.waitForPods()]);
    expect(await fetchText(await one.serviceUrl('web'))).toContain(one.name);
    expect(await fetchText(await two.serviceUrl('web'))).toContain(two.name);
    expect(await nodeCgroups(one.name)).not.toEqual([]);
    expect(await nodeCgroups(two.name)).not.toEqual([]);
    await one.stop();
    // Its root cgroup went with it; the other node's stays.
    expect(await nodeCgroups(one.name)).toEqual([]);
    expect(await nodeCgroups(two.name)).not.toEqual([]);
    expect(await fetchText(await two.serviceUrl('web'))).toContain(two.name);
    expect(two.pods()).toHaveLength(2);
  });

  test('a test process killed mid-test: the next node started reaps what it left', async ({ onTestFinished }) => {
    const name = uniqueNodeName('lib');
    const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, '../helpers/library-child.ts'), join(base, 'sessions'), name, resolvConf], { stdio: ['ignore', 'pipe', 'inherit'] });
    onTestFinished(async () => {
      child.kill('SIGKILL');
      await reapDeadSessions(join(base, 'sessions'), memoryLogger().logger);
    });
    const [line] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string];
    const { url, addresses } = JSON.parse(line) as { url: string; addresses: TestNode['addresses'] };
    expect(await fetch(url).then((response) => response.status)).toBe(200);
    child.kill('SIGKILL');
    await once(child, 'exit');
    // Dead, it left its pod running, its address on lo and its session.
    expect((await nodeContainers(name)).filter((container) => container.State === 'running')).toHaveLength(2);
    expect(await nodeCgroups(name)).not.toEqual([]);
    expect(await addressesOnLo(addresses.serviceCIDR)).toHaveLength(1);
    const network = (await docker.listNetworks()).find((candidate) => candidate.IPAM?.Config?.[0]?.Subnet === addresses.podCIDR)!;

    await testNode(onTestFinished);
    expect(await nodeContainers(name)).toEqual([]);
    expect(await nodeCgroups(name)).toEqual([]);
    expect(await addressesOnLo(addresses.serviceCIDR)).toEqual([]);
    expect(await readdir(join(base, 'sessions'))).not.toContain(name);
    expect((await docker.listNetworks()).map((candidate) => candidate.Id)).not.toContain(network.Id);
  });
});
