/**
 * The root dir, laid out as the kubelet lays out /var/lib/kubelet:
 *   pods/<uid>/etc-hosts                              managed /etc/hosts
 *   pods/<uid>/resolv.conf                            the pod's DNS config
 *   pods/<uid>/containers/<name>/<restartCount>       termination message files
 *   pods/<uid>/volumes/kubernetes.io~<kind>/<name>    volumes
 */
import { join } from 'node:path';

export class RootDir {
  constructor(readonly path: string) {}

  podsDir(): string {
    return join(this.path, 'pods');
  }

  podDir(uid: string): string {
    return join(this.podsDir(), uid);
  }

  etcHostsPath(uid: string): string {
    return join(this.podDir(uid), 'etc-hosts');
  }

  resolvConfPath(uid: string): string {
    return join(this.podDir(uid), 'resolv.conf');
  }

  containerDir(uid: string, containerName: string): string {
    return join(this.podDir(uid), 'containers', containerName);
  }

  terminationMessagePath(uid: string, containerName: string, restartCount: number): string {
    return join(this.containerDir(uid, containerName), String(restartCount));
  }

  volumesDir(uid: string): string {
    return join(this.podDir(uid), 'volumes');
  }

  /** pods/<uid>/volumes/kubernetes.io~<plugin>/<name>: a volume's directory, as the kubelet names it. */
  volumeDir(uid: string, plugin: string, name: string): string {
    return join(this.volumesDir(uid), `kubernetes.io~${plugin}`, name);
  }
}
