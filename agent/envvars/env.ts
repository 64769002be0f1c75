/**
 * A container's environment, as the kubelet builds it (kubelet_pods.go makeEnvironmentVariables):
 * service links first, then envFrom, then env in order; `$(VAR)` in values, command and args
 * refers to variables defined before it (third_party/forked/golang/expansion).
 */
import type { Container, DefaultedPod } from '../../common/api/types.js';
import { secretEntries, type ConfigObjectLookup } from '../config/config-objects.js';
import { podFieldValue } from '../fieldpath/field-path.js';
import { findContainer, resourceFieldRefValue } from '../fieldpath/resource-field.js';
import type { NodeAllocatable } from '../node/node-facts.js';
import type { ServiceEnvResult } from './service-env.js';

export interface EnvContext {
  pod: DefaultedPod;
  podIPs: readonly string[];
  hostIPs: readonly string[];
  /** What an unset limit stands for in resourceFieldRef: the node's allocatable. */
  nodeAllocatable: NodeAllocatable;
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
      for (const [key, value] of secretEntries(secret)) values.set(prefix + key, value.toString('utf8'));
    }
  }

  for (const variable of container.env ?? []) {
    const from = variable.valueFrom;
    if (!from) {
      values.set(variable.name, expandVariables(variable.value ?? '', (name) => values.get(name)));
      continue;
    }
    if (from.fieldRef || from.resourceFieldRef) {
      const ref = from.resourceFieldRef;
      const field = ref ? resourceFieldRefValue(ref.containerName ? findContainer(pod, ref.containerName) : container, ref, ctx.nodeAllocatable) : podFieldValue(from.fieldRef!.fieldPath, ctx);
      if (!field.ok) return field;
      values.set(variable.name, field.value);
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
      const value = secret ? secretEntries(secret).get(ref.key)?.toString('utf8') : undefined;
      if (value === undefined) {
        if (ref.optional) continue;
        return { ok: false, message: secret ? `couldn't find key ${ref.key} in Secret ${namespace}/${ref.name}` : `secret "${ref.name}" not found` };
      }
      values.set(variable.name, value);
    }
  }
  return { ok: true, env: [...values].map(([name, value]) => ({ name, value })) };
}
