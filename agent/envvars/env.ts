/**
 * A container's environment, as the kubelet builds it (kubelet_pods.go makeEnvironmentVariables):
 * service links first, then envFrom, then env in order; `$(VAR)` in values, command and args
 * refers to variables defined before it (third_party/forked/golang/expansion).
 */
import type { Container, DefaultedPod, Secret } from '../../common/api/types.js';
import type { ConfigObjectLookup } from '../config/config-objects.js';
import { milliCpu, parseQuantity } from '../../common/api/quantity.js';
import type { ServiceEnvResult } from './service-env.js';


export interface EnvContext {
  pod: DefaultedPod;
  podIPs: readonly string[];
  hostIPs: readonly string[];
  /** What an unset limit stands for in resourceFieldRef: the node's allocatable. */
  nodeAllocatable: { milliCpu: number; memoryBytes: number; ephemeralStorageBytes: number };
  objects: ConfigObjectLookup;
  /** The pod's service link variables (serviceEnvFor: enableServiceLinks already applied). */
  serviceEnv: ServiceEnvResult;
}

export type EnvResult = { ok: true; env: Array<{ name: string; value: string }> } | { ok: false; message: string };

/** Expands `$(NAME)` from `lookup`; `$$` is a literal `$`; unknown references stay as written. */
export function expandVariables(input: string, lookup: (name: string) => string | undefined): string {
  let output = '';
  for (let i = 0; i < input.length; i++) {
    const char = input[i];
    if (char !== '$' || i + 1 >= input.length) {
      output += char;
      continue;
    }
    const next = input[i + 1];
    if (next === '$') {
      output += '$';
      i += 1;
    } else if (next === '(') {
      const close = input.indexOf(')', i + 2);
      if (close === -1) {
        // An incomplete reference is kept as written; what follows it is still expanded.
        output += '$(';
        i += 1;
        continue;
      }
      const name = input.slice(i + 2, close);
      output += name === '' ? '$()' : (lookup(name) ?? `$(${name})`);
      i = close;
    } else {
      output += char;
    }
  }
  return output;
}

function decodeSecretValue(secret: Secret, key: string): string | undefined {
  const data = secret.data?.[key];
  if (data !== undefined) return Buffer.from(data, 'base64').toString('utf8');
  return secret.stringData?.[key];
}

function secretKeys(secret: Secret): string[] {
  return [...new Set([...Object.keys(secret.data ?? {}), ...Object.keys(secret.stringData ?? {})])];
}

/** The value of a downward API field path (env form: labels and annotations by key only). */
export function fieldRefValue(fieldPath: string, ctx: Pick<EnvContext, 'pod' | 'podIPs' | 'hostIPs'>): string | undefined {
  const { pod } = ctx;
  const keyed = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(fieldPath);
  if (keyed) return (keyed[1] === 'labels' ? pod.metadata.labels : pod.metadata.annotations)?.[keyed[2]!] ?? '';
  switch (fieldPath) {
    case 'metadata.name':
      return pod.metadata.name;
    case 'metadata.namespace':
      return pod.metadata.namespace;
    case 'metadata.uid':
      return pod.metadata.uid;
    case 'spec.nodeName':
      return pod.spec.nodeName ?? '';
    case 'spec.serviceAccountName':
      return pod.spec.serviceAccountName ?? '';
    case 'status.hostIP':
      return ctx.hostIPs[0] ?? '';
    case 'status.hostIPs':
      return ctx.hostIPs.join(',');
    case 'status.podIP':
      return ctx.podIPs[0] ?? '';
    case 'status.podIPs':
      return ctx.podIPs.join(',');
    default:
      return undefined;
  }
}

/** resourceFieldRef: the container's limit or request in units of `divisor`, rounded up. */
export function resourceFieldValue(
  container: Container,
  resource: string,
  divisor: string | number | undefined,
  nodeAllocatable: EnvContext['nodeAllocatable'],
): string {
  const [kind, name] = resource.split('.') as ['limits' | 'requests', string];
  const declared = container.resources?.[kind]?.[name];
  // An unset or zero limit stands for the node's allocatable (MergeContainerResourceLimits).
  const useAllocatable = kind === 'limits' && (declared === undefined || parseQuantity(declared) === 0);
  if (name === 'cpu') {
    const milli = useAllocatable ? nodeAllocatable.milliCpu : declared !== undefined ? (milliCpu(declared) ?? 0) : 0;
    const divisorMilli = milliCpu(divisor ?? '1') || 1000;
    return String(Math.ceil(milli / divisorMilli));
  }
  const fallback = name === 'memory' ? nodeAllocatable.memoryBytes : nodeAllocatable.ephemeralStorageBytes;
  const bytes = useAllocatable ? fallback : declared !== undefined ? (parseQuantity(declared) ?? 0) : 0;
  return String(Math.ceil(bytes / (parseQuantity(divisor ?? '1') || 1)));
}

export function makeEnvironment(container: Container, ctx: EnvContext): EnvResult {
  const { pod, objects } = ctx;
  const namespace = pod.metadata.namespace;
  const values = new Map<string, string>();
  if (!ctx.serviceEnv.ok) return ctx.serviceEnv;
  for (const { name, value } of ctx.serviceEnv.env) values.set(name, value);

  for (const source of container.envFrom ?? []) {
    const prefix = source.prefix ?? '';
    if (source.configMapRef) {
      const configMap = objects.configMap(namespace, source.configMapRef.name!);
      if (!configMap) {
        if (source.configMapRef.optional) continue;
        return { ok: false, message: `configmap "${source.configMapRef.name}" not found` };
      }
      for (const [key, value] of Object.entries(configMap.data ?? {})) values.set(prefix + key, value);
    } else if (source.secretRef) {
      const secret = objects.secret(namespace, source.secretRef.name!);
      if (!secret) {
        if (source.secretRef.optional) continue;
        return { ok: false, message: `secret "${source.secretRef.name}" not found` };
      }
      for (const key of secretKeys(secret)) values.set(prefix + key, decodeSecretValue(secret, key) ?? '');
    }
  }

  for (const variable of container.env ?? []) {
    const from = variable.valueFrom;
    if (!from) {
      values.set(variable.name, expandVariables(variable.value ?? '', (name) => values.get(name)));
      continue;
    }
    if (from.fieldRef) {
      values.set(variable.name, fieldRefValue(from.fieldRef.fieldPath, ctx) ?? '');
    } else if (from.resourceFieldRef) {
      const target = from.resourceFieldRef.containerName
        ? [...(pod.spec.initContainers ?? []), ...pod.spec.containers].find((c) => c.name === from.resourceFieldRef!.containerName)
        : container;
      if (!target) return { ok: false, message: `resourceFieldRef: container "${from.resourceFieldRef.containerName}" not found in pod` };
      values.set(variable.name, resourceFieldValue(target, from.resourceFieldRef.resource, from.resourceFieldRef.divisor, ctx.nodeAllocatable));
    } else if (from.configMapKeyRef) {
      const ref = from.configMapKeyRef;
      const configMap = objects.configMap(namespace, ref.name!);
      const value = configMap?.data?.[ref.key];
      if (value === undefined) {
        if (ref.optional) continue;
        return {
          ok: false,
          message: configMap ? `couldn't find key ${ref.key} in ConfigMap ${namespace}/${ref.name}` : `configmap "${ref.name}" not found`,
        };
      }
      values.set(variable.name, value);
    } else if (from.secretKeyRef) {
      const ref = from.secretKeyRef;
      const secret = objects.secret(namespace, ref.name!);
      const value = secret ? decodeSecretValue(secret, ref.key) : undefined;
      if (value === undefined) {
        if (ref.optional) continue;
        return { ok: false, message: secret ? `couldn't find key ${ref.key} in Secret ${namespace}/${ref.name}` : `secret "${ref.name}" not found` };
      }
      values.set(variable.name, value);
    }
  }
  return { ok: true, env: [...values].map(([name, value]) => ({ name, value })) };
}
