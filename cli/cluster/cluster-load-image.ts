/**
 * `dockerlet cluster load-image IMAGE...`: with no registry between them, a further node's
 * engine has only the images it was given. This copies images from this host's engine (the first
 * node's) into each further node's, as `kind load docker-image` does for kind's nodes. Their
 * engines must run: the cluster is up.
 */
import { DockerletError } from '../../common/api/errors.js';
import { copyImages } from '../../agent/runtime/docker/image-transfer.js';
import { ClusterEndpoints } from './cluster-endpoints.js';
import { clusterNetwork } from './cluster-network.js';
import { requireRoot, targetFlags, type ClusterTarget } from './cluster-options.js';
import { readClusterState } from './cluster-state.js';
import type { ClusterOutput } from './cluster-up.js';
import { HostEngineSocket, NodeHosts } from './node-hosts.js';

export async function clusterLoadImage(target: ClusterTarget, images: readonly string[], out: ClusterOutput): Promise<number> {
  requireRoot('dockerlet cluster load-image');
  const { name, layout } = target;
  const state = await readClusterState(layout.stateFile);
  if (!state) throw new DockerletError('DKL_ERR_NOT_FOUND', `no cluster ${name} in ${layout.dir}: dockerlet cluster up${targetFlags(target)} makes one`);
  const network = clusterNetwork(name, state.nodes ?? 1);
  if (network.nodes.length === 1) {
    out.say(`cluster ${name} has one node, this host, whose engine has the images already`);
    return 0;
  }
  const endpoints = new ClusterEndpoints(layout, state.ports);
  for (const host of new NodeHosts(layout, network).hosts) {
    const notAnswering = await endpoints.engineNotAnswering(host.socket);
    if (notAnswering !== undefined) {
      throw new DockerletError('DKL_ERR_RUNTIME', `the Docker engine of node ${host.name} does not answer (${notAnswering}): is cluster ${name} up? (dockerlet cluster status${targetFlags(target)})`);
    }
    await copyImages(HostEngineSocket, host.socket, images);
    out.say(`loaded ${images.join(', ')} into node ${host.name}`);
  }
  return 0;
}
