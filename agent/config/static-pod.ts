/**
 * What the kubelet does to a pod read from a file or a URL (pkg/kubelet/config/common.go,
 * applyDefaults): name it `<name>-<node>`, derive its UID from its content and origin, bind it
 * to this node and annotate where it came from.
 */
import {
  ConfigHashAnnotation,
  ConfigSourceAnnotation,
  type PodSource,
} from '../../common/api/well-known.js';
import type { DefaultedPod, Pod } from '../../common/api/types.js';
import { canonicalJson, fnv128a } from '../../common/util/hash.js';
import type { FieldError } from './validation/format-issues.js';
import { dnsSubdomain } from './validation/names.js';

export interface StaticPodOrigin {
  source: Exclude<PodSource, 'api'>;
  /** The manifest file's path, or the manifest URL. */
  location: string;
}

export type StaticPodResult = { ok: true; pod: DefaultedPod } | { ok: false; errors: FieldError[] };

/** What a static pod's own metadata.uid may be: it names a directory, so one path element with no dot-only names. */
const StaticPodUID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export function staticPodName(name: string, nodeName: string): string {
  return `${name}-${nodeName.toLowerCase()}`;
}

/** `pod` must already carry the API server's defaults (see pod-defaults.ts). */
export function toStaticPod(pod: Pod, origin: StaticPodOrigin, nodeName: string): StaticPodResult {
  const originText = origin.source === 'file' ? `host:${nodeName}file:${origin.location}` : `url:${origin.location}`;
  const given = pod.metadata?.uid;
  // The UID names the pod's directory: a given one must be a plain name, never a path.
  if (given && !StaticPodUID.test(given)) {
    return { ok: false, errors: [{ field: 'metadata.uid', message: `Invalid value: ${JSON.stringify(given)}: must be 1 to 128 alphanumeric characters, '-', '_' or '.', starting with an alphanumeric character` }] };
  }
  const uid = given || fnv128a(canonicalJson(pod) + originText);
  const name = staticPodName(pod.metadata?.name ?? '', nodeName);
  const checked = dnsSubdomain.safeParse(name);
  if (!checked.success) {
    return { ok: false, errors: [{ field: 'metadata.name', message: `Invalid value: "${name}": ${checked.error.issues[0]!.message}` }] };
  }
  const spec = structuredClone(pod.spec ?? { containers: [] });
  spec.nodeName = nodeName;
  if (origin.source === 'file') {
    const tolerations = (spec.tolerations ??= []);
    if (!tolerations.some((t) => t.operator === 'Exists' && t.effect === 'NoExecute' && !t.key)) {
      tolerations.push({ operator: 'Exists', effect: 'NoExecute' });
    }
  }
  return {
    ok: true,
    pod: {
      ...pod,
      metadata: {
        ...structuredClone(pod.metadata),
        name,
        namespace: pod.metadata?.namespace || 'default',
        uid,
        annotations: { ...pod.metadata?.annotations, [ConfigHashAnnotation]: uid, [ConfigSourceAnnotation]: origin.source },
      },
      spec,
      status: { phase: 'Pending' },
    },
  };
}
