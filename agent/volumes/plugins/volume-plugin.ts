/**
 * What each volume kind does to be mounted (the kubelet's volume plugins, SetUp): make its
 * content present on the host and say where, and whether containers may only read it.
 */
import type { DefaultedPod, PersistentVolume, ServiceAccountTokenProjection, Volume } from '../../../common/api/types.js';
import type { ConfigObjectLookup } from '../../config/config-objects.js';
import type { NodeAllocatable } from '../../node/node-facts.js';
import type { NodeIdentity } from '../claims/node-affinity.js';

export type TokenResult = { ok: true; token: string } | { ok: false; message: string };

/** Where serviceAccountToken projections get their tokens: the API server's TokenRequest, in cluster mode. */
export interface ServiceAccountTokenSource {
  /** A token of the pod's service account for `projection`, bound to the pod. */
  token(pod: DefaultedPod, projection: ServiceAccountTokenProjection): Promise<TokenResult>;
}

/**
 * The PersistentVolume bound to a claim, and whether it is one dockerlet provisioned itself, still
 * where it made it (a lone host's claim, under its root dir: the node's allow-list does not apply);
 * or why the claim cannot be used (yet).
 */
export type ClaimResolution = { ok: true; volume: PersistentVolume; provisioned?: boolean } | { ok: false; message: string };

/** Where persistentVolumeClaim volumes find their claims: the API server's, or the manifests' on a lone host. */
export interface PersistentVolumeClaimSource {
  resolve(namespace: string, claimName: string): Promise<ClaimResolution>;
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
  /** The claims of the pod's source, for persistentVolumeClaim volumes. */
  claims: PersistentVolumeClaimSource | undefined;
  /** This node, for a local PersistentVolume's node affinity. */
  node: NodeIdentity;
}

/** The claim a volume mounts, for its usage's pvcRef. */
export interface ClaimRef {
  name: string;
  namespace: string;
}

export type VolumeSetUp =
  | {
      ok: true;
      hostPath: string;
      readOnly: boolean;
      /** The directory whose usage the volume reports; none for a path of the host's (hostPath). */
      usagePath?: string;
      claim?: ClaimRef;
    }
  | { ok: false; message: string };

export interface VolumePlugin {
  /** The plugin's directory name under volumes/: kubernetes.io~<name>. */
  readonly name: string;
  setUp(volume: Volume, ctx: VolumeContext): Promise<VolumeSetUp>;
}
