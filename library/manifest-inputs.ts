/**
 * What apply() and delete() take, turned into the objects they name: Kubernetes objects, YAML
 * (or JSON) text, manifest files and directories of them. Every manifest is validated as the
 * agent validates it before anything is written, so a bad one fails the call with the agent's
 * message, naming the file, the document and the field, and changes nothing.
 *
 * A string is YAML text when it has a line break, else the path of a file or a directory (whose
 * .yaml, .yml and .json files are read, in name order; names starting with "." are skipped, as
 * the agent skips them).
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { DockerletError, aggregateMessage } from '../common/api/errors.js';
import { decodeManifest } from '../agent/config/manifest.js';
import { readManifest } from '../agent/config/read-manifest.js';
import type { KubeObject, ManifestInput } from './api.js';

/** One object of the inputs, ready to be a manifest file of its own. */
export interface InputObject {
  /** "v1/Pod/default/web"; cluster-scoped kinds have an empty namespace. */
  key: string;
  kind: string;
  namespace: string;
  name: string;
  /** Where it came from, for messages: "web.yaml document 2". */
  from: string;
  /** The file it is written to in the node's manifest directory: one per object, so that re-applying it replaces it. */
  fileName: string;
  /** The object as JSON (a manifest the agent reads as it reads YAML). */
  text: string;
}

const ClusterScoped = new Set(['v1/PersistentVolume', 'storage.k8s.io/v1/StorageClass']);
const ManifestFile = /\.(ya?ml|json)$/;

interface Manifest {
  label: string;
  text: string;
}

async function manifestsOf(input: ManifestInput, position: number): Promise<Manifest[]> {
  if (typeof input !== 'string') {
    const objects = Array.isArray(input) ? input : [input as KubeObject];
    return objects.map((object, index) => ({ label: `argument ${position}${Array.isArray(input) ? ` item ${index + 1}` : ''}`, text: JSON.stringify(object) }));
  }
  if (input.includes('\n')) return [{ label: `argument ${position} (YAML text)`, text: input }];
  const path = resolve(input);
  const info = await stat(path).catch((err: NodeJS.ErrnoException) => {
    throw new DockerletError('DKL_ERR_MANIFEST_INVALID', `${input}: ${err.code === 'ENOENT' ? 'no such file or directory' : err.message} (a string without a line break is read as a path; YAML text has at least one)`, { cause: err });
  });
  if (!info.isDirectory()) return [{ label: input, text: await readFile(path, 'utf8') }];
  const files = (await readdir(path)).filter((name) => !name.startsWith('.') && ManifestFile.test(name)).sort();
  return Promise.all(files.map(async (name) => ({ label: join(input, name), text: await readFile(join(path, name), 'utf8') })));
}

/**
 * The objects `inputs` declare, validated for node `nodeName`; rejects with one
 * DKL_ERR_MANIFEST_INVALID naming every bad manifest. An object given twice is taken as last given.
 */
export async function readInputs(inputs: readonly ManifestInput[], nodeName: string): Promise<InputObject[]> {
  const manifests = (await Promise.all(inputs.map((input, index) => manifestsOf(input, index + 1)))).flat();
  const errors: string[] = [];
  const objects = new Map<string, InputObject>();
  for (const manifest of manifests) {
    const checked = readManifest(manifest.text, { source: 'file', location: manifest.label }, nodeName);
    if (!checked.ok) {
      errors.push(checked.error);
      continue;
    }
    const decoded = decodeManifest(manifest.text);
    if (!decoded.ok) continue; // readManifest decoded it already
    for (const { kind, apiVersion, document, object } of decoded.objects) {
      const typed = `${apiVersion}/${kind}`;
      const metadata = object['metadata'] as { name: string; namespace?: string };
      const namespace = ClusterScoped.has(typed) ? '' : metadata.namespace || 'default';
      const key = `${typed}/${namespace}/${metadata.name}`;
      objects.delete(key);
      objects.set(key, {
        key,
        kind,
        namespace,
        name: metadata.name,
        from: `${manifest.label} document ${document}`,
        fileName: `${[kind.toLowerCase(), namespace, metadata.name].filter(Boolean).join('_')}.json`,
        text: JSON.stringify(object),
      });
    }
  }
  if (errors.length > 0) throw new DockerletError('DKL_ERR_MANIFEST_INVALID', aggregateMessage(errors));
  return [...objects.values()];
}
