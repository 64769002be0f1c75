/**
 * The manifest sources a node is configured with: the file source for --pod-manifest-path
 * (staticPodPath) and the HTTP source for --manifest-url (staticPodURL). The kubelet takes pods,
 * ConfigMaps and Secrets from them; a proxy running alone takes only their Services.
 */
import type { Logger } from 'pino';
import type { PodSource } from '../../../common/api/well-known.js';
import type { ManifestObjects } from '../read-manifest.js';
import { FileSource } from './file-source.js';
import { HttpSource } from './http-source.js';
import type { PodSourceRunner } from './source.js';

export interface ManifestSourceOptions {
  nodeName: string;
  staticPodPath?: string;
  staticPodURL?: string;
  staticPodURLHeader: Readonly<Record<string, readonly string[]>>;
  fileCheckFrequencyMs: number;
  httpCheckFrequencyMs: number;
}

/** The names of the sources `options` configures, in the order they are built. */
export function manifestSourceNames(options: Pick<ManifestSourceOptions, 'staticPodPath' | 'staticPodURL'>): PodSource[] {
  return [...(options.staticPodPath ? (['file'] as const) : []), ...(options.staticPodURL ? (['http'] as const) : [])];
}

/** Builds (without starting) the configured sources; each reports its whole set to `onSnapshot`. */
export function manifestSources(options: ManifestSourceOptions, logger: Logger, onSnapshot: (source: PodSource, objects: ManifestObjects, whole: boolean) => void): PodSourceRunner[] {
  const sources: PodSourceRunner[] = [];
  if (options.staticPodPath) {
    sources.push(
      new FileSource({
        path: options.staticPodPath,
        nodeName: options.nodeName,
        checkFrequencyMs: options.fileCheckFrequencyMs,
        logger,
        onSnapshot: (objects, whole) => onSnapshot('file', objects, whole),
      }),
    );
  }
  if (options.staticPodURL) {
    sources.push(
      new HttpSource({
        url: options.staticPodURL,
        headers: options.staticPodURLHeader,
        nodeName: options.nodeName,
        checkFrequencyMs: options.httpCheckFrequencyMs,
        logger,
        onSnapshot: (objects, whole) => onSnapshot('http', objects, whole),
      }),
    );
  }
  return sources;
}
