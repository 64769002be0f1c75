/**
 * The cgroups a pod's QoS class puts it in, and the values they get, as the kubelet's container
 * manager has them (pkg/kubelet/cm: CgroupName with its cgroupfs and systemd spellings, the QoS
 * container manager's tiers, ResourceConfigForPod, MilliCPUToShares). Pure: these compute,
 * cgroup-manager.ts writes.
 *
 *   <root>                 dockerlet's own, as the kubelet's kubepods
 *   ├── pod<uid>           a Guaranteed pod
 *   ├── burstable          cpu.shares: the cpu requests of every Burstable pod on the node
 *   │   └── pod<uid>
 *   └── besteffort         cpu.shares: 2, the least there is
 *       └── pod<uid>
 *
 * A pod's cgroup gets its cpu requests as shares, a CFS quota when every container (init
 * containers too) has a cpu limit, and a memory limit when every container has one; a
 * Guaranteed pod has both. The tiers are what keeps the classes in their order: without them,
 * all BestEffort pods together would weigh as much as one default cgroup (1024 shares), more
 * than a Guaranteed container that asked for 500m.
 */
import { DockerletError } from '../../common/api/errors.js';
import { containerResource, podResource } from '../../common/api/pod-resources.js';
import { milliCpu, parseQuantity } from '../../common/api/quantity.js';
import { qosClass, type QOSClass } from '../../common/api/qos.js';
import type { Container, DefaultedPod } from '../../common/api/types.js';
import type { CgroupDriver } from '../runtime/runtime.js';

/** A cgroup by its components below the hierarchy's root, whatever the driver (upstream's CgroupName). */
export type CgroupName = readonly string[];

/** The root cgroup every pod goes under unless told otherwise. */
export const DefaultPodsCgroup = 'dockerlet';

/** cpu.shares bounds (the kernel's), the CFS period the kubelet uses, and the least quota the kernel takes. */
export const MinShares = 2;
export const MaxShares = 262_144;
export const QuotaPeriodUs = 100_000;
export const MinQuotaUs = 1_000;

/** CPU shares for a request in millicores: 1024 a core, never below 2 (a request of 0 included) nor above the kernel's most. */
export function milliCpuToShares(milli: number): number {
  if (milli <= 0) return MinShares;
  return Math.min(MaxShares, Math.max(MinShares, Math.floor((milli * 1024) / 1000)));
}

/** The CFS quota for a limit in millicores over QuotaPeriodUs, at least 1 ms; 0 (no quota) for no limit. */
export function milliCpuToQuota(milli: number): number {
  if (milli <= 0) return 0;
  return Math.max(MinQuotaUs, Math.floor((milli * QuotaPeriodUs) / 1000));
}

/** cgroup v2's cpu.weight (1 to 10000) for cgroup v1's cpu.shares (2 to 262144), as the kubelet and runc convert it. */
export function sharesToWeight(shares: number): number {
  return 1 + Math.floor(((shares - MinShares) * 9999) / (MaxShares - MinShares));
}

/** Where pods of `qos` go: Guaranteed ones right under the root, the others under their tier. */
export function qosCgroupName(root: string, qos: QOSClass): CgroupName {
  return qos === 'Guaranteed' ? [root] : [root, qos.toLowerCase()];
}

/** A pod uid as it may go into a cgroup's name: uids come from labels, so only letters, digits and '-'. */
export function isValidPodUid(uid: string): boolean {
  // What a static pod's metadata.uid may be (letters, digits, '.', '_', '-'), never '.' or '..'.
  return /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(uid);
}

/** A root cgroup for pods (podsCgroup): one cgroup name of letters, digits, '_', '.' and '-', not starting with '.' or '-'. */
export function isValidPodsCgroup(root: string): boolean {
  return /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(root);
}

/** The pod's own cgroup (GetPodContainerName): `pod<uid>` under its class's. Throws for a uid that is not isValidPodUid. */
export function podCgroupName(root: string, qos: QOSClass, uid: string): CgroupName {
  if (!isValidPodUid(uid)) throw new DockerletError('DKL_ERR_BAD_REQUEST', `pod uid ${JSON.stringify(uid)} cannot name a cgroup: only letters, digits, '.', '_' and '-', starting with a letter or digit, may`);
  return [...qosCgroupName(root, qos), `pod${uid}`];
}

/**
 * The uid of the pod whose cgroup is the child `child` of `parent` as `driver` spells it, or
 * none when it is not one (GetAllPodsFromCgroups): `pod<uid>`, or with systemd
 * `<parent's prefix>-pod<uid, dashes as underscores>.slice`.
 */
export function podUidFromCgroup(parent: CgroupName, child: string, driver: CgroupDriver): string | undefined {
  if (driver === 'cgroupfs') {
    const uid = /^pod(.+)$/.exec(child)?.[1];
    return uid !== undefined && isValidPodUid(uid) ? uid : undefined;
  }
  const prefix = `${parent.map((part) => part.replaceAll('-', '_')).join('-')}-pod`;
  if (!child.startsWith(prefix) || !child.endsWith('.slice')) return undefined;
  const escaped = child.slice(prefix.length, -'.slice'.length);
  return /^[A-Za-z0-9_]+$/.test(escaped) ? escaped.replaceAll('_', '-') : undefined;
}

/** Every place a pod's cgroup can be, for removing it when its class is not known any more. */
export function podCgroupNames(root: string, uid: string): CgroupName[] {
  return (['Guaranteed', 'Burstable', 'BestEffort'] as const).map((qos) => podCgroupName(root, qos, uid));
}

/**
 * The cgroup's path from the hierarchy's root as `driver` names it (ToCgroupfs, ToSystemd):
 * `/dockerlet/burstable/pod<uid>`, or the systemd slices that nest the same way, each spelling
 * its ancestors with dashes (a dash of a name's own becomes an underscore):
 * `/dockerlet.slice/dockerlet-burstable.slice/dockerlet-burstable-pod<uid_with_underscores>.slice`.
 */
export function cgroupPath(name: CgroupName, driver: CgroupDriver): string {
  for (const part of name) {
    if (part === '' || part === '.' || part === '..' || part.includes('/')) {
      throw new DockerletError('DKL_ERR_BAD_REQUEST', `invalid cgroup name component ${JSON.stringify(part)} in ${JSON.stringify(name)}: it must not be empty, '.' or '..', nor contain '/'`);
    }
  }
  if (driver === 'cgroupfs') return `/${name.join('/')}`;
  const escaped = name.map((part) => part.replaceAll('-', '_'));
  return `/${escaped.map((_, index) => `${escaped.slice(0, index + 1).join('-')}.slice`).join('/')}`;
}

/** What a cgroup is given; what is unset is left as it is (the kernel's default in a new cgroup). */
export interface ResourceConfig {
  cpuShares?: number;
  /** The CFS quota and its period, in microseconds. */
  cpuQuotaUs?: number;
  cpuPeriodUs?: number;
  memoryLimitBytes?: number;
}

/** The BestEffort tier's: always the least CPU weight there is. */
export const BestEffortResourceConfig: ResourceConfig = Object.freeze({ cpuShares: MinShares });

/** The pod's effective `resource` of `kind` (PodRequests, PodLimits), with its overhead: a request always gets it, a limit only when there is one. */
function podTotal(pod: DefaultedPod, kind: 'requests' | 'limits', resource: string): number | undefined {
  const total = podResource(pod, kind, resource);
  const overheadText = pod.spec.overhead?.[resource];
  const overhead = overheadText === undefined ? 0 : (parseQuantity(overheadText) ?? 0);
  if (total === undefined) return kind === 'requests' && overhead > 0 ? overhead : undefined;
  return total + overhead;
}

/** The pod's cpu request in millicores: its app containers (and sidecars) together, or its largest init container, whichever is more. */
export function podCpuRequestMilli(pod: DefaultedPod): number {
  const cores = podTotal(pod, 'requests', 'cpu');
  return cores === undefined ? 0 : (milliCpu(cores) ?? 0);
}

const hasLimit = (container: Container, resource: string): boolean => (containerResource(container, 'limits', resource) ?? 0) > 0;

/**
 * The pod's cgroup values (ResourceConfigForPod): its cpu requests as shares; a quota for its
 * cpu limits, and a memory limit, each only when every container, init containers included,
 * has that limit (always so for a Guaranteed pod). A BestEffort pod gets the least shares.
 */
export function podResourceConfig(pod: DefaultedPod): ResourceConfig {
  if (qosClass(pod) === 'BestEffort') return { ...BestEffortResourceConfig };
  const containers = [...(pod.spec.initContainers ?? []), ...pod.spec.containers];
  const config: ResourceConfig = { cpuShares: milliCpuToShares(podCpuRequestMilli(pod)) };
  const cpuLimit = podTotal(pod, 'limits', 'cpu');
  if (containers.every((container) => hasLimit(container, 'cpu')) && cpuLimit !== undefined) {
    config.cpuQuotaUs = milliCpuToQuota(milliCpu(cpuLimit) ?? 0);
    config.cpuPeriodUs = QuotaPeriodUs;
  }
  const memoryLimit = podTotal(pod, 'limits', 'memory');
  if (containers.every((container) => hasLimit(container, 'memory')) && memoryLimit !== undefined) {
    config.memoryLimitBytes = Math.ceil(memoryLimit);
  }
  return config;
}

/** The Burstable tier's (setCPUCgroupConfig): the cpu requests of the Burstable pods on the node, together, as shares. */
export function burstableResourceConfig(cpuRequestsMilli: Iterable<number>): ResourceConfig {
  let total = 0;
  for (const milli of cpuRequestsMilli) total += milli;
  return { cpuShares: milliCpuToShares(total) };
}
