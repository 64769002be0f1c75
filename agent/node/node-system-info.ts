/**
 * The node's nodeInfo, read where the kubelet reads it (cAdvisor's machine info): the machine ID
 * and boot ID from the kernel and systemd, the system UUID from DMI, the OS image from
 * os-release, the kernel release; the runtime's version from the runtime itself.
 */
import { readFile } from 'node:fs/promises';
import { release } from 'node:os';
import { goArch, KubeletVersion } from '../../common/version.js';
import type { NodeSystemInfo } from './node-status.js';

const firstLine = async (path: string): Promise<string> => (await readFile(path, 'utf8').catch(() => '')).split('\n')[0]!.trim();

/** PRETTY_NAME from os-release, as `kubectl get nodes -o wide` shows it in OS-IMAGE. */
export function osImage(osRelease: string): string {
  const line = osRelease.split('\n').find((l) => l.startsWith('PRETTY_NAME='));
  return line ? line.slice('PRETTY_NAME='.length).replace(/^"(.*)"$/, '$1') : 'Linux';
}

export async function readNodeSystemInfo(runtimeVersion: string): Promise<NodeSystemInfo> {
  const osRelease = (await readFile('/etc/os-release', 'utf8').catch(() => '')) || (await readFile('/usr/lib/os-release', 'utf8').catch(() => ''));
  return {
    machineID: (await firstLine('/etc/machine-id')) || (await firstLine('/var/lib/dbus/machine-id')),
    // Readable by root only; the kubelet leaves it empty too when it cannot read it.
    systemUUID: (await firstLine('/sys/class/dmi/id/product_uuid')).toLowerCase(),
    bootID: await firstLine('/proc/sys/kernel/random/boot_id'),
    kernelVersion: release(),
    osImage: osImage(osRelease),
    // Unknown until the runtime has answered once: left empty then, as a kubelet whose version setter failed.
    containerRuntimeVersion: runtimeVersion ? `docker://${runtimeVersion}` : '',
    kubeletVersion: KubeletVersion,
    operatingSystem: 'linux',
    architecture: goArch,
  };
}
