/** Before any test that needs Docker: the engine answers and the local images exist (npm test's pretest sets them up). */
import { docker, BusyboxImage, PauseImage } from './docker.js';

export default async function setup(): Promise<void> {
  try {
    await docker.ping();
  } catch (err) {
    throw new Error(`no Docker engine answers at /var/run/docker.sock: run scripts/setup-host.sh --for-tests first (${String(err)})`);
  }
  for (const image of [BusyboxImage, PauseImage]) {
    await docker
      .getImage(image)
      .inspect()
      .catch(() => {
        throw new Error(`image ${image} is missing: run scripts/setup-host.sh --for-tests first`);
      });
  }
}
