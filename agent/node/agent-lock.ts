/**
 * One agent per root dir and per node name on a host: two would each take the other's
 * containers for strays and kill them (they share the containers' node label and the pod
 * directories). The kubelet's answer is a file lock (--lock-file); this one holds a host lock
 * (common/util/host-lock.ts) on the root dir's real path and on the node name, which the kernel
 * frees when the agent dies however it dies.
 */
import { realpath } from 'node:fs/promises';
import { DockerletError } from '../../common/api/errors.js';
import { HostLock } from '../../common/util/host-lock.js';

/** Takes both for this agent, or rejects naming the agent that holds one (and takes neither). */
export async function lockAgent(options: { rootDir: string; nodeName: string }): Promise<HostLock> {
  const rootDir = await realpath(options.rootDir);
  const claims = {
    [`agent/root-dir/${rootDir}`]: { what: `root dir ${rootDir}`, fix: 'give this one its own --root-dir' },
    [`agent/node/${options.nodeName}`]: { what: `node name ${options.nodeName}`, fix: 'give this one its own --hostname-override' },
  };
  return HostLock.acquire(Object.keys(claims), { pid: process.pid, nodeName: options.nodeName, rootDir }, (key, holder) => {
    const { what, fix } = claims[key]!;
    const who = holder ? ` (pid ${holder['pid']}, node ${holder['nodeName']}, root dir ${holder['rootDir']})` : '';
    return new DockerletError('DKL_ERR_RUNTIME', `another dockerlet agent${who} already runs with ${what}: two agents would kill each other's pods; stop that one first, or ${fix}`);
  });
}
