/**
 * What each volume kind does to be mounted (the kubelet's volume plugins, SetUp): make its
 * content present on the host and say where, and whether containers may only read it.
 */
import type { DefaultedPod, ServiceAccountTokenProjection, Volume } from '../../../common/api/types.js';
import type { ConfigObjectLookup } from '../../config/config-objects.js';
import type { NodeAllocatable } from '../../node/node-facts.js';

export type TokenResult = { ok: true; token: string } | { ok: false; message: string };

/** Where serviceAccountToken projections get their tokens: the API server's TokenRequest, in cluster mode. */
export interface ServiceAccountTokenSource {
  /** A token of the pod's service account for `projection`, bound to the pod. */
  token(pod: DefaultedPod, projection: ServiceAccountTokenProjection): Promise<TokenResult>;
}

export interface VolumeContext {
  pod: DefaultedPod;
  /** The volume's own directory: pods/<uid>/volumes/kubernetes.io~<plugin>/<name>. */
  dir: string;
  objects: ConfigObjectLookup;
  nodeAllocatable: NodeAllocatable;
  /** The node's allow-list of hostPath prefixes; empty allows every path. */
  allowedHostPathPrefixes: readonly string[];
  /** Service account tokens, for a pod that may have them (one from the API server). */
  tokens: ServiceAccountTokenSource | undefined;
}

export type VolumeSetUp = { ok: true; hostPath: string; readOnly: boolean } | { ok: false; message: string };

export interface VolumePlugin {
  /** The plugin's directory name under volumes/: kubernetes.io~<name>. */
  readonly name: string;
  setUp(volume: Volume, ctx: VolumeContext): Promise<VolumeSetUp>;
}
