/**
 * The file source (pkg/kubelet/config/file.go): static pod manifests in one directory (or one
 * file). chokidar reports changes within milliseconds; a full rescan every fileCheckFrequency
 * catches anything a watch can miss. Files whose names start with "." are ignored, as are
 * subdirectories.
 *
 * A file is the unit of change: each is read, decoded and validated on its own. A file that
 * fails keeps its last good pods (a typo must not kill a running pod) and its error is logged
 * once per distinct content. A deleted file's pods are removed.
 *
 * As upstream, a watch event is acted on at once: the files changed in one turn of the event
 * loop are read together and reported in one snapshot. A file that fails to decode after an
 * event may still be being written (editors write in steps), so it is read again once it has
 * been quiet for a moment, and only then reported; a file that decodes is taken as it is.
 */
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { open, readdir, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import chokidar, { type FSWatcher } from 'chokidar';
import type { Logger } from 'pino';
import { errorMessage } from '../../../common/api/errors.js';
import { namespacedName, podFullName } from '../../../common/api/types.js';
import { MaxManifestBytes, readManifestText } from '../manifest.js';
import { emptyManifestObjects, readManifest, type ManifestObjects } from '../read-manifest.js';
import type { PodSourceRunner, SnapshotListener } from './source.js';

export interface FileSourceOptions {
  path: string;
  nodeName: string;
  /** fileCheckFrequency, in ms. */
  checkFrequencyMs: number;
  logger: Logger;
  onSnapshot: SnapshotListener;
}

interface FileState {
  contentHash: string;
  objects: ManifestObjects;
  /** The file's identity, size and times when it was last read and decoded: a rescan that finds the same skips reading it. */
  stamp?: string;
}

/** How long a file that failed to decode must stay unchanged before its error is reported. */
const SettleMs = 100;

type ReadResult = 'changed' | 'unchanged' | 'invalid';

export class FileSource implements PodSourceRunner {
  readonly name = 'file' as const;
  readonly #options: FileSourceOptions;
  readonly #log: Logger;
  readonly #files = new Map<string, FileState>();
  /** Paths with watch events not yet handled: read together at the next turn of the event loop. */
  readonly #dirty = new Set<string>();
  #flushScheduled = false;
  /** Files that failed to decode after an event, to be read again once quiet. */
  readonly #settling = new Map<string, NodeJS.Timeout>();
  #watcher: FSWatcher | undefined;
  #rescanTimer: NodeJS.Timeout | undefined;
  #missingLogged = false;
  /** "file|pod" pairs already reported as duplicates, so a rescan does not repeat them. */
  readonly #duplicatesLogged = new Set<string>();
  #stopped = false;
  /** Reads are serialized so that snapshots go out in the order the disk changed. */
  #queue: Promise<void> = Promise.resolve();
  readonly #stopping = new AbortController();

  constructor(options: FileSourceOptions) {
    this.#options = options;
    this.#log = options.logger.child({ component: 'file-source', path: options.path });
  }

  async start(): Promise<void> {
    await this.#enqueue(() => this.#rescan());
    this.#rescanTimer = setInterval(() => void this.#enqueue(() => this.#rescan()), this.#options.checkFrequencyMs);
    this.#rescanTimer.unref();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#stopping.abort();
    clearInterval(this.#rescanTimer);
    for (const timer of this.#settling.values()) clearTimeout(timer);
    this.#settling.clear();
    this.#dirty.clear();
    await this.#watcher?.close();
    this.#watcher = undefined;
    await this.#queue;
  }

  #enqueue(task: () => Promise<void>): Promise<void> {
    this.#queue = this.#queue.then(task).catch((err: unknown) => this.#log.error({ err }, 'reading manifests failed'));
    return this.#queue;
  }

  /** Lists the path, re-reads what changed, forgets what is gone, and reports the whole set. */
  async #rescan(): Promise<void> {
    if (this.#stopped) return;
    const listed = await this.#listManifests();
    if (listed === undefined) {
      if (!this.#missingLogged) this.#log.warn('static pod path does not exist; no static pods until it does');
      this.#missingLogged = true;
      this.#files.clear();
      this.#emit(false);
      return;
    }
    this.#missingLogged = false;
    await this.#ensureWatcher(listed.isDirectory);
    if (this.#stopped) return;
    for (const file of this.#files.keys()) {
      if (!listed.files.includes(file)) this.#files.delete(file);
    }
    for (const file of listed.files) await this.#readFile(file, { reportErrors: true, skipUnchanged: true });
    this.#log.debug({ files: listed.files.length }, 'rescanned the static pod path');
    this.#emit();
  }

  async #listManifests(): Promise<{ isDirectory: boolean; files: string[] } | undefined> {
    const path = this.#options.path;
    const info = await stat(path).catch(() => undefined);
    if (!info) return undefined;
    if (!info.isDirectory()) return { isDirectory: false, files: [path] };
    const entries = await readdir(path, { withFileTypes: true });
    const files = entries
      .filter((entry) => !entry.name.startsWith('.') && (entry.isFile() || entry.isSymbolicLink()))
      .map((entry) => join(path, entry.name))
      .sort();
    return { isDirectory: true, files };
  }

  /**
   * Reads one file. Content that fails to decode is reported (and remembered, so it is reported
   * once) only with `reportErrors`; without, it is left for a later read and 'invalid' returned.
   * With `skipUnchanged` (the periodic rescan), a file whose inode, size and modification and
   * change times (in ns) are those it had when last decoded is not read again: a rescan of many
   * manifests, none changed, then costs a stat each.
   */
  async #readFile(file: string, options: { reportErrors: boolean; skipUnchanged?: boolean }): Promise<ReadResult> {
    let text: string;
    let stamp: string;
    try {
      const info = await stat(file, { bigint: true });
      if (!info.isFile()) return 'unchanged';
      stamp = `${info.dev}:${info.ino}:${info.size}:${info.mtimeNs}:${info.ctimeNs}`;
      if (options.skipUnchanged && this.#files.get(file)?.stamp === stamp) return 'unchanged';
      const read = await readFileBounded(file);
      if (read === undefined) return this.#invalid(file, `the file is ${Math.max(Number(info.size), MaxManifestBytes + 1)} bytes, over the ${MaxManifestBytes} a manifest may have`, undefined, options);
      text = read;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return this.#files.delete(file) ? 'changed' : 'unchanged';
      // A symlink loop, a name too long, a file it may not read: this file alone is skipped.
      return this.#invalid(file, `cannot read it: ${errorMessage(err)}`, undefined, options);
    }
    // A digest of the content, kept in memory only to tell a change from a rewrite.
    const contentHash = createHash('sha256').update(text).digest('hex');
    const known = this.#files.get(file);
    this.#log.debug({ file, changed: known?.contentHash !== contentHash }, 'read static pod manifest');
    if (known?.contentHash === contentHash) {
      // Decoded before (or refused before, and then not stamped: read again at each rescan).
      if (known.stamp !== undefined) known.stamp = stamp;
      return 'unchanged';
    }
    const content = readManifest(text, { source: 'file', location: file }, this.#options.nodeName);
    if (!content.ok) return this.#invalid(file, content.error, contentHash, options);
    this.#files.set(file, { contentHash, objects: content.objects, stamp });
    return 'changed';
  }

  /**
   * A file that cannot be used: reported (once for the same content) only with `reportErrors`,
   * its pods kept as they were; without, left for a later read and 'invalid' returned.
   */
  #invalid(file: string, error: string, contentHash: string | undefined, options: { reportErrors: boolean }): ReadResult {
    if (!options.reportErrors) return 'invalid';
    const known = this.#files.get(file);
    const reported = contentHash ?? `error:${error}`;
    if (known?.contentHash === reported) return 'unchanged';
    const kept = known?.objects.pods.length ?? 0;
    const message = error.startsWith(file) ? error : `${file}: ${error}`;
    this.#log.error({ file, keptPods: kept }, `invalid static pod manifest, skipped: ${message}${kept > 0 ? ' (its pods keep running as they were)' : ''}`);
    this.#files.set(file, { contentHash: reported, objects: known?.objects ?? emptyManifestObjects() });
    return 'unchanged';
  }

  /** Starts watching the path; resolves once the watch is live, so no later write goes unseen. */
  async #ensureWatcher(isDirectory: boolean): Promise<void> {
    if (this.#watcher || this.#stopped) return;
    this.#watcher = chokidar.watch(this.#options.path, {
      ignoreInitial: true,
      depth: 0,
      ignored: (path) => isDirectory && path !== this.#options.path && basename(path).startsWith('.'),
    });
    const changed = (path: string): void => this.#schedule(path);
    this.#watcher.on('add', changed).on('change', changed).on('unlink', changed);
    this.#watcher.on('unlinkDir', (path) => {
      if (path === this.#options.path) this.#schedule(path);
    });
    this.#watcher.on('error', (err) => this.#log.warn({ err }, 'watching the static pod path failed; the periodic rescan goes on'));
    const watcher = this.#watcher;
    // A watcher closed before it is ready (stop() during start) never says it is: stop waiting then.
    await new Promise<void>((resolve) => {
      watcher.once('ready', resolve);
      this.#stopping.signal.addEventListener('abort', () => resolve(), { once: true });
    });
  }

  #schedule(path: string): void {
    clearTimeout(this.#settling.get(path));
    this.#settling.delete(path);
    this.#dirty.add(path);
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    setImmediate(() => {
      this.#flushScheduled = false;
      const paths = [...this.#dirty];
      this.#dirty.clear();
      void this.#enqueue(() => this.#readChanged(paths));
    });
  }

  /** Reads the files the watch reported, then reports the set once if any of them changed it. */
  async #readChanged(paths: readonly string[]): Promise<void> {
    if (this.#stopped) return;
    if (paths.includes(this.#options.path) && !(await stat(this.#options.path).catch(() => undefined))) {
      await this.#rescan();
      return;
    }
    let changed = false;
    for (const path of paths) {
      const result = await this.#readFile(path, { reportErrors: false });
      if (result === 'invalid') this.#settle(path);
      changed ||= result === 'changed';
    }
    if (changed) this.#emit();
  }

  /** Reads `path` again once it has had no event for SettleMs, reporting what is wrong with it then. */
  #settle(path: string): void {
    const timer = setTimeout(() => {
      this.#settling.delete(path);
      void this.#enqueue(async () => {
        if (this.#stopped) return;
        if ((await this.#readFile(path, { reportErrors: true })) === 'changed') this.#emit();
      });
    }, SettleMs);
    timer.unref();
    this.#settling.set(path, timer);
  }

  /** The set across files, in file order; an object declared twice keeps its first file's. */
  #emit(whole = true): void {
    if (this.#stopped) return;
    const seen = new Map<string, string>();
    const merged = emptyManifestObjects();
    const add = <T extends { metadata?: { name?: string; namespace?: string } }>(file: string, kind: string, id: string, object: T, into: T[]): void => {
      const first = seen.get(`${kind}/${id}`);
      if (first === undefined) {
        seen.set(`${kind}/${id}`, file);
        into.push(object);
        return;
      }
      const key = `${file}|${kind}/${id}`;
      if (!this.#duplicatesLogged.has(key)) this.#log.error({ file, object: `${kind}/${id}` }, `${kind} ${id} in ${file} is already declared in ${first}; ignoring it here`);
      this.#duplicatesLogged.add(key);
    };
    for (const [file, { objects }] of [...this.#files].sort(([a], [b]) => a.localeCompare(b))) {
      for (const pod of objects.pods) add(file, 'pod', podFullName(pod), pod, merged.pods);
      for (const configMap of objects.configMaps) add(file, 'configmap', namespacedName(configMap), configMap, merged.configMaps);
      for (const secret of objects.secrets) add(file, 'secret', namespacedName(secret), secret, merged.secrets);
      for (const service of objects.services) add(file, 'service', namespacedName(service), service, merged.services);
      for (const claim of objects.persistentVolumeClaims) add(file, 'persistentvolumeclaim', namespacedName(claim), claim, merged.persistentVolumeClaims);
      for (const volume of objects.persistentVolumes) add(file, 'persistentvolume', volume.metadata?.name ?? '', volume, merged.persistentVolumes);
      for (const storageClass of objects.storageClasses) add(file, 'storageclass', storageClass.metadata?.name ?? '', storageClass, merged.storageClasses);
    }
    this.#options.onSnapshot(merged, whole);
  }
}

/**
 * The file's text, reading at most MaxManifestBytes + 1 bytes whatever its size said (it may
 * grow meanwhile); undefined when it is longer. Opened without blocking, and read only if it is
 * still a regular file: one swapped for a FIFO since its stat would otherwise hang the source.
 */
async function readFileBounded(file: string): Promise<string | undefined> {
  const handle = await open(file, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    if (!(await handle.stat()).isFile()) throw new Error('it is no longer a regular file');
    return await readManifestText(handle.createReadStream({ start: 0, end: MaxManifestBytes, autoClose: false }));
  } finally {
    await handle.close();
  }
}
