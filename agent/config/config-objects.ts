/**
 * ConfigMaps and Secrets, per source, as the pods of that source see them. Static pods (file
 * and http sources) see the objects given next to them in the manifest sources; pods from the
 * API server see the API's (sources/api-config-objects.ts) through the same lookup. Each source
 * reports whole sets; the store tells listeners which objects changed, so that pods using them
 * resync. What a ConfigMap's or a Secret's keys hold, for environments and volumes alike, is read
 * here too.
 */
import type { ConfigMap, DefaultedPod, Secret } from '../../common/api/types.js';
import { namespacedName } from '../../common/api/types.js';
import type { PodSource } from '../../common/api/well-known.js';
import { canonicalJson } from '../../common/util/hash.js';

export type ConfigObjectKind = 'configmap' | 'secret';

/** "configmap/<namespace>/<name>" or "secret/<namespace>/<name>". */
export type ConfigObjectKey = `${ConfigObjectKind}/${string}`;

/** Where a pod's ConfigMaps and Secrets come from. */
export interface ConfigObjectLookup {
  configMap(namespace: string, name: string): ConfigMap | undefined;
  secret(namespace: string, name: string): Secret | undefined;
}

export function configObjectKey(kind: ConfigObjectKind, namespace: string, name: string): ConfigObjectKey {
  return `${kind}/${namespace}/${name}`;
}

/** The sources whose objects static pods see, in order of precedence. */
const StaticSources: readonly PodSource[] = ['file', 'http'];

export class ConfigObjectStore {
  readonly #bySource = new Map<PodSource, Map<ConfigObjectKey, { object: ConfigMap | Secret; fingerprint: string }>>();
  readonly #listeners: Array<(changed: ReadonlySet<ConfigObjectKey>) => void> = [];

  /** Called with the keys of the objects added, changed or removed by a set. */
  onChange(listener: (changed: ReadonlySet<ConfigObjectKey>) => void): void {
    this.#listeners.push(listener);
  }

  /** Replaces `source`'s whole set. */
  set(source: PodSource, configMaps: readonly ConfigMap[], secrets: readonly Secret[]): void {
    const previous = this.#bySource.get(source) ?? new Map();
    const next = new Map<ConfigObjectKey, { object: ConfigMap | Secret; fingerprint: string }>();
    const add = (kind: ConfigObjectKind, object: ConfigMap | Secret): void => {
      const key = `${kind}/${namespacedName(object)}` as ConfigObjectKey;
      if (!next.has(key)) next.set(key, { object, fingerprint: canonicalJson(object) });
    };
    for (const configMap of configMaps) add('configmap', configMap);
    for (const secret of secrets) add('secret', secret);
    const changed = new Set<ConfigObjectKey>();
    for (const key of new Set([...previous.keys(), ...next.keys()])) {
      if (previous.get(key)?.fingerprint !== next.get(key)?.fingerprint) changed.add(key);
    }
    this.#bySource.set(source, next);
    if (changed.size > 0) for (const listener of this.#listeners) listener(changed);
  }

  /** The lookup for pods of `source`: static pods see every static source, the first one first. */
  lookupFor(source: PodSource): ConfigObjectLookup {
    const sources = source === 'api' ? ['api' as const] : StaticSources;
    const find = <T>(kind: ConfigObjectKind, namespace: string, name: string): T | undefined => {
      for (const from of sources) {
        const entry = this.#bySource.get(from)?.get(configObjectKey(kind, namespace, name));
        if (entry) return entry.object as T;
      }
      return undefined;
    };
    return {
      configMap: (namespace, name) => find<ConfigMap>('configmap', namespace, name),
      secret: (namespace, name) => find<Secret>('secret', namespace, name),
    };
  }
}

/** The ConfigMaps and Secrets `pod` uses: imagePullSecrets, volumes (projected ones included), env and envFrom. */
export function referencedConfigObjects(pod: DefaultedPod): Set<ConfigObjectKey> {
  const namespace = pod.metadata.namespace;
  const keys = new Set<ConfigObjectKey>();
  const add = (kind: ConfigObjectKind, name: string | undefined): void => {
    if (name) keys.add(configObjectKey(kind, namespace, name));
  };
  for (const ref of pod.spec.imagePullSecrets ?? []) add('secret', ref.name);
  for (const volume of pod.spec.volumes ?? []) {
    add('configmap', volume.configMap?.name);
    add('secret', volume.secret?.secretName);
    for (const source of volume.projected?.sources ?? []) {
      add('configmap', source.configMap?.name);
      add('secret', source.secret?.name);
    }
  }
  for (const container of [...(pod.spec.initContainers ?? []), ...pod.spec.containers]) {
    for (const from of container.envFrom ?? []) {
      add('configmap', from.configMapRef?.name);
      add('secret', from.secretRef?.name);
    }
    for (const variable of container.env ?? []) {
      add('configmap', variable.valueFrom?.configMapKeyRef?.name);
      add('secret', variable.valueFrom?.secretKeyRef?.name);
    }
  }
  return keys;
}

/** A ConfigMap's keys: data (UTF-8), then binaryData (base64 in JSON). */
export function configMapEntries(configMap: ConfigMap): Map<string, Buffer> {
  const entries = new Map<string, Buffer>();
  for (const [key, value] of Object.entries(configMap.data ?? {})) entries.set(key, Buffer.from(value, 'utf8'));
  for (const [key, value] of Object.entries(configMap.binaryData ?? {})) entries.set(key, Buffer.from(value, 'base64'));
  return entries;
}

/** A Secret's keys: data (base64), with stringData (plain text) merged over it as the API server does on write. */
export function secretEntries(secret: Secret): Map<string, Buffer> {
  const entries = new Map<string, Buffer>();
  for (const [key, value] of Object.entries(secret.data ?? {})) entries.set(key, Buffer.from(value, 'base64'));
  for (const [key, value] of Object.entries(secret.stringData ?? {})) entries.set(key, Buffer.from(value, 'utf8'));
  return entries;
}
