/**
 * hostPath (pkg/volume/hostpath): a path of the node's, checked by its type before it is
 * mounted, and refused outside the node's allow-list of prefixes (where its symlinks lead
 * counts too). With no type, a missing path is created as a directory, as Docker's binds (and
 * so cri-dockerd) do.
 */
import { mkdir, realpath, stat } from 'node:fs/promises';
import { checkHostPath, hostPathAllowed, type HostPathType } from '../host-path.js';
import type { VolumePlugin } from './volume-plugin.js';

export const hostPathPlugin: VolumePlugin = {
  name: 'host-path',
  async setUp(volume, ctx) {
    const path = volume.hostPath!.path;
    const type = (volume.hostPath!.type ?? '') as HostPathType;
    // Both the path as written and where its symlinks lead must be allowed.
    const resolved = await realpath(path).catch(() => path);
    if (!hostPathAllowed(path, ctx.allowedHostPathPrefixes) || !hostPathAllowed(resolved, ctx.allowedHostPathPrefixes)) {
      return {
        ok: false,
        message: `hostPath ${JSON.stringify(path)} is not allowed on this node: it is under none of the allowed prefixes ${ctx.allowedHostPathPrefixes.map((p) => JSON.stringify(p)).join(', ')} (--allowed-host-path-prefixes)`,
      };
    }
    const checked = await checkHostPath(path, type);
    if (!checked.ok) return checked;
    if (type === '' && !(await stat(path).catch(() => undefined))) await mkdir(path, { recursive: true, mode: 0o755 });
    return { ok: true, hostPath: path, readOnly: false };
  },
};
