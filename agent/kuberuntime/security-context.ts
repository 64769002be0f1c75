/**
 * runAsNonRoot, checked before a container is created as the kubelet checks it
 * (kuberuntime's verifyRunAsNonRoot, with getImageUser): the effective security context's
 * runAsUser, else the image's user. An image with no user runs as root; a user name cannot be
 * verified not to be root, so it is refused too.
 */
import type { Container, DefaultedPod } from '../../common/api/types.js';
import { podLabel, podRef } from '../runtime/runtime.js';

/** Why the container may not start under runAsNonRoot; undefined when it may. `imageUser` is the image config's User. */
export function runAsNonRootViolation(pod: DefaultedPod, container: Container, imageUser: string): string | undefined {
  const podContext = pod.spec.securityContext;
  const own = container.securityContext;
  if ((own?.runAsNonRoot ?? podContext?.runAsNonRoot) !== true) return undefined;
  const where = `(pod: ${JSON.stringify(podLabel(podRef(pod)))}, container: ${container.name})`;
  const runAsUser = own?.runAsUser ?? podContext?.runAsUser;
  if (runAsUser !== undefined) return runAsUser === 0 ? `container's runAsUser breaks non-root policy ${where}` : undefined;
  // getUserFromImageUser: "uid", "uid:gid", "name" or "name:group"; none is root.
  const user = imageUser.split(':')[0] ?? '';
  if (user === '' || (/^\d+$/.test(user) && Number(user) === 0)) return `container has runAsNonRoot and image will run as root ${where}`;
  if (!/^\d+$/.test(user)) return `container has runAsNonRoot and image has non-numeric user (${user}), cannot verify user is non-root ${where}`;
  return undefined;
}
