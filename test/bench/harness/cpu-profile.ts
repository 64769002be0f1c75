/**
 * Where a process's CPU time went, from a V8 .cpuprofile (node --cpu-prof): self time per place
 * (an npm package, a directory of this repository, node's internals, the garbage collector) and
 * time per function of this repository (its compiled file and line in dist/) counting what it
 * calls (so a costly node or library call is charged to the dockerlet code that made it), within
 * a window of the profile if given.
 */
import { readFile } from 'node:fs/promises';
import { relative, resolve } from 'node:path';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface CpuProfile {
  nodes: Array<{ id: number; callFrame: CallFrame; children?: number[] }>;
  /** Microseconds on the monotonic clock (process.hrtime's). */
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileShare {
  name: string;
  /** Share of the busy (not idle) sampled time, 0..1. */
  share: number;
  ms: number;
}

export interface ProfileSummary {
  /** Sampled time in the window, and how much of it was busy. */
  windowMs: number;
  busyMs: number;
  byPlace: ProfileShare[];
  /** This repository's functions, each with the time of everything it called. */
  byRepositoryFunction: ProfileShare[];
}

const Repository = resolve(import.meta.dirname, '../../..');

function repositoryPath(url: string): string | undefined {
  if (!url.startsWith('file://')) return undefined;
  const path = relative(Repository, url.slice('file://'.length));
  return path.startsWith('..') || path.includes('node_modules') ? undefined : path;
}

/** "npm:<package>", a repository directory such as "agent/pleg", "node", or one of V8's pseudo-frames. */
function place(frame: CallFrame): string {
  if (!frame.url) return frame.functionName.startsWith('(') ? frame.functionName : '(native)';
  if (frame.url.startsWith('node:')) return 'node';
  const modules = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(frame.url);
  if (modules) return `npm:${modules[1]}`;
  return repositoryPath(frame.url)?.replace(/^dist\//, '').split('/').slice(0, 2).join('/') ?? frame.url;
}

function top(totals: Map<string, number>, busyMs: number, count: number): ProfileShare[] {
  return [...totals]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([name, ms]) => ({ name, ms, share: busyMs > 0 ? ms / busyMs : 0 }));
}

/** `window`: [from, to] in µs of the monotonic clock (process.hrtime.bigint() / 1000n). */
export async function summarizeCpuProfile(path: string, options: { window?: [number, number]; count?: number } = {}): Promise<ProfileSummary> {
  const profile = JSON.parse(await readFile(path, 'utf8')) as CpuProfile;
  const count = options.count ?? 12;
  const frames = new Map(profile.nodes.map((node) => [node.id, node.callFrame]));
  const parents = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parents.set(child, node.id);
  const byPlace = new Map<string, number>();
  const byFunction = new Map<string, number>();
  let windowMs = 0;
  let busyMs = 0;
  let time = profile.startTime;
  for (const [i, id] of profile.samples.entries()) {
    time += profile.timeDeltas[i] ?? 0;
    if (options.window && (time < options.window[0] || time > options.window[1])) continue;
    const ms = (profile.timeDeltas[i] ?? 0) / 1000;
    windowMs += ms;
    const frame = frames.get(id)!;
    if (frame.functionName === '(idle)') continue;
    busyMs += ms;
    byPlace.set(place(frame), (byPlace.get(place(frame)) ?? 0) + ms);
    const charged = new Set<string>();
    for (let node: number | undefined = id; node !== undefined; node = parents.get(node)) {
      const caller = frames.get(node)!;
      const file = repositoryPath(caller.url);
      if (!file) continue;
      const name = `${caller.functionName || '(anonymous)'} ${file}:${caller.lineNumber + 1}`;
      if (charged.has(name)) continue;
      charged.add(name);
      byFunction.set(name, (byFunction.get(name) ?? 0) + ms);
    }
  }
  return { windowMs, busyMs, byPlace: top(byPlace, busyMs, count), byRepositoryFunction: top(byFunction, busyMs, count) };
}
