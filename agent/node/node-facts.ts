/** Facts about this node the agent needs: its addresses, its allocatable resources, its resolvers. */
import { statfs } from 'node:fs/promises';
import { availableParallelism, networkInterfaces, totalmem } from 'node:os';
import { readHostResolvConf, type ResolvConf } from '../../common/util/resolv-conf.js';
import type { ClusterDns } from '../network/resolv-conf.js';

/** The node's resources: what an unset container limit stands for, and what the node's capacity says. */
export interface NodeAllocatable {
  milliCpu: number;
  memoryBytes: number;
  ephemeralStorageBytes: number;
}

export interface NodeFacts {
  name: string;
  hostIPs: readonly string[];
  allocatable: NodeAllocatable;
  clusterDns: ClusterDns;
  hostResolvConf: ResolvConf;
}

/** Interfaces that belong to containers or bridges, never the node's own address. */
const VirtualInterface = /^(lo|docker\d*|dockerlet\d*|br-|veth|cni|flannel|cali|virbr)/;

/** The node's IPv4 addresses, the first one being its InternalIP: --node-ip, else the first real interface's. */
export function nodeIPs(configured: readonly string[]): string[] {
  if (configured.length > 0) return [...configured];
  const found: string[] = [];
  for (const [name, addresses] of Object.entries(networkInterfaces())) {
    if (VirtualInterface.test(name)) continue;
    for (const address of addresses ?? []) {
      if (address.family === 'IPv4' && !address.internal) found.push(address.address);
    }
  }
  return found.length > 0 ? found : ['127.0.0.1'];
}

/** The machine's CPUs, memory and the root dir's filesystem size: the node's capacity. */
export function machineResources(rootDirFs: { blocks: number; bsize: number }): NodeAllocatable {
  return { milliCpu: availableParallelism() * 1000, memoryBytes: totalmem(), ephemeralStorageBytes: rootDirFs.blocks * rootDirFs.bsize };
}

export async function gatherNodeFacts(options: {
  nodeName: string;
  nodeIPs: readonly string[];
  rootDir: string;
  resolvConfPath: string;
  clusterDns: ClusterDns;
}): Promise<NodeFacts> {
  const fs = await statfs(options.rootDir);
  return {
    name: options.nodeName,
    hostIPs: nodeIPs(options.nodeIPs),
    allocatable: machineResources(fs),
    clusterDns: options.clusterDns,
    hostResolvConf: (await readHostResolvConf(options.resolvConfPath)).conf,
  };
}
