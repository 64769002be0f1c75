import { pino } from 'pino';
import { beforeEach, describe, expect, test } from 'vitest';
import type { DefaultedPod } from '../../../../common/api/types.js';
import { ConfigSeenAnnotation } from '../../../../common/api/well-known.js';
import { PodConfig, type PodUpdate } from '../../../../agent/config/pod-config.js';
import { ctr, pod } from '../../fixtures.js';

let now = Date.parse('2024-05-01T10:00:00Z');
let config: PodConfig;
let updates: PodUpdate[];

/** What the listeners heard, as `OP source name...`. */
const heard = (): string[] => updates.map((u) => `${u.op} ${u.source} ${u.pods.map((p) => p.metadata.name).join(',')}`);

beforeEach(() => {
  now = Date.parse('2024-05-01T10:00:00Z');
  config = new PodConfig({ clock: { now: () => now }, logger: pino({ level: 'silent' }) });
  updates = [];
  config.onUpdate((update) => updates.push(update));
});

const web = pod({}, { name: 'web', uid: 'uid-web' });
const db = pod({}, { name: 'db', uid: 'uid-db' });

describe('PodConfig.set', () => {
  test('new pods are an ADD', () => {
    config.set('file', [web, db]);
    expect(heard()).toEqual(['ADD file web,db']);
  });

  test('an identical set emits nothing', () => {
    config.set('file', [web]);
    updates = [];
    config.set('file', [structuredClone(web)]);
    expect(heard()).toEqual([]);
  });

  test('a pod missing from the next set is a REMOVE', () => {
    config.set('file', [web, db]);
    updates = [];
    config.set('file', [web]);
    expect(heard()).toEqual(['REMOVE file db']);
  });

  test('a changed pod with the same UID is an UPDATE carrying the new spec', () => {
    config.set('file', [web]);
    updates = [];
    const changed = pod({ containers: [ctr('main', { image: 'dockerlet.local/busybox:1.36' })] }, { name: 'web', uid: 'uid-web' });
    config.set('file', [changed]);
    expect(heard()).toEqual(['UPDATE file web']);
    expect(updates[0]!.pods[0]!.spec.containers[0]!.image).toBe('dockerlet.local/busybox:1.36');
  });

  test('removals come before additions before updates, as the kubelet merges them', () => {
    config.set('file', [web, db]);
    updates = [];
    const changedWeb = pod({ terminationGracePeriodSeconds: 5 }, { name: 'web', uid: 'uid-web' });
    const cache = pod({}, { name: 'cache', uid: 'uid-cache' });
    config.set('file', [changedWeb, cache]);
    expect(heard()).toEqual(['REMOVE file db', 'ADD file cache', 'UPDATE file web']);
  });

  test('sources are diffed separately', () => {
    config.set('file', [web]);
    config.set('http', [db]);
    updates = [];
    config.set('http', []);
    expect(heard()).toEqual(['REMOVE http db']);
    expect(config.pods().map((p) => p.metadata.name)).toEqual(['web']);
  });

  test('an added pod carries config.seen, the time it was first seen (RFC 3339)', () => {
    config.set('file', [web]);
    expect(updates[0]!.pods[0]!.metadata.annotations?.[ConfigSeenAnnotation]).toBe('2024-05-01T10:00:00.000Z');
  });

  test('config.seen is kept across updates', () => {
    config.set('file', [web]);
    now += 60_000;
    config.set('file', [pod({ terminationGracePeriodSeconds: 5 }, { name: 'web', uid: 'uid-web' })]);
    expect(updates[1]!.op).toBe('UPDATE');
    expect(updates[1]!.pods[0]!.metadata.annotations?.[ConfigSeenAnnotation]).toBe('2024-05-01T10:00:00.000Z');
  });

  test('the pods handed in are not modified', () => {
    const input = structuredClone(web);
    config.set('file', [input]);
    expect(input).toEqual(web);
  });

  test('a full name declared in two sources keeps the first; the second is ignored', () => {
    const fromFile = pod({}, { name: 'web', uid: 'uid-file' });
    const fromHttp = pod({}, { name: 'web', uid: 'uid-http' });
    config.set('file', [fromFile]);
    config.set('http', [fromHttp, db]);
    expect(heard()).toEqual(['ADD file web', 'ADD http db']);
    expect(config.pod('uid-http')).toBeUndefined();
    expect(config.pod('uid-file')?.metadata.uid).toBe('uid-file');
  });

  test('the same full name in another namespace is another pod', () => {
    config.set('file', [web]);
    config.set('http', [pod({}, { name: 'web', namespace: 'tools', uid: 'uid-tools' })]);
    expect(heard()).toEqual(['ADD file web', 'ADD http web']);
  });

  test('a full name declared twice in one source keeps the first', () => {
    const second: DefaultedPod = pod({}, { name: 'web', uid: 'uid-second' });
    config.set('file', [web, second]);
    expect(heard()).toEqual(['ADD file web']);
    expect(config.pods().map((p) => p.metadata.uid)).toEqual(['uid-web']);
  });
});

describe('PodConfig queries', () => {
  test('seenAll is false until every source has reported, even an empty set', () => {
    expect(config.seenAll(['file', 'http'])).toBe(false);
    config.set('file', []);
    expect(config.seenAll(['file', 'http'])).toBe(false);
    config.set('http', []);
    expect(config.seenAll(['file', 'http'])).toBe(true);
  });

  test('seenAll over no sources is true', () => {
    expect(config.seenAll([])).toBe(true);
  });

  test('an empty set emits nothing', () => {
    config.set('file', []);
    expect(updates).toEqual([]);
  });

  test('pod(uid) finds a pod in any source, with its seen annotation', () => {
    config.set('http', [db]);
    expect(config.pod('uid-db')?.metadata.annotations?.[ConfigSeenAnnotation]).toBe('2024-05-01T10:00:00.000Z');
    expect(config.pod('nope')).toBeUndefined();
  });
});
