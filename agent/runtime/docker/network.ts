/** The Docker bridge network pods live on: created once, shared by every pod of every agent on the host. */
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type Dockerode from 'dockerode';
import { DockerletError } from '../../../common/api/errors.js';
import { firstAddress, parseIpv4Cidr } from '../../../common/util/ipv4.js';
import { dockerMessage, isDockerNotFound } from './docker-errors.js';

export interface PodNetworkSettings {
  name: string;
  /** IPv4 CIDR the pod IPs come from. */
  subnet: string;
  /** The Linux bridge's interface name. */
  bridgeName: string;
  /**
   * Whether Docker masquerades what the pods send off the bridge (its default). Off where the
   * node routes the cluster's pod network itself (agent/network/pod-network-rules.ts): traffic
   * between nodes' pods then keeps the pods' addresses.
   */
  masquerade: boolean;
}

/** The bridge driver's option that turns its masquerade rule off. */
const MasqueradeOption = 'com.docker.network.bridge.enable_ip_masquerade';

export async function ensurePodNetwork(docker: Dockerode, settings: PodNetworkSettings, signal: AbortSignal): Promise<void> {
  const existing = await inspectNetwork(docker, settings.name);
  if (!existing) {
    try {
      await docker.createNetwork({
        Name: settings.name,
        Driver: 'bridge',
        CheckDuplicate: true,
        // The first address, as Docker would pick: the node's cluster DNS listens there.
        IPAM: { Driver: 'default', Config: [{ Subnet: settings.subnet, Gateway: firstAddress(parseIpv4Cidr(settings.subnet)!) }] },
        Options: { 'com.docker.network.bridge.name': settings.bridgeName, ...(settings.masquerade ? {} : { [MasqueradeOption]: 'false' }) },
        Labels: { 'dockerlet.io/network': 'pods' },
        abortSignal: signal,
      } as Dockerode.NetworkCreateOptions);
      return;
    } catch (err) {
      // Another agent on this host may have created it meanwhile (Docker then answers 409, or
      // 403 "Pool overlaps"): use theirs, after the subnet check below.
      const raced = await inspectNetwork(docker, settings.name);
      if (!raced) {
        throw new DockerletError('DKL_ERR_RUNTIME', `creating the pod network ${settings.name} (${settings.subnet}): ${dockerMessage(err)}`, {
          cause: err,
        });
      }
      return checkSubnet(raced, settings);
    }
  }
  checkSubnet(existing, settings);
}

function checkSubnet(network: Dockerode.NetworkInspectInfo, settings: PodNetworkSettings): void {
  const subnets = (network.IPAM?.Config ?? []).map((config) => config.Subnet);
  if (!subnets.includes(settings.subnet)) {
    throw new DockerletError(
      'DKL_ERR_CONFIG_INVALID',
      `the Docker network ${settings.name} exists with subnet ${subnets.join(', ') || '(none)'}, not the pod CIDR ${settings.subnet}: give this node that subnet (--pod-cidr), remove the network once no pod uses it (docker network rm ${settings.name}), or pick another --pod-network name`,
    );
  }
  const masquerading = network.Options?.[MasqueradeOption] !== 'false';
  if (masquerading !== settings.masquerade) {
    const [has, wanted] = masquerading ? ['masquerades', 'not to (--node-routes)'] : ['does not masquerade', 'to (no --node-routes)'];
    throw new DockerletError(
      'DKL_ERR_CONFIG_INVALID',
      `the Docker network ${settings.name} ${has} its pods' traffic, and this node wants it ${wanted}: Docker cannot change that on a network, so remove it once no pod uses it (docker network rm ${settings.name}), or pick another --pod-network name`,
    );
  }
}

async function inspectNetwork(docker: Dockerode, name: string): Promise<Dockerode.NetworkInspectInfo | undefined> {
  try {
    return (await docker.getNetwork(name).inspect()) as Dockerode.NetworkInspectInfo;
  } catch (err) {
    if (isDockerNotFound(err)) return undefined;
    throw err;
  }
}

/**
 * Hairpin mode on the pod bridge's ports (the kubelet's --hairpin-mode hairpin-veth): with
 * bridge netfilter on, a pod reaching itself through a Service is DNATed as its frame enters the
 * bridge, which then must send it back out the port it came in on. Each port is set once: a
 * port already set is remembered by name (Docker names veths at random), so a sandbox start
 * costs one directory listing and one write, however many pods run.
 */
export class BridgeHairpin {
  readonly #ports: string;
  #set = new Set<string>();

  /** `sysClassNet`: where the kernel lists network devices (tests give a directory of their own). */
  constructor(bridgeName: string, sysClassNet = '/sys/class/net') {
    this.#ports = join(sysClassNet, bridgeName, 'brif');
  }

  /** Sets every port not set yet; a port that went away meanwhile is skipped. */
  async enable(): Promise<void> {
    const set = new Set<string>();
    for (const port of await readdir(this.#ports).catch(() => [])) {
      if (this.#set.has(port) || (await writeFile(join(this.#ports, port, 'hairpin_mode'), '1').then(() => true, () => false))) set.add(port);
    }
    this.#set = set;
  }
}
