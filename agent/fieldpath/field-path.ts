/**
 * The downward API's pod fields (pkg/fieldpath/fieldpath.go ExtractFieldPathAsString and
 * FormatMap; kubelet_pods.go podFieldSelectorRuntimeValue), shared by environment variables and
 * downwardAPI volumes: a volume item reads the pod's metadata; an environment variable reads
 * that and what only the running pod knows (its node, addresses and service account).
 */
import type { DefaultedPod } from '../../common/api/types.js';
import { qualifiedNameErrors } from '../config/validation/names.js';

export type FieldValue = { ok: true; value: string } | { ok: false; message: string };

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

/**
 * ExtractFieldPathAsString on a pod: metadata.name, .namespace, .uid, whole metadata.labels /
 * metadata.annotations (FormatMap), and one label or annotation by key. What a downwardAPI
 * volume item may name.
 */
export function extractFieldPath(pod: DefaultedPod, fieldPath: string): FieldValue {
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

/** Where a pod runs: what the environment form of a field path reads besides the pod itself. */
export interface PodPlacement {
  pod: DefaultedPod;
  podIPs: readonly string[];
  hostIPs: readonly string[];
}

/**
 * podFieldSelectorRuntimeValue: a fieldRef of an environment variable. The node, service account
 * and addresses come from where the pod runs; everything else is ExtractFieldPathAsString's.
 */
export function podFieldValue(fieldPath: string, placement: PodPlacement): FieldValue {
  const { pod } = placement;
  switch (fieldPath) {
    case 'spec.nodeName':
      return { ok: true, value: pod.spec.nodeName ?? '' };
    case 'spec.serviceAccountName':
      return { ok: true, value: pod.spec.serviceAccountName ?? '' };
    case 'status.hostIP':
      return { ok: true, value: placement.hostIPs[0] ?? '' };
    case 'status.hostIPs':
      return { ok: true, value: placement.hostIPs.join(',') };
    case 'status.podIP':
      return { ok: true, value: placement.podIPs[0] ?? '' };
    case 'status.podIPs':
      return { ok: true, value: placement.podIPs.join(',') };
    default:
      return extractFieldPath(pod, fieldPath);
  }
}
