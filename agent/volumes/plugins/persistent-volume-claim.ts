/**
 * persistentVolumeClaim: the claim, resolved through the pod's source (the API server's claims, or
 * the manifests' on a lone host), is mounted by its bound PersistentVolume's kind, as the kubelet
 * hands a claim to the PV's plugin (desired_state_of_world_populator getPVCExtractPV, getPVSpec):
 *
 *   hostPath   the hostPath plugin's checks, type and the node's allow-list included; no fsGroup
 *   local      the path must exist on this node and lie under the node's allow-list (but for a
 *              lone host's own provisioned claims); a writable one gets the pod's fsGroup on its root
 *
 * Any PV's node affinity must match this node (volume util CheckNodeAffinity).
 *
 * Only volumeMode Filesystem is served (no volumeDevices), and only these two kinds: any other
 * (csi, nfs, iscsi, ...) fails with a message naming it. The volume's content is the PV's path
 * itself, bound into the containers: nothing is made under the pod's directory, so removing the
 * pod never touches the data. fsGroup is applied to the root alone, never walked through what
 * containers have written (the setgid bit makes what they write next inherit the group), which
 * is what upstream's fsGroupChangePolicy OnRootMismatch leaves on a new volume.
 */
import { realpath, stat } from 'node:fs/promises';
import type { PersistentVolume } from '../../../common/api/types.js';
import { nodeAffinityAllows } from '../claims/node-affinity.js';
import { setOwnership } from '../ownership.js';
import { hostPathAllowed, hostPathPlugin } from './host-path.js';
import type { VolumePlugin, VolumeSetUp } from './volume-plugin.js';

/** The volume sources a PersistentVolume spec can have, to name the one a PV uses. */
const PersistentVolumeKinds = [
  'hostPath', 'local', 'csi', 'nfs', 'iscsi', 'rbd', 'cephfs', 'fc', 'flexVolume', 'glusterfs', 'awsElasticBlockStore', 'gcePersistentDisk',
  'azureDisk', 'azureFile', 'cinder', 'flocker', 'portworxVolume', 'quobyte', 'scaleIO', 'storageos', 'vsphereVolume', 'photonPersistentDisk',
] as const;

/** The kind of volume `volume` is, by its source field. */
function persistentVolumeKind(volume: PersistentVolume): string {
  const spec = (volume.spec ?? {}) as Record<string, unknown>;
  return PersistentVolumeKinds.find((kind) => spec[kind] !== undefined) ?? 'none';
}

export const persistentVolumeClaimPlugin: VolumePlugin = {
  name: 'persistent-volume-claim',
  async setUp(volume, ctx): Promise<VolumeSetUp> {
    const source = volume.persistentVolumeClaim!;
    const namespace = ctx.pod.metadata.namespace;
    const claimRef = { name: source.claimName, namespace };
    const resolved = ctx.claims ? await ctx.claims.resolve(namespace, source.claimName) : { ok: false as const, message: 'no PersistentVolumeClaims are known to this pod\'s source' };
    if (!resolved.ok) return { ok: false, message: `error processing PVC ${namespace}/${source.claimName}: ${resolved.message}` };
    const pv = resolved.volume;
    const pvName = pv.metadata?.name ?? '';
    const readOnly = source.readOnly === true;
    if ((pv.spec?.volumeMode ?? 'Filesystem') !== 'Filesystem') {
      return { ok: false, message: `PersistentVolume "${pvName}" has volumeMode ${pv.spec!.volumeMode}: dockerlet mounts only volumeMode Filesystem (no volumeDevices)` };
    }
    if (!nodeAffinityAllows(pv, ctx.node)) {
      return { ok: false, message: `NodeAffinity check failed for PersistentVolume "${pvName}": no matching NodeSelectorTerms (it is meant for another node)` };
    }
    const kind = persistentVolumeKind(pv);
    if (kind === 'hostPath') {
      const mounted = await hostPathPlugin.setUp({ name: volume.name, hostPath: pv.spec!.hostPath! }, ctx);
      return mounted.ok ? { ok: true, hostPath: mounted.hostPath, readOnly, claim: claimRef } : mounted;
    }
    if (kind !== 'local') {
      return { ok: false, message: `PersistentVolume "${pvName}" is a ${kind} volume: dockerlet mounts only hostPath and local PersistentVolumes` };
    }
    const given = pv.spec!.local!.path;
    const path = await realpath(given).catch(() => undefined);
    const info = path === undefined ? undefined : await stat(path);
    if (path === undefined || !info?.isDirectory()) return { ok: false, message: `local PersistentVolume "${pvName}": path ${JSON.stringify(given)} ${info ? 'is not a directory' : 'does not exist'} on this node` };
    // The node's allow-list covers local volumes too, wherever their links lead; only what dockerlet provisioned itself is exempt.
    if (!resolved.provisioned && (!hostPathAllowed(given, ctx.allowedHostPathPrefixes) || !hostPathAllowed(path, ctx.allowedHostPathPrefixes))) {
      return { ok: false, message: `local PersistentVolume "${pvName}" at ${JSON.stringify(given)} is not allowed on this node: it is under none of the allowed prefixes ${ctx.allowedHostPathPrefixes.map((p) => JSON.stringify(p)).join(', ')} (--allowed-host-path-prefixes)` };
    }
    const fsGroup = ctx.pod.spec.securityContext?.fsGroup;
    if (fsGroup !== undefined && !readOnly && info.gid !== fsGroup) await setOwnership(path, fsGroup, false);
    return { ok: true, hostPath: path, readOnly, usagePath: path, claim: claimRef };
  },
};
