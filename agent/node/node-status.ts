/**
 * The Node object as the kubelet registers and reports it (kubelet_node_status.go and its
 * setters): default labels, addresses, capacity and allocatable, nodeInfo, daemonEndpoints and
 * the four conditions, Ready last. Pure: the facts come in, the object goes out; the registrar
 * and the status reporter decide when to send it.
 */
import type { Node, NodeCondition, NodeStatus } from '../../common/api/types.js';
import { rfc3339 } from '../../common/util/clock.js';

/** What the node is (node-system-info.ts): read with each observation, as the runtime's version may change. */
export interface NodeSystemInfo {
  machineID: string;
  systemUUID: string;
  bootID: string;
  kernelVersion: string;
  osImage: string;
  /** `docker://<version>`. */
  containerRuntimeVersion: string;
  kubeletVersion: string;
  /** GOOS and GOARCH names: linux, amd64, arm64. */
  operatingSystem: string;
  architecture: string;
}

export interface NodeCapacity {
  milliCpu: number;
  memoryBytes: number;
  ephemeralStorageBytes: number;
  pods: number;
}

/** What the node observes each time its status is computed. */
export interface NodeObservation {
  capacity: NodeCapacity;
  /** The pressure conditions node-pressure eviction raises now. */
  pressure: ReadonlySet<string>;
  /** Why the node is not ready (the runtime does not answer, ...); empty when it is. */
  notReadyReasons: readonly string[];
  system: NodeSystemInfo;
}

export interface NodeStatusSettings {
  nodeName: string;
  hostname: string;
  nodeIPs: readonly string[];
  kubeletPort: number;
  /** GOARCH of this machine (amd64, arm64): the kubernetes.io/arch label. */
  arch: string;
  /** What allocatable leaves out of capacity: the hard eviction thresholds of memory.available and nodefs.available. */
  evictionReserve: EvictionReserve;
}

/** An amount in bytes, or a fraction of the capacity. */
export type ReservedAmount = { quantity: number } | { percentage: number };

/** The hard eviction thresholds kept out of allocatable (the kubelet's hardEvictionReservation). */
export interface EvictionReserve {
  memory?: ReservedAmount;
  ephemeralStorage?: ReservedAmount;
}

export function defaultNodeLabels(settings: Pick<NodeStatusSettings, 'hostname' | 'arch'>, nodeLabels: Readonly<Record<string, string>>): Record<string, string> {
  return {
    'beta.kubernetes.io/arch': settings.arch,
    'beta.kubernetes.io/os': 'linux',
    'kubernetes.io/arch': settings.arch,
    'kubernetes.io/hostname': settings.hostname,
    'kubernetes.io/os': 'linux',
    ...nodeLabels,
  };
}

const kib = (bytes: number): string => `${Math.floor(bytes / 1024)}Ki`;

function resources(capacity: NodeCapacity): Record<string, string> {
  return {
    cpu: capacity.milliCpu % 1000 === 0 ? String(capacity.milliCpu / 1000) : `${capacity.milliCpu}m`,
    'ephemeral-storage': kib(capacity.ephemeralStorageBytes),
    'hugepages-1Gi': '0',
    'hugepages-2Mi': '0',
    memory: kib(capacity.memoryBytes),
    pods: String(capacity.pods),
  };
}

function allocatable(capacity: NodeCapacity, reserve: EvictionReserve): NodeCapacity {
  const reserved = (amount: ReservedAmount | undefined, of: number): number => (!amount ? 0 : 'quantity' in amount ? amount.quantity : Math.floor(of * amount.percentage));
  return {
    ...capacity,
    memoryBytes: Math.max(0, capacity.memoryBytes - reserved(reserve.memory, capacity.memoryBytes)),
    ephemeralStorageBytes: Math.max(0, capacity.ephemeralStorageBytes - reserved(reserve.ephemeralStorage, capacity.ephemeralStorageBytes)),
  };
}

interface ConditionValue {
  status: 'True' | 'False';
  reason: string;
  message: string;
}

function conditionValues(observation: NodeObservation): Array<[string, ConditionValue]> {
  const memoryPressure = observation.pressure.has('MemoryPressure');
  const diskPressure = observation.pressure.has('DiskPressure');
  const pidPressure = observation.pressure.has('PIDPressure');
  const ready = observation.notReadyReasons.length === 0;
  return [
    [
      'MemoryPressure',
      memoryPressure
        ? { status: 'True', reason: 'KubeletHasInsufficientMemory', message: 'kubelet has insufficient memory available' }
        : { status: 'False', reason: 'KubeletHasSufficientMemory', message: 'kubelet has sufficient memory available' },
    ],
    [
      'DiskPressure',
      diskPressure
        ? { status: 'True', reason: 'KubeletHasDiskPressure', message: 'kubelet has disk pressure' }
        : { status: 'False', reason: 'KubeletHasNoDiskPressure', message: 'kubelet has no disk pressure' },
    ],
    [
      'PIDPressure',
      pidPressure
        ? { status: 'True', reason: 'KubeletHasInsufficientPID', message: 'kubelet has insufficient PID available' }
        : { status: 'False', reason: 'KubeletHasSufficientPID', message: 'kubelet has sufficient PID available' },
    ],
    [
      'Ready',
      ready
        ? { status: 'True', reason: 'KubeletReady', message: 'kubelet is posting ready status' }
        : { status: 'False', reason: 'KubeletNotReady', message: observation.notReadyReasons.join(', ') },
    ],
  ];
}

/**
 * The node's status at `now`: each condition's heartbeat is now; its transition time is kept
 * from `previous` unless its status changed.
 */
export function computeNodeStatus(settings: NodeStatusSettings, observation: NodeObservation, previous: readonly NodeCondition[], now: Date): NodeStatus {
  const time = rfc3339(now.getTime());
  const conditions: NodeCondition[] = conditionValues(observation).map(([type, value]) => {
    const before = previous.find((c) => c.type === type);
    const lastTransitionTime = before?.status === value.status && before.lastTransitionTime ? before.lastTransitionTime : time;
    return { type, ...value, lastHeartbeatTime: time, lastTransitionTime };
  });
  return {
    addresses: [...settings.nodeIPs.map((address) => ({ type: 'InternalIP', address })), { type: 'Hostname', address: settings.hostname }],
    capacity: resources(observation.capacity),
    allocatable: resources(allocatable(observation.capacity, settings.evictionReserve)),
    conditions,
    daemonEndpoints: { kubeletEndpoint: { Port: settings.kubeletPort } },
    nodeInfo: { ...observation.system, kubeProxyVersion: observation.system.kubeletVersion },
  };
}

const withoutHeartbeats = (conditions: readonly NodeCondition[] | undefined): Array<Omit<NodeCondition, 'lastHeartbeatTime'>> | undefined =>
  conditions?.map(({ lastHeartbeatTime: _, ...rest }) => rest);

/** Whether two statuses differ in anything but their heartbeat times: a change worth reporting at once. */
export function nodeStatusChanged(a: NodeStatus | undefined, b: NodeStatus): boolean {
  return JSON.stringify({ ...a, conditions: withoutHeartbeats(a?.conditions) }) !== JSON.stringify({ ...b, conditions: withoutHeartbeats(b.conditions) });
}

/**
 * Whether the API server's conditions differ from the ones computed (nodeConditionsHaveChanged):
 * for each condition the agent sets, its status, reason, message or transition time, which
 * differ when someone else set them (the node controller's Unknown for a node it stopped hearing
 * from). Heartbeat times, the order, the order of fields in the JSON, and conditions others own
 * (NetworkUnavailable, a node problem detector's) do not count.
 */
export function nodeConditionsChanged(inApi: readonly NodeCondition[], computed: readonly NodeCondition[]): boolean {
  return computed.some((condition) => {
    const stored = inApi.find((candidate) => candidate.type === condition.type);
    return (
      stored?.status !== condition.status ||
      stored.reason !== condition.reason ||
      stored.message !== condition.message ||
      stored.lastTransitionTime !== condition.lastTransitionTime
    );
  });
}

/** The Node the agent registers: its name, default labels and annotations, taints, and a first status. */
export function registrationNode(settings: NodeStatusSettings, labels: Readonly<Record<string, string>>, taints: NonNullable<Node['spec']>['taints'], status: NodeStatus): Node {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: settings.nodeName,
      labels: defaultNodeLabels(settings, labels),
      annotations: { 'volumes.kubernetes.io/controller-managed-attach-detach': 'true' },
    },
    spec: taints && taints.length > 0 ? { taints: [...taints] } : {},
    status,
  };
}
