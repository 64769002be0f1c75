/**
 * The files of configMap, secret, downwardAPI and projected volumes, as payloads for the atomic
 * writer. Each follows its upstream function:
 *   configMapPayload     pkg/volume/configmap/configmap.go   SetUpAt + MakePayload
 *   secretPayload        pkg/volume/secret/secret.go         SetUpAt + MakePayload
 *   downwardApiPayload   pkg/volume/downwardapi/downwardapi.go CollectData
 *   projectedPayload     pkg/volume/projected/projected.go   collectData
 *   fieldPathValue       pkg/fieldpath/fieldpath.go          ExtractFieldPathAsString, FormatMap
 *
 * With no items, every key is a file named after it; with items, only their keys, at their paths.
 * A file's mode is its item's mode, else the volume's defaultMode (0644 by default). A missing
 * object or key fails the volume unless the source is optional. Errors of several items or
 * sources are reported together, as utilerrors.NewAggregate prints them.
 */
import type {
  ConfigMap,
  ConfigMapVolumeSource,
  Container,
  DefaultedPod,
  DownwardAPIVolumeFile,
  KeyToPath,
  ProjectedVolumeSource,
  Secret,
  SecretVolumeSource,
  ServiceAccountTokenProjection,
} from '../../common/api/types.js';
import { aggregateMessage } from '../../common/api/errors.js';
import { resourceFieldValue } from '../envvars/env.js';
import type { FileProjection, Payload } from './atomic-writer.js';
import type { TokenResult } from './plugins/volume-plugin.js';
import { posix } from 'node:path';

export type PayloadResult = { ok: true; payload: Payload } | { ok: false; message: string };

export interface ObjectLookup {
  configMap(namespace: string, name: string): ConfigMap | undefined;
  secret(namespace: string, name: string): Secret | undefined;
}

/** What an unset limit stands for in resourceFieldRef: the node's allocatable. */
export interface NodeAllocatable {
  milliCpu: number;
  memoryBytes: number;
  ephemeralStorageBytes: number;
}

/** SetDefaults_{ConfigMap,Secret,DownwardAPI,Projected}VolumeSource: defaultMode 0644. */
export const DefaultVolumeFileMode = 0o644;

type Collected = { payload: Map<string, FileProjection>; errors: string[] };

function result({ payload, errors }: Collected): PayloadResult {
  return errors.length === 0 ? { ok: true, payload } : { ok: false, message: aggregateMessage(errors) };
}

/**
 * MakePayload for both kinds: all `entries` when there are no mappings, else each mapped key at
 * its path (a missing key skipped when optional, else `missingKey(key)`).
 */
function keyedPayload(
  mappings: readonly KeyToPath[] | undefined,
  entries: ReadonlyMap<string, Buffer>,
  defaultMode: number,
  optional: boolean,
  missingKey: (key: string) => string,
): Collected {
  const payload = new Map<string, FileProjection>();
  if (!mappings || mappings.length === 0) {
    for (const [key, data] of entries) payload.set(key, { data, mode: defaultMode });
    return { payload, errors: [] };
  }
  for (const { key, path, mode } of mappings) {
    const data = entries.get(key);
    if (data === undefined) {
      if (optional) continue;
      return { payload: new Map(), errors: [missingKey(key)] };
    }
    payload.set(path, { data, mode: mode ?? defaultMode });
  }
  return { payload, errors: [] };
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

function collectConfigMap(
  name: string,
  items: readonly KeyToPath[] | undefined,
  optional: boolean,
  configMap: ConfigMap | undefined,
  defaultMode: number,
): Collected {
  // A missing optional ConfigMap stands for an empty one (SetUpAt).
  if (!configMap && !optional) return { payload: new Map(), errors: [`configmap "${name}" not found`] };
  const entries = configMap ? configMapEntries(configMap) : new Map<string, Buffer>();
  return keyedPayload(items, entries, defaultMode, optional, (key) => `configmap references non-existent config key: ${key}`);
}

function collectSecret(
  name: string,
  items: readonly KeyToPath[] | undefined,
  optional: boolean,
  secret: Secret | undefined,
  defaultMode: number,
): Collected {
  if (!secret && !optional) return { payload: new Map(), errors: [`secret "${name}" not found`] };
  const entries = secret ? secretEntries(secret) : new Map<string, Buffer>();
  return keyedPayload(items, entries, defaultMode, optional, (key) => `references non-existent secret key: ${key}`);
}

/** A configMap volume's files. `configMap` is the object the source names, if there is one. */
export function configMapPayload(source: ConfigMapVolumeSource, configMap: ConfigMap | undefined): PayloadResult {
  return result(collectConfigMap(source.name ?? '', source.items, source.optional === true, configMap, source.defaultMode ?? DefaultVolumeFileMode));
}

/** A secret volume's files. `secret` is the object the source names, if there is one. */
export function secretPayload(source: SecretVolumeSource, secret: Secret | undefined): PayloadResult {
  return result(collectSecret(source.secretName ?? '', source.items, source.optional === true, secret, source.defaultMode ?? DefaultVolumeFileMode));
}

// ---------------------------------------------------------------------------------------------
// Downward API

/**
 * strconv.Quote: a double-quoted Go string literal. Printable characters (Unicode letters, marks,
 * numbers, punctuation, symbols and the ASCII space) stay as they are; \a \b \f \n \r \t \v, `"`
 * and `\` are escaped; other control characters below U+0020 and U+007F as \xhh; any other
 * non-printable character as \uhhhh or \Uhhhhhhhh. A lone surrogate is U+FFFD, as in UTF-8.
 */
export function goQuote(value: string): string {
  let quoted = '"';
  for (const char of value) {
    let code = char.codePointAt(0)!;
    if (code >= 0xd800 && code <= 0xdfff) code = 0xfffd;
    quoted += escapeRune(code);
  }
  return `${quoted}"`;
}

const Printable = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u;
const ShortEscapes: Readonly<Record<number, string>> = {
  0x07: '\\a',
  0x08: '\\b',
  0x0c: '\\f',
  0x0a: '\\n',
  0x0d: '\\r',
  0x09: '\\t',
  0x0b: '\\v',
  0x22: '\\"',
  0x5c: '\\\\',
};

function escapeRune(code: number): string {
  const short = ShortEscapes[code];
  if (short !== undefined) return short;
  const char = String.fromCodePoint(code);
  if (Printable.test(char)) return char;
  if (code < 0x20 || code === 0x7f) return `\\x${code.toString(16).padStart(2, '0')}`;
  if (code < 0x10000) return `\\u${code.toString(16).padStart(4, '0')}`;
  return `\\U${code.toString(16).padStart(8, '0')}`;
}

/** Go's sort of strings: by UTF-8 bytes. */
function compareBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** FormatMap: one `key="value"` line per entry (value %q-quoted), keys sorted, no trailing newline. */
export function formatMap(map: Readonly<Record<string, string>> | undefined): string {
  return Object.keys(map ?? {})
    .sort(compareBytes)
    .map((key) => `${key}=${goQuote(map![key]!)}`)
    .join('\n');
}

/** SplitMaybeSubscriptedPath: "metadata.labels['k']" -> ["metadata.labels", "k"]. */
export function splitSubscriptedPath(fieldPath: string): { path: string; subscript: string } | undefined {
  if (!fieldPath.endsWith("']")) return undefined;
  const inner = fieldPath.slice(0, -2);
  const open = inner.indexOf("['");
  if (open <= 0) return undefined;
  return { path: inner.slice(0, open), subscript: inner.slice(open + 2) };
}

const QualifiedNamePart = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const QualifiedNameRegexError =
  "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const Dns1123Subdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const Dns1123SubdomainError =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

/** validation.IsQualifiedName: its list of errors (empty when `value` is a qualified name). */
export function qualifiedNameErrors(value: string): string[] {
  const parts = value.split('/');
  if (parts.length > 2) {
    return [`a qualified name ${QualifiedNameRegexError} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')`];
  }
  const errors: string[] = [];
  const name = parts.length === 2 ? parts[1]! : parts[0]!;
  if (parts.length === 2) {
    const prefix = parts[0]!;
    if (prefix.length === 0) errors.push('prefix part must be non-empty');
    else {
      if (prefix.length > 253) errors.push('prefix part must be no more than 253 characters');
      if (!Dns1123Subdomain.test(prefix)) errors.push(`prefix part ${Dns1123SubdomainError}`);
    }
  }
  if (name.length === 0) errors.push('name part must be non-empty');
  else if (name.length > 63) errors.push('name part must be no more than 63 characters');
  if (!QualifiedNamePart.test(name)) errors.push(`name part ${QualifiedNameRegexError}`);
  return errors;
}

export type FieldValue = { ok: true; value: string } | { ok: false; message: string };

/**
 * ExtractFieldPathAsString on a pod, volume form: metadata.name, .namespace, .uid, whole
 * metadata.labels / metadata.annotations (FormatMap), and one label or annotation by key.
 */
export function fieldPathValue(pod: DefaultedPod, fieldPath: string): FieldValue {
  const { metadata } = pod;
  const subscripted = splitSubscriptedPath(fieldPath);
  if (subscripted) {
    const { path, subscript } = subscripted;
    if (path !== 'metadata.annotations' && path !== 'metadata.labels') {
      return { ok: false, message: `fieldPath ${goQuote(fieldPath)} does not support subscript` };
    }
    // Annotation keys are checked in lower case, label keys as they are.
    const errors = qualifiedNameErrors(path === 'metadata.annotations' ? subscript.toLowerCase() : subscript);
    if (errors.length > 0) return { ok: false, message: `invalid key subscript in ${fieldPath}: ${errors.join(';')}` };
    const map = path === 'metadata.annotations' ? metadata.annotations : metadata.labels;
    return { ok: true, value: map?.[subscript] ?? '' };
  }
  switch (fieldPath) {
    case 'metadata.annotations':
      return { ok: true, value: formatMap(metadata.annotations) };
    case 'metadata.labels':
      return { ok: true, value: formatMap(metadata.labels) };
    case 'metadata.name':
      return { ok: true, value: metadata.name };
    case 'metadata.namespace':
      return { ok: true, value: metadata.namespace };
    case 'metadata.uid':
      return { ok: true, value: metadata.uid };
    default:
      return { ok: false, message: `unsupported fieldPath: ${fieldPath}` };
  }
}

const FixedResources = new Set([
  'limits.cpu',
  'limits.memory',
  'limits.ephemeral-storage',
  'requests.cpu',
  'requests.memory',
  'requests.ephemeral-storage',
]);

function isHugePages(resource: string): boolean {
  return /^(limits|requests)\.hugepages-/.test(resource);
}

/** findContainerInPod: app containers first, then init containers. */
function findContainer(pod: DefaultedPod, name: string): Container | undefined {
  return pod.spec.containers.find((c) => c.name === name) ?? pod.spec.initContainers?.find((c) => c.name === name);
}

/** ExtractResourceValueByContainerNameAndNodeAllocatable, for one item of a volume. */
function resourceValue(pod: DefaultedPod, item: DownwardAPIVolumeFile, nodeAllocatable: NodeAllocatable): FieldValue {
  const ref = item.resourceFieldRef!;
  // API validation requires the container in a volume (there is no "this container" to default to).
  if (!ref.containerName) return { ok: false, message: `downwardAPI item "${item.path}": resourceFieldRef.containerName is required in a volume` };
  const container = findContainer(pod, ref.containerName);
  if (!container) return { ok: false, message: `container ${ref.containerName} not found` };
  if (!FixedResources.has(ref.resource) && !isHugePages(ref.resource)) {
    return { ok: false, message: `unsupported container resource : ${ref.resource}` };
  }
  // MergeContainerResourceLimits fills unset cpu, memory and ephemeral-storage limits from the
  // node's allocatable, never hugepages: an unset hugepages limit reads as 0.
  const allocatable = isHugePages(ref.resource) ? { ...nodeAllocatable, ephemeralStorageBytes: 0 } : nodeAllocatable;
  return { ok: true, value: resourceFieldValue(container, ref.resource, ref.divisor, allocatable) };
}

/** filepath.Clean of an item path (validation has already refused absolute paths and '..'). */
function cleanItemPath(path: string): string {
  const normal = posix.normalize(path);
  return normal.length > 1 && normal.endsWith('/') ? normal.slice(0, -1) : normal;
}

function collectDownwardApi(
  items: readonly DownwardAPIVolumeFile[],
  defaultMode: number,
  pod: DefaultedPod,
  nodeAllocatable: NodeAllocatable,
): Collected {
  const payload = new Map<string, FileProjection>();
  const errors: string[] = [];
  for (const item of items) {
    const mode = item.mode ?? defaultMode;
    let value = '';
    if (item.fieldRef) {
      const field = fieldPathValue(pod, item.fieldRef.fieldPath);
      if (field.ok) value = field.value;
      else errors.push(field.message);
    } else if (item.resourceFieldRef) {
      const resource = resourceValue(pod, item, nodeAllocatable);
      if (resource.ok) value = resource.value;
      else errors.push(resource.message);
    }
    payload.set(cleanItemPath(item.path), { data: Buffer.from(value, 'utf8'), mode });
  }
  return { payload, errors };
}

/**
 * A downwardAPI volume's files (CollectData): each item's value at its path. Every item is
 * evaluated; the failures are reported together.
 */
export function downwardApiPayload(
  items: readonly DownwardAPIVolumeFile[],
  defaultMode: number,
  pod: DefaultedPod,
  nodeAllocatable: NodeAllocatable,
): PayloadResult {
  return result(collectDownwardApi(items, defaultMode, pod, nodeAllocatable));
}

// ---------------------------------------------------------------------------------------------
// Projected

/**
 * A projected volume's files (collectData): its configMap, secret, downwardAPI and
 * serviceAccountToken sources in order, each with the projected defaultMode (an item's mode
 * wins); a later source's file wins over an earlier one at the same path. Every source is
 * evaluated; the failures are reported together. Tokens are fetched beforehand (`tokens`, one
 * per serviceAccountToken source; none on a node without an API server). Cluster trust bundles
 * are not served.
 */
export function projectedPayload(
  source: ProjectedVolumeSource,
  pod: DefaultedPod,
  objects: ObjectLookup,
  nodeAllocatable: NodeAllocatable,
  tokens: ReadonlyMap<ServiceAccountTokenProjection, TokenResult> = new Map(),
): PayloadResult {
  const defaultMode = source.defaultMode ?? DefaultVolumeFileMode;
  const namespace = pod.metadata.namespace;
  const payload = new Map<string, FileProjection>();
  const errors: string[] = [];
  const add = (collected: Collected): void => {
    if (collected.errors.length > 0) {
      errors.push(...collected.errors);
      return;
    }
    for (const [path, file] of collected.payload) payload.set(path, file);
  };
  for (const projection of source.sources ?? []) {
    if (projection.secret) {
      const { name = '', items, optional } = projection.secret;
      add(collectSecret(name, items, optional === true, objects.secret(namespace, name), defaultMode));
    } else if (projection.configMap) {
      const { name = '', items, optional } = projection.configMap;
      add(collectConfigMap(name, items, optional === true, objects.configMap(namespace, name), defaultMode));
    } else if (projection.downwardAPI) {
      add(collectDownwardApi(projection.downwardAPI.items ?? [], defaultMode, pod, nodeAllocatable));
    } else if (projection.serviceAccountToken) {
      const { path } = projection.serviceAccountToken;
      const token = tokens.get(projection.serviceAccountToken);
      // With an fsGroup the token is the owner's and the group's only (fsGroup ownership adds group read).
      const mode = pod.spec.securityContext?.fsGroup !== undefined ? 0o600 : defaultMode;
      if (token?.ok) payload.set(cleanItemPath(path), { data: Buffer.from(token.token), mode });
      else errors.push(token?.message ?? `serviceAccountToken projection "${path}": service account tokens come from an API server: only pods from one (--kubeconfig) get them`);
    } else if (projection.clusterTrustBundle) {
      errors.push(`clusterTrustBundle projection "${projection.clusterTrustBundle.path}": cluster trust bundles are not served by dockerlet`);
    }
  }
  return errors.length === 0 ? { ok: true, payload } : { ok: false, message: aggregateMessage(errors) };
}
