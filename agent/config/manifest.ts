/**
 * Manifest text -> API objects. A manifest is YAML or JSON, one or more documents, each a
 * single object or a List of objects. Decoding never throws: a document that is not an
 * object is reported with its position, so the caller can name it.
 */
import { parseAllDocuments, type DocumentOptions, type ParseOptions, type SchemaOptions } from 'yaml';

/** The kubelet refuses manifests over 10 MiB (maxConfigLength); so do both manifest sources, before reading more. */
export const MaxManifestBytes = 10 * 1024 * 1024;

/**
 * A manifest's text from `chunks` (a file's or an HTTP body's); undefined as soon as they pass
 * MaxManifestBytes, and nothing more is read (leaving the loop cancels the stream).
 */
export async function readManifestText(chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<string | undefined> {
  const read: Buffer[] = [];
  let size = 0;
  for await (const chunk of chunks) {
    size += chunk.byteLength;
    if (size > MaxManifestBytes) return undefined;
    read.push(Buffer.from(chunk));
  }
  return Buffer.concat(read).toString('utf8');
}

export interface ManifestObject {
  kind: string;
  apiVersion: string;
  /** 1-based document number within the manifest; items of a List share their List's. */
  document: number;
  object: Record<string, unknown>;
}

export type DecodeResult = { ok: true; objects: ManifestObject[] } | { ok: false; error: string };

const ListKinds = new Set(['List', 'PodList', 'ConfigMapList', 'SecretList', 'ServiceList']);

/**
 * Kubernetes reads manifests with go-yaml v2, a YAML 1.1 parser: `0644` is octal (420) and
 * `yes` a boolean. Timestamps stay strings, as metav1.Time expects them.
 */
const YamlOptions: ParseOptions & DocumentOptions & SchemaOptions = {
  version: '1.1',
  prettyErrors: true,
  uniqueKeys: true,
  customTags: (tags) =>
    tags.filter((tag) => (typeof tag === 'string' ? tag !== 'timestamp' : tag.tag !== 'tag:yaml.org,2002:timestamp')),
};

export function decodeManifest(text: string): DecodeResult {
  if (Buffer.byteLength(text) > MaxManifestBytes) {
    return { ok: false, error: `manifest is larger than ${MaxManifestBytes} bytes` };
  }
  const objects: ManifestObject[] = [];
  const documents = parseAllDocuments(text, YamlOptions);
  if (!Array.isArray(documents)) return { ok: true, objects };
  let position = 0;
  for (const document of documents) {
    position += 1;
    if (document.errors.length > 0) {
      return { ok: false, error: `document ${position}: ${document.errors[0]!.message.split('\n')[0]}` };
    }
    let value: unknown;
    try {
      // Aliases are expanded at most 100 times: a document made of aliases of aliases cannot blow up.
      value = document.toJS({ maxAliasCount: 100 });
    } catch (err) {
      return { ok: false, error: `document ${position}: ${err instanceof Error ? err.message : String(err)}` };
    }
    if (value === null || value === undefined) continue;
    if (typeof value !== 'object' || Array.isArray(value)) {
      return { ok: false, error: `document ${position}: expected an object with apiVersion and kind` };
    }
    const object = value as Record<string, unknown>;
    const kind = object['kind'];
    const apiVersion = object['apiVersion'];
    if (typeof kind !== 'string' || kind === '') {
      return { ok: false, error: `document ${position}: kind: Required value` };
    }
    if (typeof apiVersion !== 'string' || apiVersion === '') {
      return { ok: false, error: `document ${position}: apiVersion: Required value` };
    }
    if (ListKinds.has(kind)) {
      const items = object['items'];
      if (!Array.isArray(items)) return { ok: false, error: `document ${position}: items: Required value` };
      for (const [index, item] of items.entries()) {
        if (item === null || typeof item !== 'object' || Array.isArray(item)) {
          return { ok: false, error: `document ${position}: items[${index}]: expected an object` };
        }
        const itemObject = item as Record<string, unknown>;
        objects.push({
          kind: typeof itemObject['kind'] === 'string' ? itemObject['kind'] : kind.replace(/List$/, ''),
          apiVersion: typeof itemObject['apiVersion'] === 'string' ? itemObject['apiVersion'] : apiVersion,
          document: position,
          object: itemObject,
        });
      }
      continue;
    }
    objects.push({ kind, apiVersion, document: position, object });
  }
  return { ok: true, objects };
}
