/**
 * Copying images from one Docker engine to another, as `docker save | docker load` does, for
 * the further nodes of a cluster on one machine (`dockerlet cluster load-image`, and the pause
 * image each further node needs): with no registry between them, a node's engine has only the
 * images it was given. The archive streams from one engine to the other, never whole in memory.
 */
import { DockerletError } from '../../../common/api/errors.js';
import { dockerMessage, isDockerNotFound } from './docker-errors.js';
import { dockerClient } from './dockerode.js';

/** Whether the engine at `socketPath` has `image`. */
export async function hasImage(socketPath: string, image: string): Promise<boolean> {
  try {
    await dockerClient(socketPath).getImage(image).inspect();
    return true;
  } catch (err) {
    if (isDockerNotFound(err)) return false;
    throw err;
  }
}

/** Copies `images` (names or IDs) from the engine at `from` to the one at `to`; rejects naming an image `from` does not have. */
export async function copyImages(from: string, to: string, images: readonly string[]): Promise<void> {
  for (const image of images) {
    if (!(await hasImage(from, image))) {
      throw new DockerletError('DKL_ERR_NOT_FOUND', `image ${image}: not in the Docker engine at ${from}; build or pull it there first`);
    }
  }
  for (const image of images) await copyImage(from, to, image);
}

async function copyImage(from: string, to: string, image: string): Promise<void> {
  const target = dockerClient(to);
  let saved: NodeJS.ReadableStream | undefined;
  try {
    saved = (await dockerClient(from).getImage(image).get()) as NodeJS.ReadableStream;
    const saveFailed = new Promise<never>((_, reject) => saved!.once('error', reject));
    const progress = (await Promise.race([target.loadImage(saved as never, { quiet: true }), saveFailed])) as NodeJS.ReadableStream;
    // The engine answers with JSON lines: a failed load is one of them (an error), not a status.
    await Promise.race([
      new Promise<void>((resolve, reject) =>
        target.modem.followProgress(progress, (err: Error | null, output: Array<{ error?: string }>) => {
          const failed = output?.find((line) => line.error);
          if (err || failed) reject(err ?? new Error(failed?.error));
          else resolve();
        }),
      ),
      saveFailed,
    ]);
  } catch (err) {
    // The engine the archive came from stops sending it.
    (saved as { destroy?: () => void } | undefined)?.destroy?.();
    throw new DockerletError('DKL_ERR_RUNTIME', `loading ${image} into the Docker engine at ${to}: ${dockerMessage(err)}`);
  }
}
