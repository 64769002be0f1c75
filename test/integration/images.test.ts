/** imagePullPolicy with real pulls from a registry on loopback. */
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { busyboxPod, containerStatus, startAgent } from '../helpers/agent-harness.js';
import { BusyboxImage, docker } from '../helpers/docker.js';
import { startRegistry, type LocalRegistry } from '../helpers/registry.js';
import { waitFor } from '../helpers/wait-for.js';

let registry: LocalRegistry;
beforeAll(async () => {
  registry = await startRegistry();
});
afterAll(async () => {
  await registry?.stop();
});

const podWithImage = (name: string, image: string, policy?: string): string =>
  busyboxPod(name, 'exec sleep 3600').replace(
    'image: dockerlet.local/busybox:1.35',
    `image: ${image}${policy ? `\n      imagePullPolicy: ${policy}` : ''}`,
  );

/** A registry on loopback that answers the version check and then never answers again. */
async function stalledRegistry(): Promise<{ address: string; close(): Promise<void> }> {
  const server = createServer((request, response) => {
    if (request.url !== '/v2/') return;
    response.writeHead(200, { 'Content-Type': 'application/json', 'Docker-Distribution-API-Version': 'registry/2.0' });
    response.end('{}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe('image pulls', () => {
  test('a pull that makes no progress is cancelled after the progress deadline, and other pods start meanwhile', async () => {
    const stalled = await stalledRegistry();
    try {
      const agent = await startAgent({
        options: { imagePullProgressDeadlineMs: 2_000 },
        manifests: { 'stalled.yaml': podWithImage('stalled', `${stalled.address}/slow/app:1`), 'local.yaml': podWithImage('local', BusyboxImage, 'IfNotPresent') },
      });
      await agent.waitForPod('local', 'Running', (p) => p.status?.phase === 'Running');
      const failed = await waitFor('the cancelled pull', () => agent.log.events('Failed').find((e) => e.msg.includes(stalled.address)), { timeoutMs: 30_000 });
      expect(failed.msg).toBe(`Failed to pull image "${stalled.address}/slow/app:1": the pull made no progress for 2s; cancelled`);
    } finally {
      await stalled.close();
    }
  });

  test('Always pulls the image from the registry before starting the container', async () => {
    const image = await registry.push(BusyboxImage, 'pulled/busybox:always');
    const agent = await startAgent({ manifests: { 'pull.yaml': podWithImage('pull', image, 'Always') } });
    const pod = await agent.waitForPod('pull', 'Running', (p) => p.status?.phase === 'Running');
    const status = containerStatus(pod, 'main')!;
    expect(status.image).toBe(image);
    expect(status.imageID).toMatch(new RegExp(`^docker-pullable://${registry.address}/pulled/busybox@sha256:[0-9a-f]{64}$`));
    expect(agent.log.events('Pulling').map((e) => e.msg)).toContain(`Pulling image "${image}"`);
    expect(agent.log.events('Pulled').some((e) => e.msg.startsWith(`Successfully pulled image "${image}" in `))).toBe(true);
    await docker.getImage(image).remove({ force: true }).catch(() => undefined);
  });

  test('IfNotPresent uses the image on the machine without pulling', async () => {
    const agent = await startAgent({ manifests: { 'present.yaml': podWithImage('present', BusyboxImage, 'IfNotPresent') } });
    await agent.waitForPod('present', 'Running', (p) => p.status?.phase === 'Running');
    expect(agent.log.events('Pulling')).toEqual([]);
    expect(agent.log.events('Pulled').map((e) => e.msg)).toContain(`Container image "${BusyboxImage}" already present on machine`);
  });

  test('Never with the image absent: ErrImageNeverPull, and the pod stays Pending', async () => {
    const agent = await startAgent({ manifests: { 'never.yaml': podWithImage('never', 'dockerlet.local/absent:1.0', 'Never') } });
    const pod = await agent.waitForPod('never', 'ErrImageNeverPull', (p) => containerStatus(p, 'main')?.state?.waiting?.reason === 'ErrImageNeverPull');
    expect(containerStatus(pod, 'main')?.state?.waiting?.message).toBe('Container image "dockerlet.local/absent:1.0" is not present with pull policy of Never');
    expect(pod.status?.phase).toBe('Pending');
    expect(await agent.containers('main')).toEqual([]);
  });

  test('a failed pull gives ErrImagePull, then ImagePullBackOff while the back-off runs', async () => {
    const image = `${registry.address}/missing/image:1.0`;
    const agent = await startAgent();
    const reasons: string[] = [];
    agent.kubelet.statuses.onChange((_pod, status) => {
      const reason = status.containerStatuses?.[0]?.state?.waiting?.reason;
      if (reason && reason !== reasons.at(-1)) reasons.push(reason);
    });
    await agent.writeManifest('missing.yaml', podWithImage('missing', image));
    const backoff = await agent.waitForPod('missing', 'ImagePullBackOff', (p) => containerStatus(p, 'main')?.state?.waiting?.reason === 'ImagePullBackOff', {
      timeoutMs: 5_000,
    });
    expect(reasons).toEqual(['ContainerCreating', 'ErrImagePull', 'ImagePullBackOff']);
    expect(containerStatus(backoff, 'main')?.state?.waiting?.message).toBe(`Back-off pulling image "${image}"`);
    expect(backoff.status?.phase).toBe('Pending');
    // One pull so far: the back-off (10 s) holds the next one.
    expect(agent.log.events('Pulling')).toHaveLength(1);
    expect(agent.log.events('Failed').map((e) => e.msg)).toEqual([
      expect.stringContaining(`Failed to pull image "${image}": `),
      'Error: ErrImagePull',
    ]);
  });

  test('an invalid image name is InvalidImageName, with no pull attempted', async () => {
    const agent = await startAgent({ manifests: { 'invalid.yaml': podWithImage('invalid', 'Not/Valid:Name') } });
    const pod = await agent.waitForPod('invalid', 'InvalidImageName', (p) => containerStatus(p, 'main')?.state?.waiting?.reason === 'InvalidImageName');
    expect(containerStatus(pod, 'main')?.state?.waiting?.message).toContain('invalid reference format');
    expect(agent.log.events('Pulling')).toEqual([]);
  });
});

describe('a registry that wants a login: imagePullSecrets', () => {
  const login = { username: 'alice', password: 's3cret' };
  let privateRegistry: LocalRegistry;
  let image: string;
  beforeAll(async () => {
    privateRegistry = await startRegistry({ login });
    image = await privateRegistry.push(BusyboxImage, 'private/busybox:1');
  });
  afterAll(async () => {
    await privateRegistry?.stop();
  });

  const pullSecret = (name: string, password: string): string => `apiVersion: v1
kind: Secret
metadata:
  name: ${name}
type: kubernetes.io/dockerconfigjson
stringData:
  .dockerconfigjson: '${JSON.stringify({ auths: { [privateRegistry.address]: { auth: Buffer.from(`${login.username}:${password}`).toString('base64') } } })}'
`;
  const withPullSecrets = (name: string, secrets: string[]): string =>
    podWithImage(name, image, 'Always').replace('spec:\n', `spec:\n  imagePullSecrets: [${secrets.map((s) => `{name: ${s}}`).join(', ')}]\n`);

  test("the pod's Secret logs in; the matching credentials are tried in turn until one works", async () => {
    const agent = await startAgent({
      manifests: { 'secrets.yaml': `${pullSecret('stale', 'wrong')}---\n${pullSecret('regcred', login.password)}`, 'private.yaml': withPullSecrets('private', ['stale', 'regcred']) },
    });
    const pod = await agent.waitForPod('private', 'Running', (p) => p.status?.phase === 'Running');
    expect(containerStatus(pod, 'main')!.imageID).toMatch(new RegExp(`^docker-pullable://${privateRegistry.address}/private/busybox@sha256:`));
    expect(agent.log.events('Failed')).toEqual([]);
    // Two pulls: the stale login first (refused), then the good one.
    expect(agent.log.lines.filter((line) => line.msg === 'pulling image' && line['image'] === image)).toHaveLength(2);
    await docker.getImage(image).remove({ force: true }).catch(() => undefined);
  });

  test("a pod without pull Secrets (a static pod) logs in with the node's docker config in the root dir", async () => {
    const agent = await startAgent();
    const auth = Buffer.from(`${login.username}:${login.password}`).toString('base64');
    await writeFile(join(agent.rootDir, 'config.json'), JSON.stringify({ auths: { [privateRegistry.address]: { auth } } }));
    await agent.writeManifest('node-login.yaml', podWithImage('node-login', image, 'Always'));
    const pod = await agent.waitForPod('node-login', 'Running', (p) => p.status?.phase === 'Running');
    expect(containerStatus(pod, 'main')!.imageID).toMatch(new RegExp(`^docker-pullable://${privateRegistry.address}/private/busybox@sha256:`));
    await docker.getImage(image).remove({ force: true }).catch(() => undefined);
  });

  test('without credentials the pull is refused: ErrImagePull; a Secret that is not there is said so', async () => {
    const agent = await startAgent({ manifests: { 'anonymous.yaml': withPullSecrets('anonymous', ['absent']) } });
    const pod = await agent.waitForPod('anonymous', 'ErrImagePull or back-off', (p) => ['ErrImagePull', 'ImagePullBackOff'].includes(containerStatus(p, 'main')?.state?.waiting?.reason ?? ''));
    expect(pod.status?.phase).toBe('Pending');
    expect(agent.log.events('Failed')[0]?.msg).toMatch(new RegExp(`^Failed to pull image "${image}": .*no basic auth credentials`));
    expect(agent.log.events('FailedToRetrieveImagePullSecret')[0]?.msg).toBe('Unable to retrieve some image pull secrets (absent); attempting to pull the image may not succeed.');
  });
});
