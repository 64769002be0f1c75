/**
 * Checks of this host that decide whether an expected failure holds (expected-failures.ts).
 * privileged-containers-refused: Docker cannot start a privileged container here. Where the
 * capability bounding set lacks capabilities that --privileged asks for (a sandbox, a container
 * host), runc fails with "unable to apply caps: operation not permitted", and so does every pod
 * with a privileged container. The check starts one, and removes it by its id.
 */
import { docker } from '../helpers/docker.js';
import type { HostConditions } from './expected-failures.js';

/** An image the conformance images include (scripts/build-conformance-images.sh). */
const ProbeImage = 'docker.io/library/busybox:1.29';

export async function checkHostConditions(): Promise<HostConditions> {
  return { 'privileged-containers-refused': !(await privilegedContainerStarts()) };
}

async function privilegedContainerStarts(): Promise<boolean> {
  const container = await docker.createContainer({
    Image: ProbeImage,
    Cmd: ['true'],
    Labels: { 'dockerlet.local/created-by': 'conformance-host-check' },
    HostConfig: { Privileged: true, NetworkMode: 'none' },
  });
  try {
    await container.start();
    return true;
  } catch (err) {
    if (/operation not permitted/.test(String(err))) return false;
    throw new Error(`checking whether privileged containers start: ${String(err)}`);
  } finally {
    await container.remove({ force: true });
  }
}
