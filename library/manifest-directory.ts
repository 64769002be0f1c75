/**
 * A test node's manifest directory, written by apply() and delete(): one file per object, named
 * for its kind, namespace and name, written aside and renamed into place (the agent skips names
 * starting with "."), so the agent never reads half a file. Each call returns once the agent has
 * read the directory as it now is: the objects written are in its next snapshot, as it reads
 * them, and the objects removed are not.
 */
import { readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { DockerletError } from '../common/api/errors.js';
import type { PodSource } from '../common/api/well-known.js';
import { emptyManifestObjects, readManifest, type ManifestObjects } from '../agent/config/read-manifest.js';
import type { InputObject } from './manifest-inputs.js';

/** How long the agent may take to read a change (its file watcher reacts at once; its rescan runs every second). */
const ReadWaitMs = 30_000;

type Kinds = keyof ManifestObjects;

/** An object as the agent holds it, by kind: compared whole, so an update counts only once read. */
interface Expected {
  kind: Kinds;
  json: string;
}

export class ManifestDirectory {
  readonly #dir: string;
  readonly #nodeName: string;
  #latest: ManifestObjects = emptyManifestObjects();
  readonly #waiters = new Set<() => void>();
  readonly #signal: AbortSignal;

  /** `signal` aborts every wait (the node stopped). */
  constructor(dir: string, nodeName: string, signal: AbortSignal) {
    this.#dir = dir;
    this.#nodeName = nodeName;
    this.#signal = signal;
  }

  /** Feed it the agent's snapshots (Kubelet.onManifestObjects). */
  readonly onSnapshot = (source: PodSource, objects: ManifestObjects): void => {
    if (source !== 'file') return;
    this.#latest = objects;
    for (const waiter of this.#waiters) waiter();
  };

  /** Writes each object's file; resolves once the agent has read them all. */
  async write(objects: readonly InputObject[]): Promise<void> {
    const expected = emptyManifestObjects();
    for (const object of objects) {
      const path = join(this.#dir, object.fileName);
      const draft = join(this.#dir, `.${object.fileName}.${randomBytes(4).toString('hex')}`);
      await writeFile(draft, object.text, { mode: 0o640 });
      await rename(draft, path);
      merge(expected, this.#read(object.text, path));
    }
    await this.#until(`the agent read ${describe(objects)}`, () => everyHeld(expected, this.#latest));
  }

  /** Removes each object's file (an object never applied is skipped); resolves once the agent no longer holds them, with the UIDs its pods had. */
  async remove(objects: readonly InputObject[]): Promise<string[]> {
    const removed = emptyManifestObjects();
    for (const object of objects) {
      const path = join(this.#dir, object.fileName);
      const text = await readFile(path, 'utf8').catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return undefined;
        throw err;
      });
      if (text === undefined) continue;
      await unlink(path);
      merge(removed, this.#read(text, path));
    }
    await this.#until(`the agent dropped ${describe(objects)}`, () => noneHeld(removed, this.#latest));
    return removed.pods.map((pod) => pod.metadata.uid);
  }

  #read(text: string, path: string): ManifestObjects {
    const read = readManifest(text, { source: 'file', location: path }, this.#nodeName);
    // The inputs were validated before: a file that no longer reads is this directory's fault.
    if (!read.ok) throw new DockerletError('DKL_ERR_RUNTIME', `reading back ${path}: ${read.error}`);
    return read.objects;
  }

  #until(what: string, done: () => boolean): Promise<void> {
    if (done()) return Promise.resolve();
    if (this.#signal.aborted) return Promise.reject(this.#signal.reason);
    return new Promise((resolve, reject) => {
      const settle = (outcome: () => void): void => {
        clearTimeout(timer);
        this.#waiters.delete(check);
        this.#signal.removeEventListener('abort', aborted);
        outcome();
      };
      const timer = setTimeout(() => settle(() => reject(new DockerletError('DKL_ERR_WAIT_TIMEOUT', `timed out after ${ReadWaitMs / 1000} s waiting until ${what}`))), ReadWaitMs);
      const aborted = (): void => settle(() => reject(this.#signal.reason));
      const check = (): void => {
        if (done()) settle(resolve);
      };
      this.#signal.addEventListener('abort', aborted, { once: true });
      this.#waiters.add(check);
    });
  }
}

function merge(into: ManifestObjects, from: ManifestObjects): void {
  for (const kind of Object.keys(into) as Kinds[]) (into[kind] as unknown[]).push(...from[kind]);
}

function expectedOf(objects: ManifestObjects): Expected[] {
  return (Object.keys(objects) as Kinds[]).flatMap((kind) => objects[kind].map((object) => ({ kind, json: JSON.stringify(object) })));
}

function holds(snapshot: ManifestObjects, { kind, json }: Expected): boolean {
  return (snapshot[kind] as unknown[]).some((object) => JSON.stringify(object) === json);
}

const everyHeld = (expected: ManifestObjects, snapshot: ManifestObjects): boolean => expectedOf(expected).every((object) => holds(snapshot, object));
const noneHeld = (removed: ManifestObjects, snapshot: ManifestObjects): boolean => !expectedOf(removed).some((object) => holds(snapshot, object));

function describe(objects: readonly InputObject[]): string {
  const names = objects.map((object) => `${object.kind} ${object.namespace ? `${object.namespace}/` : ''}${object.name}`);
  return names.length > 3 ? `${names.slice(0, 3).join(', ')} and ${names.length - 3} more` : names.join(', ');
}
