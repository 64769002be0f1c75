/**
 * hostPath (pkg/volume/hostpath): a path of the node's, checked by its type before it is mounted
 * (host_path.go SetUp, checkType / checkTypeInternal and its fileTypeChecker, makeDir, makeFile;
 * hostutil's GetFileType), and refused outside the node's allow-list of prefixes (the rule of
 * PodSecurityPolicy's allowedHostPaths, pkg/security/podsecuritypolicy/util hasPathPrefix), where
 * its symlinks lead counting too. With no type, a missing path is created as a directory, as
 * Docker's binds (and so cri-dockerd) do.
 *
 *   ""                  no check at all
 *   DirectoryOrCreate   missing: created with its parents, mode 0755 (os.MkdirAll); else a directory
 *   Directory           must be a directory
 *   FileOrCreate        missing: an empty file, mode 0644; the parent is NOT created; else a file
 *   File                must be a regular file
 *   Socket | CharDevice | BlockDevice   must be one
 *
 * Symbolic links are followed (os.Stat). A failed check creates nothing.
 */
import type { Stats } from 'node:fs';
import { chmod, constants, lstat, mkdir, open, readlink, realpath, rmdir, stat } from 'node:fs/promises';
import { basename, dirname, join, posix, resolve } from 'node:path';
import { isWithin } from '../root-dir.js';
import type { VolumePlugin } from './volume-plugin.js';

export type HostPathType = '' | 'DirectoryOrCreate' | 'Directory' | 'FileOrCreate' | 'File' | 'Socket' | 'CharDevice' | 'BlockDevice';

export type HostPathCheck = { ok: true } | { ok: false; message: string };

const DirectoryMode = 0o755;
const FileMode = 0o644;

/** What the kernel's errno reads as in Go (syscall.Errno.Error), for the codes a mkdir or open can give. */
const GoErrnoText: Readonly<Record<string, string>> = {
  ENOENT: 'no such file or directory',
  ENOTDIR: 'not a directory',
  EEXIST: 'file exists',
  EISDIR: 'is a directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  ELOOP: 'too many levels of symbolic links',
  ENAMETOOLONG: 'file name too long',
  EMLINK: 'too many links',
  EIO: 'input/output error',
};

function errorCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error ? String((error as { code: unknown }).code) : undefined;
}

/** A failed call as Go's *os.PathError prints it: "<op> <path>: <errno text>". */
export function goPathError(op: string, path: string, error: unknown): string {
  const code = errorCode(error);
  const known = code === undefined ? undefined : GoErrnoText[code];
  if (known !== undefined) return `${op} ${path}: ${known}`;
  // Node: "EXDEV: cross-device link not permitted, mkdir '/x'" -> the text between the code and the call.
  const message = error instanceof Error ? error.message : String(error);
  const text = /^[A-Z0-9]+: (.*?), \w+ '/.exec(message)?.[1] ?? message;
  return `${op} ${path}: ${text}`;
}

/** hostutil.GetFileType: what is at `path`, following links; undefined when it cannot be stat'ed. */
async function statIfExists(path: string): Promise<Stats | undefined> {
  try {
    return await stat(path);
  } catch {
    return undefined;
  }
}

type FileType = 'Directory' | 'File' | 'Socket' | 'CharDevice' | 'BlockDevice' | 'Other';

function fileType(stats: Stats): FileType {
  if (stats.isDirectory()) return 'Directory';
  if (stats.isFile()) return 'File';
  if (stats.isSocket()) return 'Socket';
  if (stats.isCharacterDevice()) return 'CharDevice';
  if (stats.isBlockDevice()) return 'BlockDevice';
  return 'Other';
}

/** The check for a type that must already exist: its type and upstream's message. */
const Expected: Readonly<Record<Exclude<HostPathType, ''>, { type: FileType; description: string }>> = {
  DirectoryOrCreate: { type: 'Directory', description: 'a directory' },
  Directory: { type: 'Directory', description: 'a directory' },
  FileOrCreate: { type: 'File', description: 'a file' },
  File: { type: 'File', description: 'a file' },
  Socket: { type: 'Socket', description: 'a socket file' },
  CharDevice: { type: 'CharDevice', description: 'a character device' },
  BlockDevice: { type: 'BlockDevice', description: 'a block device' },
};

/**
 * makeDir: os.MkdirAll(path, 0755), walked the way Go walks it so the error names the same path
 * ("mkdir /srv/file: not a directory"). The directories it made are chmod'ed to 0755 whatever the
 * umask; when it fails, they are removed again, so a failed check leaves nothing behind.
 */
async function makeDir(path: string): Promise<HostPathCheck> {
  const created: string[] = [];
  const failure = await mkdirAll(path, created);
  if (failure === undefined) {
    for (const dir of created) await chmod(dir, DirectoryMode);
    return { ok: true };
  }
  for (const dir of created.reverse()) await rmdir(dir).catch(() => undefined);
  return { ok: false, message: failure };
}

async function mkdirAll(path: string, created: string[]): Promise<string | undefined> {
  const existing = await statIfExists(path);
  if (existing) return existing.isDirectory() ? undefined : goPathError('mkdir', path, { code: 'ENOTDIR' });
  let end = path.length;
  while (end > 0 && path[end - 1] === '/') end--;
  let start = end;
  while (start > 0 && path[start - 1] !== '/') start--;
  if (start > 1) {
    const failure = await mkdirAll(path.slice(0, start - 1), created);
    if (failure !== undefined) return failure;
  }
  try {
    await mkdir(path, DirectoryMode);
    created.push(path);
    return undefined;
  } catch (error) {
    // "foo/." and races: a directory there now is success (upstream also ignores EEXIST).
    const now = await lstat(path).catch(() => undefined);
    if (now?.isDirectory() || errorCode(error) === 'EEXIST') return undefined;
    return goPathError('mkdir', path, error);
  }
}

/** makeFile: os.OpenFile(path, O_CREATE, 0644); the parent must exist. Chmod'ed to 0644 whatever the umask. */
async function makeFile(path: string): Promise<HostPathCheck> {
  try {
    const handle = await open(path, constants.O_RDONLY | constants.O_CREAT | constants.O_EXCL, FileMode);
    await handle.close();
    await chmod(path, FileMode);
    return { ok: true };
  } catch (error) {
    // Something appeared there meanwhile: upstream ignores EEXIST too.
    if (errorCode(error) === 'EEXIST') return { ok: true };
    return { ok: false, message: goPathError('open', path, error) };
  }
}

/** validation.ValidatePathNoBacksteps, which SetUp runs before the type check. */
function hasBacksteps(path: string): boolean {
  return path.split('/').includes('..');
}

/** Checks (and for the *OrCreate types, creates) `path` as the kubelet does before mounting it. */
export async function checkHostPath(path: string, type: HostPathType): Promise<HostPathCheck> {
  if (hasBacksteps(path)) return { ok: false, message: `invalid HostPath \`${path}\`: must not contain '..'` };
  if (type === '') return { ok: true };
  const expected = Expected[type];
  if (expected === undefined) return { ok: false, message: `${String(type)} is an invalid volume type` };
  const stats = await statIfExists(path);
  if (stats === undefined && type === 'DirectoryOrCreate') return makeDir(path);
  if (stats === undefined && type === 'FileOrCreate') return makeFile(path);
  if (stats === undefined || fileType(stats) !== expected.type) {
    return { ok: false, message: `hostPath type check failed: ${path} is not ${expected.description}` };
  }
  return { ok: true };
}

/** `path` without '.', '..', repeated or trailing slashes; undefined unless absolute. */
function normalizeAbsolute(path: string): string | undefined {
  return path.startsWith('/') ? posix.resolve(path) : undefined;
}

/**
 * Whether `path` lies under one of `allowedPrefixes` (whole path elements: /data allows /data and
 * /data/x, not /database); an empty list allows everything. Paths are compared after normalising
 * (no trailing slash, no '.' or '..' tricks). Only absolute paths and prefixes count. Symbolic
 * links are not resolved: as with allowedHostPaths, a link under an allowed prefix can point
 * outside it.
 */
export function hostPathAllowed(path: string, allowedPrefixes: readonly string[]): boolean {
  if (allowedPrefixes.length === 0) return true;
  const target = normalizeAbsolute(path);
  if (target === undefined) return false;
  return allowedPrefixes.some((prefix) => {
    const allowed = normalizeAbsolute(prefix);
    return allowed !== undefined && isWithin(allowed, target);
  });
}

/** Linux's limit on symlinks followed in one lookup (ELOOP beyond it). */
const MaxSymlinkHops = 40;

export const hostPathPlugin: VolumePlugin = {
  name: 'host-path',
  async setUp(volume, ctx) {
    const path = volume.hostPath!.path;
    const type = (volume.hostPath!.type ?? '') as HostPathType;
    // Both the path as written and where its symlinks lead must be allowed; for a path still to
    // be created, where its nearest existing ancestor leads, so nothing is made outside.
    const refused = {
      ok: false as const,
      message: `hostPath ${JSON.stringify(path)} is not allowed on this node: it is under none of the allowed prefixes ${ctx.allowedHostPathPrefixes.map((p) => JSON.stringify(p)).join(', ')} (--allowed-host-path-prefixes)`,
    };
    if (!hostPathAllowed(path, ctx.allowedHostPathPrefixes) || !hostPathAllowed(await resolveExisting(path), ctx.allowedHostPathPrefixes)) return refused;
    const checked = await checkHostPath(path, type);
    if (!checked.ok) return checked;
    if (type === '' && !(await stat(path).catch(() => undefined))) await mkdir(path, { recursive: true, mode: 0o755 });
    // What is mounted is the path its links lead to now, checked again: a link changed since the
    // first check cannot carry the mount out of the allowed prefixes.
    const target = await realpath(path);
    if (!hostPathAllowed(target, ctx.allowedHostPathPrefixes)) return refused;
    return { ok: true, hostPath: target, readOnly: false };
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
