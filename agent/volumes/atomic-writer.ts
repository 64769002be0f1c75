/**
 * The kubelet's AtomicWriter (pkg/volume/util/atomic_writer.go): projects a set of files into a
 * volume directory so that readers never see a half-written set.
 *
 *   <dir>/..2024_05_01_10_00_00.AbCdEf/   the files (a timestamped directory, mode 0755)
 *   <dir>/..data -> ..2024_05_01_10_00_00.AbCdEf
 *   <dir>/<name> -> ..data/<name>         one link per top-level name of the payload
 *
 * A write puts every file into a new timestamped directory, points `..data_tmp` at it and renames
 * that over `..data` (rename(2) is atomic), then adds links for new top-level names, removes the
 * names no longer in the payload, and removes the old timestamped directory. Paths starting with
 * `..` are reserved for the writer. Like upstream, there is no locking: the caller must not run
 * two writes into the same directory at once. With an fsGroup, the new timestamped directory is
 * given the group's ownership before the swap (upstream's setPerms step), and a file counts as
 * up to date only with the group and the mode that ownership gives it.
 */
import { chmod, lstat, mkdir, mkdtemp, readFile, readdir, readlink, rename, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { basename, join, posix } from 'node:path';
import { fsGroupMode, setTreeOwnership } from './ownership.js';

export interface FileProjection {
  data: Buffer;
  mode: number;
}

/** Relative path (may contain '/', never '..' or absolute) -> file. */
export type Payload = ReadonlyMap<string, FileProjection>;

export type WriteResult = { ok: true; changed: boolean } | { ok: false; message: string };

export const DataDirName = '..data';
export const NewDataDirName = '..data_tmp';

const MaxFileNameLength = 255;
const MaxPathLength = 4096;

/** validatePath: undefined when `targetPath` may be written, else upstream's message. */
export function validatePath(targetPath: string): string | undefined {
  if (targetPath === '') return 'invalid path: must not be empty: ""';
  if (targetPath.startsWith('/')) return `invalid path: must be relative path: ${targetPath}`;
  // Go's len() counts bytes.
  if (Buffer.byteLength(targetPath) > MaxPathLength) return `invalid path: must be less than or equal to ${MaxPathLength} characters`;
  const items = targetPath.split('/');
  for (const item of items) {
    if (item === '..') return `invalid path: must not contain '..': ${targetPath}`;
    if (Buffer.byteLength(item) > MaxFileNameLength) {
      return `invalid path: filenames must be less than or equal to ${MaxFileNameLength} characters`;
    }
  }
  const first = items[0]!;
  if (first.startsWith('..') && first.length > 2) return `invalid path: must not start with '..': ${targetPath}`;
  return undefined;
}

/** filepath.Clean for a relative path that passed validatePath. */
function cleanPath(targetPath: string): string {
  const normal = posix.normalize(targetPath);
  return normal.length > 1 && normal.endsWith('/') ? normal.slice(0, -1) : normal;
}

/** validatePayload: the payload under cleaned paths, or the first invalid path's message. */
export function validatePayload(payload: Payload): { ok: true; payload: Map<string, FileProjection> } | { ok: false; message: string } {
  const clean = new Map<string, FileProjection>();
  for (const [path, file] of payload) {
    const invalid = validatePath(path);
    if (invalid !== undefined) return { ok: false, message: invalid };
    const cleaned = cleanPath(path);
    // Upstream would fail later, writing a file over a directory; say so before touching the disk.
    if (cleaned === '.') return { ok: false, message: `invalid path: must name a file: ${path}` };
    clean.set(cleaned, file);
  }
  for (const path of clean.keys()) {
    for (const parent of parentPaths(path)) {
      if (clean.has(parent)) return { ok: false, message: `invalid path: ${parent} is both a file and a directory` };
    }
  }
  return { ok: true, payload: clean };
}

/** "a/b/c" -> ["a/b", "a"]. */
function parentPaths(path: string): string[] {
  const parents: string[] = [];
  for (let slash = path.lastIndexOf('/'); slash > 0; slash = path.lastIndexOf('/', slash - 1)) parents.push(path.slice(0, slash));
  return parents;
}

function topLevelName(path: string): string {
  const slash = path.indexOf('/');
  return slash === -1 ? path : path.slice(0, slash);
}

function errorCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error ? String((error as { code: unknown }).code) : undefined;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The target of a symlink, or undefined when there is nothing at `path`. */
async function readLinkIfExists(path: string): Promise<string | undefined> {
  try {
    return await readlink(path);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return undefined;
    throw error;
  }
}

async function existsNoFollow(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return false;
    throw error;
  }
}

/** Every path under `root`, relative to it (filepath.Walk without the root itself). */
async function walk(root: string, prefix = ''): Promise<string[]> {
  const paths: string[] = [];
  for (const entry of await readdir(join(root, prefix), { withFileTypes: true })) {
    const relative = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
    paths.push(relative);
    if (entry.isDirectory()) paths.push(...(await walk(root, relative)));
  }
  return paths;
}

/** pathsToRemove: what the old timestamped directory holds that the payload no longer does. */
async function pathsToRemove(payload: ReadonlyMap<string, FileProjection>, oldTsPath: string): Promise<Set<string>> {
  let current: string[];
  try {
    current = await walk(oldTsPath);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return new Set();
    throw error;
  }
  // Every prefix of a new path stays, so a directory that still holds files is not removed.
  const keep = new Set<string>();
  for (const path of payload.keys()) {
    keep.add(path);
    for (const parent of parentPaths(path)) keep.add(parent);
  }
  return new Set(current.filter((path) => !keep.has(path)));
}

/**
 * shouldWriteFile: whether the file at `path` differs from `file`. Upstream compares the bytes
 * only; a changed mode counts here too, so a payload that equals what is on disk really is equal.
 */
async function shouldWriteFile(path: string, file: FileProjection, fsGroup: number | undefined): Promise<boolean> {
  let stats;
  try {
    stats = await lstat(path);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return true;
    throw error;
  }
  const mode = fsGroup === undefined ? file.mode & 0o7777 : fsGroupMode(file.mode & 0o7777, false, true);
  if (!stats.isFile() || (stats.mode & 0o7777) !== mode || (fsGroup !== undefined && stats.gid !== fsGroup)) return true;
  return !file.data.equals(await readFile(path));
}

async function shouldWritePayload(payload: ReadonlyMap<string, FileProjection>, oldTsPath: string, fsGroup: number | undefined): Promise<boolean> {
  for (const [path, file] of payload) {
    if (await shouldWriteFile(join(oldTsPath, path), file, fsGroup)) return true;
  }
  return false;
}

/** newTimestampDir: ioutil.TempDir(dir, "..2006_01_02_15_04_05."), then chmod 0755 whatever the umask. */
async function newTimestampDir(dir: string, now: Date): Promise<string> {
  const iso = now.toISOString(); // 2024-05-01T10:00:00.000Z
  const stamp = `${iso.slice(0, 4)}_${iso.slice(5, 7)}_${iso.slice(8, 10)}_${iso.slice(11, 13)}_${iso.slice(14, 16)}_${iso.slice(17, 19)}`;
  const tsDir = await mkdtemp(join(dir, `..${stamp}.`));
  await chmod(tsDir, 0o755);
  return tsDir;
}

/** writePayloadToDir: each file with its exact mode (chmod after the write, so the umask does not count). */
async function writePayloadToDir(payload: ReadonlyMap<string, FileProjection>, tsDir: string): Promise<void> {
  for (const [path, file] of payload) {
    const fullPath = join(tsDir, path);
    const slash = path.lastIndexOf('/');
    if (slash !== -1) await mkdir(join(tsDir, path.slice(0, slash)), { recursive: true, mode: 0o777 });
    await writeFile(fullPath, file.data, { mode: file.mode });
    await chmod(fullPath, file.mode);
  }
}

/** createUserVisibleFiles: `<name> -> ..data/<name>` for each top-level name that has no link yet. */
async function createUserVisibleFiles(payload: ReadonlyMap<string, FileProjection>, dir: string): Promise<boolean> {
  let created = false;
  for (const name of new Set([...payload.keys()].map(topLevelName))) {
    const visible = join(dir, name);
    // Like upstream, whatever already sits at the name (a link, or anything else) is left alone.
    if (!(await existsNoFollow(visible))) {
      await symlink(posix.join(DataDirName, name), visible);
      created = true;
    }
  }
  return created;
}

/** removeUserVisiblePaths: only the top-level links; what lies below them went with the old data. */
async function removeUserVisiblePaths(paths: ReadonlySet<string>, dir: string): Promise<void> {
  let lastError: unknown;
  for (const path of paths) {
    if (path.includes('/')) continue;
    try {
      await unlink(join(dir, path));
    } catch (error) {
      if (errorCode(error) !== 'ENOENT') lastError = error;
    }
  }
  if (lastError !== undefined) throw lastError;
}

/**
 * Writes `payload` into `dir` atomically: a timestamped directory ..<timestamp> holds the files,
 * the ..data symlink points at it and is swapped with a rename, and each top-level name of the
 * payload is a symlink into ..data; the old timestamped directory and names no longer in the
 * payload are removed. A payload equal to what is there changes nothing (changed: false). An
 * invalid path is { ok: false } naming it; so is a failed file system call, with the call and path.
 * A missing `dir` is created (mode 0777 less the umask: the caller owns the directory's mode).
 * `fsGroup`: the pod's, whose ownership the files get before anyone can see them.
 */
export async function writeAtomically(dir: string, payload: Payload, fsGroup?: number): Promise<WriteResult> {
  // (1) validate
  const validated = validatePayload(payload);
  if (!validated.ok) return validated;
  const clean = validated.payload;
  try {
    await mkdir(dir, { recursive: true });

    // (2) the current timestamped directory
    const dataDirPath = join(dir, DataDirName);
    let oldTsDir = (await readLinkIfExists(dataDirPath)) ?? '';
    const oldTsPath = join(dir, oldTsDir);

    // (3) names to remove, (4) whether the data changed
    let toRemove = new Set<string>();
    let shouldWrite = true;
    if (oldTsDir !== '') {
      toRemove = await pathsToRemove(clean, oldTsPath);
      if (!(await shouldWritePayload(clean, oldTsPath, fsGroup)) && toRemove.size === 0) {
        // Up to date; the links are still checked below. Keep the current data directory.
        shouldWrite = false;
        oldTsDir = '';
      }
    }

    if (shouldWrite) {
      // (5) a new timestamped directory, (6) the payload into it: all of it before the swap
      const tsDir = await newTimestampDir(dir, new Date());
      const tsDirName = basename(tsDir);
      const newDataDirPath = join(dir, NewDataDirName);
      try {
        await writePayloadToDir(clean, tsDir);
        // (7) setPerms: the fsGroup's ownership, while the directory is not yet visible
        if (fsGroup !== undefined) await setTreeOwnership(tsDir, fsGroup, true);
        // (8) ..data_tmp -> the new directory (a stale one from an interrupted write goes first)
        await rm(newDataDirPath, { force: true });
        await symlink(tsDirName, newDataDirPath);
        // (9) the atomic swap
        await rename(newDataDirPath, dataDirPath);
      } catch (error) {
        await rm(newDataDirPath, { force: true });
        await rm(tsDir, { recursive: true, force: true });
        throw error;
      }
    }

    // (10) links for new names, (11) old names removed, (12) the old data removed
    const linked = await createUserVisibleFiles(clean, dir);
    await removeUserVisiblePaths(toRemove, dir);
    if (oldTsDir !== '') await rm(oldTsPath, { recursive: true, force: true });
    return { ok: true, changed: shouldWrite || linked };
  } catch (error) {
    return { ok: false, message: `writing ${dir}: ${errorMessage(error)}` };
  }
}
