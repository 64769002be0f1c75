/**
 * One manifest (a file's or a URL's content) -> the static pods it declares. The manifest is
 * the unit of failure: one bad document fails the whole manifest, with a message that names
 * the manifest, the document and the field.
 */
import type { DefaultedPod } from '../api/types.js';
import { decodeManifest } from './manifest.js';
import { toStaticPod, type StaticPodOrigin } from './static-pod.js';
import type { FieldError } from './validation/format-issues.js';
import { validatePod } from './validation/validate-pod.js';

export type ManifestContent = { ok: true; pods: DefaultedPod[] } | { ok: false; error: string };

export function readManifest(text: string, origin: StaticPodOrigin, nodeName: string): ManifestContent {
  const decoded = decodeManifest(text);
  if (!decoded.ok) return { ok: false, error: `${origin.location}: ${decoded.error}` };
  const pods: DefaultedPod[] = [];
  for (const { kind, apiVersion, document, object } of decoded.objects) {
    const where = `${origin.location}: document ${document}`;
    if (kind !== 'Pod' || apiVersion !== 'v1') {
      return { ok: false, error: `${where}: kind: Unsupported value: "${apiVersion}/${kind}": supported kinds: "v1/Pod"` };
    }
    const name = objectName(object);
    const validated = validatePod(object);
    if (!validated.ok) return { ok: false, error: `${where} (Pod ${name}): ${describe(validated.errors)}` };
    const staticPod = toStaticPod(validated.pod, origin, nodeName);
    if (!staticPod.ok) return { ok: false, error: `${where} (Pod ${name}): ${describe(staticPod.errors)}` };
    pods.push(staticPod.pod);
  }
  return { ok: true, pods };
}

function objectName(object: Record<string, unknown>): string {
  const metadata = object['metadata'];
  const name = metadata && typeof metadata === 'object' ? (metadata as Record<string, unknown>)['name'] : undefined;
  return typeof name === 'string' ? JSON.stringify(name) : '(no name)';
}

function describe(errors: readonly FieldError[]): string {
  return errors.map(({ field, message }) => (field ? `${field}: ${message}` : message)).join('; ');
}
