/**
 * The downward API's container resources (pkg/api/v1/resource ExtractContainerResourceValue,
 * after MergeContainerResourceLimits), shared by environment variables and downwardAPI volumes:
 * a container's limit or request in units of the divisor, rounded up. An unset or zero cpu,
 * memory or ephemeral-storage limit stands for the node's allocatable; hugepages never do (they
 * are never overcommitted), so an unset hugepages limit reads as 0.
 */
import { milliCpu, parseQuantity } from '../../common/api/quantity.js';
import type { Container, DefaultedPod, ResourceFieldSelector } from '../../common/api/types.js';
import type { NodeAllocatable } from '../node/node-facts.js';
import type { FieldValue } from './field-path.js';

const FixedResources = new Set(['limits.cpu', 'limits.memory', 'limits.ephemeral-storage', 'requests.cpu', 'requests.memory', 'requests.ephemeral-storage']);

const isHugePages = (resource: string): boolean => /^(limits|requests)\.hugepages-/.test(resource);

/** findContainerInPod: app containers first, then init containers. */
export function findContainer(pod: DefaultedPod, name: string): Container | undefined {
  return pod.spec.containers.find((c) => c.name === name) ?? pod.spec.initContainers?.find((c) => c.name === name);
}

/** What an unset limit of `name` (cpu, memory, ephemeral-storage) stands for. */
function allocatableOf(name: string, nodeAllocatable: NodeAllocatable): number {
  if (name === 'cpu') return nodeAllocatable.milliCpu;
  if (name === 'memory') return nodeAllocatable.memoryBytes;
  if (name === 'ephemeral-storage') return nodeAllocatable.ephemeralStorageBytes;
  return 0;
}

/** `resource` ("limits.cpu", "requests.memory", ...) of `container` in units of `divisor`, rounded up; a zero divisor counts as 1. */
export function containerResourceValue(container: Container, resource: string, divisor: string | number | undefined, nodeAllocatable: NodeAllocatable): string {
  const [kind, name] = resource.split('.') as ['limits' | 'requests', string];
  const declared = container.resources?.[kind]?.[name];
  const useAllocatable = kind === 'limits' && !isHugePages(resource) && (declared === undefined || parseQuantity(declared) === 0);
  if (name === 'cpu') {
    const milli = useAllocatable ? nodeAllocatable.milliCpu : declared !== undefined ? (milliCpu(declared) ?? 0) : 0;
    return String(Math.ceil(milli / (milliCpu(divisor ?? '1') || 1000)));
  }
  const bytes = useAllocatable ? allocatableOf(name, nodeAllocatable) : declared !== undefined ? (parseQuantity(declared) ?? 0) : 0;
  return String(Math.ceil(bytes / (parseQuantity(divisor ?? '1') || 1)));
}

/**
 * A resourceFieldRef's value for `container`, the one the ref names (found by the caller with
 * findContainer: an environment variable's ref may leave the name out and mean its own
 * container); undefined when the pod has no container of that name.
 */
export function resourceFieldRefValue(container: Container | undefined, ref: ResourceFieldSelector, nodeAllocatable: NodeAllocatable): FieldValue {
  if (!container) return { ok: false, message: `container ${ref.containerName} not found` };
  if (!FixedResources.has(ref.resource) && !isHugePages(ref.resource)) return { ok: false, message: `unsupported container resource : ${ref.resource}` };
  return { ok: true, value: containerResourceValue(container, ref.resource, ref.divisor, nodeAllocatable) };
}
