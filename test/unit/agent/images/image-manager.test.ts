import { describe, expect, test } from 'vitest';
import { LogEventRecorder } from '../../../../agent/events/recorder.js';
import { ImageManager } from '../../../../agent/images/image-manager.js';
import type { Secret } from '../../../../common/api/types.js';
import { Backoff } from '../../../../common/util/backoff.js';
import { memoryLogger } from '../../../helpers/memory-logger.js';
import { waitFor } from '../../../helpers/wait-for.js';
import type { ContainerRuntime } from '../../../../agent/runtime/runtime.js';
import { ctr } from '../../fixtures.js';

/** A runtime without the image, whose registry takes only the password `accepted`; the users of its pulls, in order. */
function registryRuntime(accepted: string): { runtime: ContainerRuntime; pulls: Array<string | undefined> } {
  const pulls: Array<string | undefined> = [];
  const runtime: Pick<ContainerRuntime, 'imageStatus' | 'pullImage'> = {
    imageStatus: async () => undefined,
    pullImage: async (_image, auth) => {
      pulls.push(auth?.username);
      if (auth?.password === accepted) return { id: 'sha256:1', ref: 'docker-pullable://r/app@sha256:1', user: '' };
      throw new Error(`${auth?.username ?? 'anonymous'}: unauthorized`);
    },
  };
  return { runtime: runtime as ContainerRuntime, pulls };
}

function manager(runtime: ContainerRuntime) {
  const clock = { now: () => 0 };
  const log = memoryLogger();
  const images = new ImageManager({ runtime, backoff: new Backoff({ initialMs: 10_000, maxMs: 300_000, clock, monotonic: clock }), recorder: new LogEventRecorder(log.logger), clock });
  return { images, log };
}

const object = { kind: 'Pod' as const, name: 'app', namespace: 'default', uid: 'uid' };
/** One pull Secret per user, for the registry r.example.com, in that order. */
const pullSecrets = (...users: string[]): Secret[] =>
  users.map((user) => ({
    metadata: { name: user, namespace: 'default' },
    type: 'kubernetes.io/dockerconfigjson',
    data: { '.dockerconfigjson': Buffer.from(JSON.stringify({ auths: { 'r.example.com': { username: user, password: `${user}-pw` } } })).toString('base64') },
  }));

describe('ImageManager with registry credentials', () => {
  test('each credential in turn until a pull succeeds', async () => {
    const { runtime, pulls } = registryRuntime('good-pw');
    const { images } = manager(runtime);
    const result = await images.ensureImage('uid', ctr('c', { image: 'r.example.com/app:1', imagePullPolicy: 'Always' }), object, pullSecrets('stale', 'good', 'never'));
    expect(result).toEqual({ ok: true, image: { id: 'sha256:1', ref: 'docker-pullable://r/app@sha256:1', user: '' } });
    expect(pulls).toEqual(['stale', 'good']);
  });

  test('a pull Secret that is not JSON fails the pull, naming it', async () => {
    const { runtime, pulls } = registryRuntime('x');
    const { images } = manager(runtime);
    const broken: Secret = { metadata: { name: 'broken', namespace: 'default' }, type: 'kubernetes.io/dockerconfigjson', data: { '.dockerconfigjson': Buffer.from('{nope').toString('base64') } };
    const result = await images.ensureImage('uid', ctr('c', { image: 'r.example.com/app:1', imagePullPolicy: 'Always' }), object, [broken]);
    expect(result).toMatchObject({ ok: false, reason: 'ErrImagePull', message: expect.stringMatching(/^Failed to pull image "r\.example\.com\/app:1": image pull Secret default\/broken: data\[\.dockerconfigjson\]: /) });
    expect(pulls).toEqual([]);
  });

  test('when none works, the failures are reported together; no credentials pulls anonymously', async () => {
    const { runtime, pulls } = registryRuntime('other');
    const { images, log } = manager(runtime);
    const result = await images.ensureImage('uid', ctr('c', { image: 'r.example.com/app:1', imagePullPolicy: 'Always' }), object, pullSecrets('a', 'b'));
    expect(result).toMatchObject({ ok: false, reason: 'ErrImagePull', message: 'Failed to pull image "r.example.com/app:1": [a: unauthorized, b: unauthorized]' });
    expect(log.events('Failed')[0]?.msg).toBe('Failed to pull image "r.example.com/app:1": [a: unauthorized, b: unauthorized]');
    await images.ensureImage('uid2', ctr('c', { image: 'r.example.com/app:1', imagePullPolicy: 'Always' }), object);
    expect(pulls).toEqual(['a', 'b', undefined]);
  });
});

/** A registry whose pulls the test finishes by hand; each pull's image and signal, in order. */
function heldRuntime(): { runtime: ContainerRuntime; pulls: Array<{ image: string; signal: AbortSignal | undefined; finish(): void }> } {
  const pulls: Array<{ image: string; signal: AbortSignal | undefined; finish(): void }> = [];
  const runtime: Pick<ContainerRuntime, 'imageStatus' | 'pullImage'> = {
    imageStatus: async () => undefined,
    pullImage: (image, _auth, signal) =>
      new Promise((resolve, reject) => {
        signal?.addEventListener('abort', () => reject(new Error('the pull was cancelled')));
        pulls.push({ image, signal, finish: () => resolve({ id: `sha256:${image}`, ref: image, user: '' }) });
      }),
  };
  return { runtime: runtime as ContainerRuntime, pulls };
}

const always = (image: string) => ctr('c', { image, imagePullPolicy: 'Always' });

describe('ImageManager: pulls side by side', () => {
  test('different images pull at once, three at a time; the fourth starts when one ends', async () => {
    const { runtime, pulls } = heldRuntime();
    const { images } = manager(runtime);
    const results = ['a', 'b', 'c', 'd'].map((name) => images.ensureImage(`uid-${name}`, always(`r.example.com/${name}:1`), object));
    await waitFor('three pulls under way', () => pulls.length === 3);
    expect(pulls.map((p) => p.image)).toEqual(['r.example.com/a:1', 'r.example.com/b:1', 'r.example.com/c:1']);
    pulls[1]!.finish();
    await waitFor('the fourth pull', () => pulls.length === 4);
    for (const pull of pulls) pull.finish();
    expect((await Promise.all(results)).map((r) => r.ok)).toEqual([true, true, true, true]);
  });

  test('pods that want one image share its pull', async () => {
    const { runtime, pulls } = heldRuntime();
    const { images } = manager(runtime);
    const first = images.ensureImage('uid-1', always('r.example.com/app:1'), object);
    const second = images.ensureImage('uid-2', always('r.example.com/app:1'), object);
    await waitFor('the pull', () => pulls.length === 1);
    pulls[0]!.finish();
    expect([(await first).ok, (await second).ok, pulls.length]).toEqual([true, true, 1]);
  });

  test('a pod being deleted stops waiting at once; the pull goes on for another pod, and is cancelled once nobody waits', async () => {
    const { runtime, pulls } = heldRuntime();
    const { images } = manager(runtime);
    const leaving = new AbortController();
    const staying = new AbortController();
    const first = images.ensureImage('uid-1', always('r.example.com/app:1'), object, [], leaving.signal);
    const second = images.ensureImage('uid-2', always('r.example.com/app:1'), object, [], staying.signal);
    await waitFor('the pull', () => pulls.length === 1);
    leaving.abort();
    expect(await first).toEqual({ ok: false, reason: 'ErrImagePull', message: 'pull of "r.example.com/app:1" abandoned: the pod is being deleted' });
    expect(pulls[0]!.signal?.aborted).toBe(false);
    staying.abort();
    await second;
    expect(pulls[0]!.signal?.aborted).toBe(true);
  });

  test('a pull abandoned while it waited for a slot never starts, and its slot goes to the next in line', async () => {
    const { runtime, pulls } = heldRuntime();
    const { images, log } = manager(runtime);
    const busy = ['a', 'b', 'c'].map((name) => images.ensureImage(`uid-${name}`, always(`r.example.com/${name}:1`), object));
    await waitFor('three pulls under way', () => pulls.length === 3);
    const leaving = new AbortController();
    const queued = images.ensureImage('uid-d', always('r.example.com/d:1'), object, [], leaving.signal);
    const next = images.ensureImage('uid-e', always('r.example.com/e:1'), object);
    await waitFor('both asked for', () => log.lines.filter((line) => String(line.msg).startsWith('Pulling image')).length === 5);
    // The Pulling event comes a microtask before the pull joins the queue: let it get there.
    await new Promise((resolve) => setImmediate(resolve));
    leaving.abort();
    expect((await queued).ok).toBe(false);
    pulls[0]!.finish();
    await waitFor('the next pull', () => pulls.length === 4);
    expect(pulls.map((p) => p.image)).toEqual(['r.example.com/a:1', 'r.example.com/b:1', 'r.example.com/c:1', 'r.example.com/e:1']);
    for (const pull of pulls) pull.finish();
    expect((await Promise.all([...busy, next])).map((r) => r.ok)).toEqual([true, true, true, true]);
  });

  test('an abandoned pull leaves no back-off: the next pod pulls at once', async () => {
    const { runtime, pulls } = heldRuntime();
    const { images } = manager(runtime);
    const leaving = new AbortController();
    const abandoned = images.ensureImage('uid-1', always('r.example.com/app:1'), object, [], leaving.signal);
    await waitFor('the pull', () => pulls.length === 1);
    leaving.abort();
    await abandoned;
    const again = images.ensureImage('uid-1', always('r.example.com/app:1'), object);
    await waitFor('a new pull', () => pulls.length === 2);
    pulls[1]!.finish();
    expect((await again).ok).toBe(true);
  });
});
