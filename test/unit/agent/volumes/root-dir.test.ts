import { describe, expect, test } from 'vitest';
import { isWithin, RootDir } from '../../../../agent/volumes/root-dir.js';

const root = new RootDir('/var/lib/dockerlet');

describe('RootDir', () => {
  test("lays pods out as the kubelet's root dir", () => {
    expect(root.podDir('uid-1')).toBe('/var/lib/dockerlet/pods/uid-1');
    expect(root.volumeDir('uid-1', 'empty-dir', 'data')).toBe('/var/lib/dockerlet/pods/uid-1/volumes/kubernetes.io~empty-dir/data');
    expect(root.terminationMessagePath('uid-1', 'main', 3)).toBe('/var/lib/dockerlet/pods/uid-1/containers/main/3');
  });

  test.each([
    ['a pod UID', () => root.podDir('../../etc'), 'pod UID "../../etc" cannot name a directory under the root dir'],
    ['a pod UID of ..', () => root.etcHostsPath('..'), 'pod UID ".." cannot name a directory under the root dir'],
    ['a container name', () => root.containerDir('uid-1', 'a/b'), 'container name "a/b" cannot name a directory under the root dir'],
    ['a volume name', () => root.volumeDir('uid-1', 'secret', '..'), 'volume name ".." cannot name a directory under the root dir'],
  ])('refuses %s that would lead out of its place', (_what, make, message) => {
    expect(make).toThrow(message);
  });
});

describe('isWithin', () => {
  test('a path is within its base and below it by whole elements, never beside it', () => {
    expect([isWithin('/data', '/data'), isWithin('/data', '/data/x/y'), isWithin('/', '/anything')]).toEqual([true, true, true]);
    expect([isWithin('/data', '/database'), isWithin('/data', '/'), isWithin('/data/x', '/data')]).toEqual([false, false, false]);
  });
});
