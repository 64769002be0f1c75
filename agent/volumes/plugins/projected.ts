/**
 * projected (pkg/volume/projected: collectData): configMap, secret, downwardAPI and
 * serviceAccountToken sources in one directory, on a tmpfs as upstream's (it holds tokens and
 * Secrets).
 */
import type { DefaultedPod, ProjectedVolumeSource, ServiceAccountTokenProjection } from '../../../common/api/types.js';
import type { ConfigObjectLookup } from '../../config/config-objects.js';
import type { NodeAllocatable } from '../../node/node-facts.js';
import type { FileProjection } from '../atomic-writer.js';
import { collectConfigMap } from './config-map.js';
import { collectDownwardApi } from './downward-api.js';
import { cleanItemPath, DefaultVolumeFileMode, result, writePayloadVolume, type Collected, type PayloadResult } from './payload-volume.js';
import { collectSecret } from './secret.js';
import type { TokenResult, VolumePlugin } from './volume-plugin.js';

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
  objects: ConfigObjectLookup,
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
  return result({ payload, errors });
}

export const projectedPlugin: VolumePlugin = {
  name: 'projected',
  async setUp(volume, ctx) {
    const source = volume.projected!;
    const tokens = new Map<ServiceAccountTokenProjection, TokenResult>();
    for (const projection of source.sources ?? []) {
      const request = projection.serviceAccountToken;
      if (request && ctx.tokens) tokens.set(request, await ctx.tokens.token(ctx.pod, request));
    }
    return writePayloadVolume(ctx, projectedPayload(source, ctx.pod, ctx.objects, ctx.nodeAllocatable, tokens), 'memory');
  },
};
