/**
 * QoS on the node, read from the kernel for the containers' processes: each class's OOM score,
 * and the cgroups pods go in (each pod's own, under its class's, under the node's root cgroup)
 * with the CPU shares, quotas and memory limits the agent manages there.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { promisify } from 'node:util';
import { totalmem } from 'node:os';
import { expect, test } from 'vitest';
import type { Pod } from '../../common/api/types.js';
import { cgroupHierarchies, parseCgroupMounts, type CgroupHierarchies } from '../../agent/qos/cgroup-manager.js';
import { cgroupPath, milliCpuToShares, podCgroupName, qosCgroupName, sharesToWeight, type CgroupName } from '../../agent/qos/qos-cgroups.js';
import type { CgroupDriver } from '../../agent/runtime/runtime.js';
import type { QOSClass } from '../../common/api/qos.js';
import { busyboxPod, isReady, startAgent, type AgentHarness } from '../helpers/agent-harness.js';
import { docker } from '../helpers/docker.js';
import { waitFor } from '../helpers/wait-for.js';

const Mi = 2 ** 20;

const pods = {
  guaranteed: busyboxPod('guaranteed', 'exec sleep 3600', { container: '      resources:\n        limits: {cpu: 100m, memory: 64Mi}\n' }),
  burstable: busyboxPod('burstable', 'exec sleep 3600', { container: '      resources:\n        requests: {memory: 64Mi}\n' }),
  besteffort: busyboxPod('besteffort', 'exec sleep 3600'),
  critical: busyboxPod('critical', 'exec sleep 3600', { spec: '  priorityClassName: system-node-critical\n' }),
};

/**
 * The lowest score a process here may take: -1000, or, on a host that is itself a container
 * without CAP_SYS_RESOURCE, the score this process has (which its children cannot go below).
 */
async function lowestScore(): Promise<number> {
  const allowed = await promisify(execFile)('sh', ['-c', 'echo -1000 > /proc/self/oom_score_adj']).then(() => true, () => false);
  return allowed ? -1000 : Number((await readFile('/proc/self/oom_score_adj', 'utf8')).trim());
}

/** The oom_score_adj of the main process of the pod's container `name` (POD for its sandbox). */
async function oomScoreAdj(agent: AgentHarness, pod: Pod, name: string): Promise<number> {
  const container = (await agent.containers(name)).find((c) => c.Labels['io.kubernetes.pod.uid'] === pod.metadata?.uid && c.State === 'running');
  const pid = (await docker.getContainer(container!.Id).inspect()).State.Pid;
  return Number((await readFile(`/proc/${pid}/oom_score_adj`, 'utf8')).trim());
}

test('each QoS class gets its OOM score (no lower than the host allows); a node-critical pod scores as Guaranteed; the sandbox scores lowest', async () => {
  const manifests = Object.fromEntries(Object.entries(pods).map(([name, manifest]) => [`${name}.yaml`, manifest]));
  const agent = await startAgent({ manifests });
  const floor = await lowestScore();

  const expected = {
    guaranteed: { qosClass: 'Guaranteed', oomScoreAdj: -997 },
    burstable: { qosClass: 'Burstable', oomScoreAdj: 1000 - Math.trunc((1000 * 64 * Mi) / totalmem()) },
    besteffort: { qosClass: 'BestEffort', oomScoreAdj: 1000 },
    critical: { qosClass: 'BestEffort', oomScoreAdj: -997 },
  };
  for (const [name, want] of Object.entries(expected)) {
    const pod = await agent.waitForPod(name, 'Ready', isReady);
    expect(pod.status?.qosClass, name).toBe(want.qosClass);
    expect(await oomScoreAdj(agent, pod, 'main'), name).toBe(Math.max(want.oomScoreAdj, floor));
    expect(await oomScoreAdj(agent, pod, 'POD'), name).toBe(Math.max(-998, floor));
  }
});

const cgroupPods = {
  guaranteed: busyboxPod('guaranteed', 'exec sleep 3600', { container: '      resources:\n        limits: {cpu: 100m, memory: 64Mi}\n' }),
  // Every container with cpu and memory limits: the pod gets a quota and a memory limit too.
  limited: busyboxPod('limited', 'exec sleep 3600', { container: '      resources:\n        requests: {cpu: 250m}\n        limits: {cpu: 500m, memory: 128Mi}\n' }),
  // An init container asking for more than the app container: the pod's request is the init container's.
  initialized: busyboxPod('initialized', 'exec sleep 3600', {
    spec: '  initContainers:\n    - name: setup\n      image: dockerlet.local/busybox:1.35\n      command: ["true"]\n      resources:\n        requests: {cpu: "1"}\n',
    container: '      resources:\n        requests: {cpu: 100m}\n',
  }),
  besteffort: busyboxPod('besteffort', 'exec sleep 3600'),
};

/** The engine's cgroups and the host's hierarchies, as the agent finds them. */
async function hostCgroups(): Promise<{ driver: CgroupDriver; version: 1 | 2; hierarchies: CgroupHierarchies }> {
  const info = (await docker.info()) as { CgroupDriver: CgroupDriver; CgroupVersion?: string };
  const version = info.CgroupVersion === '2' ? 2 : 1;
  const found = cgroupHierarchies(parseCgroupMounts(await readFile('/proc/self/mountinfo', 'utf8')), version);
  if (!found.ok) throw new Error(found.reason);
  return { driver: info.CgroupDriver, version, hierarchies: found.hierarchies };
}

test("each QoS class's pods live in their own cgroups under the class's, with the CPU shares, quotas and memory limits of their requests and limits; a deleted pod's cgroup goes", async () => {
  const manifests = Object.fromEntries(Object.entries(cgroupPods).map(([name, manifest]) => [`${name}.yaml`, manifest]));
  const agent = await startAgent({ manifests });
  const root = agent.kubelet.options.podsCgroup;
  expect(root).toBe(`dockerlet-${agent.nodeName}`);
  const { driver, version, hierarchies } = await hostCgroups();
  const path = (name: CgroupName): string => cgroupPath(name, driver);
  const read = async (hierarchy: string, name: CgroupName, file: string): Promise<string> => (await readFile(join(hierarchy, path(name), file), 'utf8')).trim();
  const kernel = {
    shares: (name: CgroupName) => read(hierarchies.cpu, name, version === 1 ? 'cpu.shares' : 'cpu.weight'),
    quota: async (name: CgroupName) => (version === 1 ? `${await read(hierarchies.cpu, name, 'cpu.cfs_quota_us')} ${await read(hierarchies.cpu, name, 'cpu.cfs_period_us')}` : read(hierarchies.cpu, name, 'cpu.max')),
    memory: (name: CgroupName) => read(hierarchies.memory, name, version === 1 ? 'memory.limit_in_bytes' : 'memory.max'),
  };
  /** What the kernel shows for `shares`: cpu.shares itself with v1, the weight it converts to with v2. */
  const asShares = (shares: number): string => String(version === 1 ? shares : sharesToWeight(shares));
  const unlimited = version === 1 ? /^-1 100000$/ : /^max 100000$/;

  /** The cgroup of the main process of the pod's container `name` (POD for its sandbox), and the container's ID. */
  const processCgroup = async (pod: Pod, name: string): Promise<{ cgroup: string; id: string }> => {
    const container = (await agent.containers(name)).find((c) => c.Labels['io.kubernetes.pod.uid'] === pod.metadata?.uid && c.State === 'running');
    const pid = (await docker.getContainer(container!.Id).inspect()).State.Pid;
    const lines = (await readFile(`/proc/${pid}/cgroup`, 'utf8')).trim().split('\n');
    const line = version === 1 ? lines.find((l) => l.split(':')[1]!.split(',').includes('cpu')) : lines.find((l) => l.startsWith('0::'));
    return { cgroup: line!.split(':')[2]!, id: container!.Id };
  };

  const expected: Record<keyof typeof cgroupPods, QOSClass> = { guaranteed: 'Guaranteed', limited: 'Burstable', initialized: 'Burstable', besteffort: 'BestEffort' };
  const podCgroups: Record<string, CgroupName> = {};
  for (const [name, qos] of Object.entries(expected)) {
    const pod = await agent.waitForPod(name, 'Ready', isReady);
    expect(pod.status?.qosClass, name).toBe(qos);
    const podCgroup = (podCgroups[name] = podCgroupName(root, qos, pod.metadata!.uid!));
    for (const container of ['main', 'POD']) {
      const { cgroup, id } = await processCgroup(pod, container);
      expect(posix.dirname(cgroup), `${name}/${container}`).toBe(path(podCgroup));
      expect(posix.basename(cgroup), `${name}/${container}`).toContain(id);
    }
  }

  // The tiers: besteffort the least there is; burstable the two Burstable pods' requests together (250m, and the init container's 1).
  expect(await kernel.shares(qosCgroupName(root, 'BestEffort'))).toBe(asShares(2));
  expect(await kernel.shares(qosCgroupName(root, 'Burstable'))).toBe(asShares(milliCpuToShares(1250)));
  // Each pod's own.
  expect(await kernel.shares(podCgroups['guaranteed']!)).toBe(asShares(102));
  expect(await kernel.quota(podCgroups['guaranteed']!)).toBe('10000 100000');
  expect(await kernel.memory(podCgroups['guaranteed']!)).toBe(String(64 * Mi));
  expect(await kernel.shares(podCgroups['limited']!)).toBe(asShares(256));
  expect(await kernel.quota(podCgroups['limited']!)).toBe('50000 100000');
  expect(await kernel.memory(podCgroups['limited']!)).toBe(String(128 * Mi));
  expect(await kernel.shares(podCgroups['initialized']!)).toBe(asShares(1024));
  expect(await kernel.quota(podCgroups['initialized']!)).toMatch(unlimited);
  expect(Number(await kernel.memory(podCgroups['initialized']!).then((text) => (text === 'max' ? Infinity : text)))).toBeGreaterThan(2 ** 62);
  expect(await kernel.shares(podCgroups['besteffort']!)).toBe(asShares(2));

  // A pod deleted for good: its cgroup goes from every hierarchy, and the burstable tier no longer counts it.
  await agent.removeManifest('limited.yaml');
  const gone = path(podCgroups['limited']!);
  await waitFor('the deleted pod\'s cgroup to go', () => hierarchies.all.every((hierarchy) => !existsSync(join(hierarchy, gone))), { timeoutMs: 30_000 });
  expect(await kernel.shares(qosCgroupName(root, 'Burstable'))).toBe(asShares(milliCpuToShares(1000)));
  expect(existsSync(join(hierarchies.cpu, path(podCgroups['initialized']!)))).toBe(true);
});
