import { describe, expect, test } from 'vitest';
import { LogEventRecorder } from '../../../../agent/events/recorder.js';
import { ImageManager } from '../../../../agent/images/image-manager.js';
import type { Secret } from '../../../../common/api/types.js';
import { Backoff } from '../../../../common/util/backoff.js';
import { memoryLogger } from '../../../helpers/memory-logger.js';
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
  const images = new ImageManager({ runtime, backoff: new Backoff({ initialMs: 10_000, maxMs: 300_000, clock }), recorder: new LogEventRecorder(log.logger), clock });
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
