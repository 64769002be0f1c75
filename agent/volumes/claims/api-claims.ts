/**
 * The claims of pods from the API server, read from it when a pod's volumes are set up, as the
 * kubelet's volume manager reads them (desired_state_of_world_populator getPVCExtractPV and
 * getPVSpec): the claim, which must be Bound, not being deleted and name its volume; then that
 * PersistentVolume, whose claimRef must point back at the claim's UID. The Node authorizer lets a
 * node get exactly the claims and volumes of its own pods.
 */
import { errorMessage } from '../../../common/api/errors.js';
import type { PersistentVolume, PersistentVolumeClaim } from '../../../common/api/types.js';
import type { KubeApi } from '../../../common/kube-api/kube-client.js';
import type { ClaimResolution, PersistentVolumeClaimSource } from '../plugins/volume-plugin.js';

/** Why `claim` and `volume`, as read, cannot be mounted; undefined when they are bound to each other. */
function bindingProblem(claim: PersistentVolumeClaim, volume: PersistentVolume): string | undefined {
  const name = volume.metadata?.name ?? '';
  const ref = volume.spec?.claimRef;
  if (!ref) return `found PV object ${name} but it has a nil pv.Spec.ClaimRef indicating it is not yet bound to the claim`;
  if (ref.uid !== claim.metadata?.uid) return `found PV object ${name} but its pv.Spec.ClaimRef.UID ${ref.uid ?? ''} does not point to claim.UID ${claim.metadata?.uid ?? ''}`;
  return undefined;
}

/** Why `claim` cannot be used yet; undefined when it is bound to a named volume. */
function claimProblem(claim: PersistentVolumeClaim): string | undefined {
  if (claim.metadata?.deletionTimestamp) return 'PVC is being deleted';
  if (claim.status?.phase !== 'Bound') return 'PVC is not bound';
  if (!claim.spec?.volumeName) return 'PVC has empty pvc.Spec.VolumeName';
  return undefined;
}

export class ApiClaims implements PersistentVolumeClaimSource {
  readonly #client: KubeApi;

  constructor(client: KubeApi) {
    this.#client = client;
  }

  async resolve(namespace: string, claimName: string): Promise<ClaimResolution> {
    let claim: PersistentVolumeClaim;
    try {
      claim = await this.#client.get<PersistentVolumeClaim>(`/api/v1/namespaces/${encodeURIComponent(namespace)}/persistentvolumeclaims/${encodeURIComponent(claimName)}`);
    } catch (err) {
      return { ok: false, message: `failed to fetch PVC from API server: ${errorMessage(err)}` };
    }
    const unusable = claimProblem(claim);
    if (unusable !== undefined) return { ok: false, message: unusable };
    const volumeName = claim.spec!.volumeName!;
    let volume: PersistentVolume;
    try {
      volume = await this.#client.get<PersistentVolume>(`/api/v1/persistentvolumes/${encodeURIComponent(volumeName)}`);
    } catch (err) {
      return { ok: false, message: `failed to fetch PV ${volumeName} from API server: ${errorMessage(err)}` };
    }
    const unbound = bindingProblem(claim, volume);
    return unbound === undefined ? { ok: true, volume } : { ok: false, message: unbound };
  }
}
