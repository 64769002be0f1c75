/**
 * Image garbage collection on an engine of the test's own, whose data root is a small tmpfs the
 * test fills at will: the shared engine's images are every test's, and its disk the host's.
 */
import { statfs, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { parseIpv4Cidr } from '../../common/util/ipv4.js';
import { busyboxPod, isReady, startAgent, type AgentHarness } from '../helpers/agent-harness.js';
import { BusyboxImage, PauseImage } from '../helpers/docker.js';
import { makeBlobImage, startPrivateDocker } from '../helpers/private-docker.js';
import { waitFor } from '../helpers/wait-for.js';

const MiB = 1024 * 1024;
const DataFsMiB = 256;

async function usedBytes(path: string): Promise<number> {
  const fs = await statfs(path);
  return (fs.blocks - fs.bfree) * fs.bsize;
}

/** Waits until the agent has noted `imageId` in use: the image's last use is then on record. */
async function notedInUse(agent: AgentHarness, imageId: string): Promise<void> {
  await waitFor(`${imageId} noted in use`, () => agent.log.lines.some((l) => l.msg === 'noted the images and those in use' && (l['inUse'] as string[]).includes(imageId)));
}

test('over the high threshold, unused images go least recently used first; the in-use and pause images, and the base others are built on, stay; with nothing left to remove, FreeDiskSpaceFailed', async () => {
  const engine = await startPrivateDocker({ bridgeAddress: '10.252.1.1/24', dataFsMiB: DataFsMiB });
  const [a, b, c] = [await makeBlobImage(engine.client, 'dockerlet.local/gc-a'), await makeBlobImage(engine.client, 'dockerlet.local/gc-b'), await makeBlobImage(engine.client, 'dockerlet.local/gc-c')];
  const capacity = DataFsMiB * MiB;
  // The low threshold a few percent above today's use, the high one a percent above that.
  const low = Math.ceil(((await usedBytes(engine.dataFs)) * 100) / capacity) + 3;
  const agent = await startAgent({
    manifests: { 'a.yaml': busyboxPod('a', 'exec sleep 3600').replace(BusyboxImage, 'dockerlet.local/gc-a:1') },
    options: {
      containerRuntimeEndpoint: `unix://${engine.socketPath}`,
      podNetworkName: `dkl-gc-${process.pid % 10_000}`,
      podBridgeName: `dkl-gc-${process.pid % 10_000}`,
      podCIDR: parseIpv4Cidr('10.251.1.0/24')!,
      imageGC: { highThresholdPercent: low + 1, lowThresholdPercent: low, minimumAgeMs: 0, maximumAgeMs: 0, periodMs: 300 },
    },
  });
  const gone = (image: string): Promise<unknown> =>
    waitFor(`no container of ${image}`, async () => !(await engine.client.listContainers({ all: true })).some((container) => container.ImageID === image));

  // a runs and goes, then b: a was used longer ago.
  await agent.waitForPod('a', 'Ready', isReady);
  await notedInUse(agent, a);
  await agent.removeManifest('a.yaml');
  await gone(a);
  await agent.writeManifest('b.yaml', busyboxPod('b', 'exec sleep 3600').replace(BusyboxImage, 'dockerlet.local/gc-b:1'));
  await agent.waitForPod('b', 'Ready', isReady);
  await notedInUse(agent, b);
  await agent.removeManifest('b.yaml');
  await gone(b);
  await agent.writeManifest('c.yaml', busyboxPod('c', 'exec sleep 3600').replace(BusyboxImage, 'dockerlet.local/gc-c:1'));
  await agent.waitForPod('c', 'Ready', isReady);

  const removed = (): string[] => agent.log.events('ImageGarbageCollected').map((l) => /^Removed unused image (\S+) /.exec(l.msg)![1]!);
  /** Fills the file system to a little over the high threshold: about 5 MiB to free, less than any one of a, b and c. */
  let fillers = 0;
  const fillPastHigh = async (extraBytes = 3 * MiB): Promise<void> => {
    const target = (capacity * (low + 1)) / 100 + extraBytes;
    await writeFile(join(engine.dataFs, `filler-${++fillers}`), Buffer.alloc(Math.max(0, Math.ceil(target - (await usedBytes(engine.dataFs)))), 1));
  };

  await fillPastHigh();
  // Never used goes first (busybox frees little: its layers are c's too), then the least recently used, a: enough.
  // busybox, never used, would go first, but c is built on it: then a, the least recently used, is enough.
  await waitFor('a removed', () => removed().length === 1);
  expect(removed()).toEqual(['dockerlet.local/gc-a:1']);
  await fillPastHigh();
  await waitFor('b removed', () => removed().length === 2);
  expect(removed()[1]).toBe('dockerlet.local/gc-b:1');

  await fillPastHigh(40 * MiB);
  const failed = await waitFor('FreeDiskSpaceFailed', () => agent.log.events('FreeDiskSpaceFailed')[0]);
  expect(failed.msg).toMatch(/^Failed to garbage collect required amount of images\. Attempted to free \d+ bytes, but only found 0 bytes eligible to free\.$/);
  const left = (await engine.client.listImages()).flatMap((image) => image.RepoTags ?? []).sort();
  expect(left).toEqual([BusyboxImage, 'dockerlet.local/gc-c:1', PauseImage]);
  expect((await engine.client.listImages()).map((image) => image.Id)).toContain(c);
});
