/**
 * hostPath (pkg/volume/hostpath): a path of the node's, checked by its type before it is
 * mounted, and refused outside the node's allow-list of prefixes (where its symlinks lead
 * counts too). With no type, a missing path is created as a directory, as Docker's binds (and
 * so cri-dockerd) do.
 */
import { mkdir, readlink, realpath, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { checkHostPath, hostPathAllowed, type HostPathType } from '../host-path.js';
import type { VolumePlugin } from './volume-plugin.js';

/** Linux's limit on symlinks followed in one lookup (ELOOP beyond it). */
const MaxSymlinkHops = 40;

export const hostPathPlugin: VolumePlugin = {
  name: 'host-path',
  async setUp(volume, ctx) {
    const path = volume.hostPath!.path;
    const type = (volume.hostPath!.type ?? '') as HostPathType;
    // Both the path as written and where its symlinks lead must be allowed; for a path still to
    // be created, where its nearest existing ancestor leads, so nothing is made outside.
    const resolved = await resolveExisting(path);
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

/**
 * `path` with its symlinks resolved. A path that does not exist resolves through its nearest
 * existing ancestor, the rest appended; a dangling symlink resolves to where it points (what a
 * mkdir through it would create).
 */
async function resolveExisting(path: string, hops = 0): Promise<string> {
  try {
    return await realpath(path);
  } catch {
    const parent = dirname(path);
    if (parent === path) return path;
    const realParent = await resolveExisting(parent, hops);
    const link = hops < MaxSymlinkHops ? await readlink(path).catch(() => undefined) : undefined;
    return link === undefined ? join(realParent, basename(path)) : resolveExisting(resolve(realParent, link), hops + 1);
  }
}
