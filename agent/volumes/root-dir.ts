/**
 * The root dir, laid out as the kubelet lays out /var/lib/kubelet:
 *   pods/<uid>/etc-hosts                              managed /etc/hosts
 *   pods/<uid>/resolv.conf                            the pod's DNS config
 *   pods/<uid>/containers/<name>/<restartCount>       termination message files
 *   pods/<uid>/volumes/kubernetes.io~<kind>/<name>    volumes
 *   pods/<uid>/volume-subpaths/<volume>/<container>/<index>   subPath bind mounts
 *   seccomp/<profile>                                 Localhost seccomp profiles, put there by the node's admin
 *   persistent-volumes/<namespace>/<claim>/           a lone host's provisioned claim: its record
 *   persistent-volumes/<namespace>/<claim>/data       and its data, what the pods mount
 *
 * Every name that comes from a pod (its UID, a container's or a volume's name) must be one path
 * element, so that every path here, and so everything the agent removes, lies inside the tree.
 */
import { join } from 'node:path';
import { DockerletError } from '../../common/api/errors.js';

/** Whether `name` is one path element: no slash, not empty, not `.` or `..`, no NUL. */
export const isPathElement = (name: string): boolean => name !== '' && name !== '.' && name !== '..' && !/[/\0]/.test(name);

/** Whether `path` is `base` or lies below it, by whole path elements (/data holds /data/x, not /database); both absolute and normalised. */
export const isWithin = (base: string, path: string): boolean => base === '/' || path === base || path.startsWith(`${base}/`);

function element(name: string, what: string): string {
  if (!isPathElement(name)) throw new DockerletError('DKL_ERR_BAD_REQUEST', `${what} ${JSON.stringify(name)} cannot name a directory under the root dir`);
  return name;
}

export class RootDir {
  constructor(readonly path: string) {}

  podsDir(): string {
    return join(this.path, 'pods');
  }

  podDir(uid: string): string {
    return join(this.podsDir(), element(uid, 'pod UID'));
  }

  etcHostsPath(uid: string): string {
    return join(this.podDir(uid), 'etc-hosts');
  }

  resolvConfPath(uid: string): string {
    return join(this.podDir(uid), 'resolv.conf');
  }

  containerDir(uid: string, containerName: string): string {
    return join(this.podDir(uid), 'containers', element(containerName, 'container name'));
  }

  terminationMessagePath(uid: string, containerName: string, restartCount: number): string {
    return join(this.containerDir(uid, containerName), String(restartCount));
  }

  /** Where Localhost seccomp profiles live (the kubelet's <root-dir>/seccomp); `profile` has been checked to be a relative path without '..'. */
  seccompProfilePath(profile: string): string {
    return join(this.path, 'seccomp', profile);
  }

  /** Where a lone host's PersistentVolumeClaims are provisioned. */
  persistentVolumesDir(): string {
    return join(this.path, 'persistent-volumes');
  }

  /** persistent-volumes/<namespace>/<claim>: a provisioned claim's record and data. */
  claimDir(namespace: string, claimName: string): string {
    return join(this.persistentVolumesDir(), element(namespace, 'namespace'), element(claimName, 'claim name'));
  }

  volumesDir(uid: string): string {
    return join(this.podDir(uid), 'volumes');
  }

  /** Where the subPath of a container's `index`th volumeMount is bound (the kubelet's volume-subpaths). */
  volumeSubPath(uid: string, volumeName: string, containerName: string, index: number): string {
    return join(this.podDir(uid), 'volume-subpaths', element(volumeName, 'volume name'), element(containerName, 'container name'), String(index));
  }

  /** pods/<uid>/volumes/kubernetes.io~<plugin>/<name>: a volume's directory, as the kubelet names it. */
  volumeDir(uid: string, plugin: string, name: string): string {
    return join(this.volumesDir(uid), `kubernetes.io~${element(plugin, 'volume plugin')}`, element(name, 'volume name'));
  }
}
