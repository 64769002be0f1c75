/**
 * `dockerlet cluster down`: stops the cluster's processes (through its `up`, which stops them
 * in order, or one by one when that `up` is gone), then removes what the node left on the
 * host, which a stopped node keeps for its next start: its pods' containers and the pod
 * network, the proxy's rules, addresses and sysctls, the pods' mounts. Then the cluster's
 * directory, all of it, or with --keep-data all but etcd's data, the PKI and the kubeconfigs,
 * from which the next `up` resumes the cluster. Every step runs whatever the one before did,
 * and running `down` again finishes what an interrupted one left.
 */
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { unmountAll } from '../../agent/volumes/mounts.js';
import { removeNodeFromDocker } from '../../agent/runtime/docker/node-teardown.js';
import { aggregateMessage, DockerletError, errorMessage } from '../../common/api/errors.js';
import { parseIpv4Cidr } from '../../common/util/ipv4.js';
import { datapathOwner, describeProxy } from '../../proxy/proxy-lock.js';
import { cleanupProxy } from '../../proxy/proxy.js';
import { createLogger } from '../logger.js';
import { Defaults } from '../options.js';
import { clusterNetwork } from './cluster-network.js';
import type { ClusterTarget } from './cluster-options.js';
import { readClusterState } from './cluster-state.js';
import type { ClusterOutput } from './cluster-up.js';
import { contextName, unmergeKubeconfig } from './kubeconfig-files.js';
import { endProcess, isRunning } from './processes.js';

/** A supervising `up` stops the node (30 s at most) and then the control plane (10 s each). */
const SupervisorStopMs = 90_000;
const ComponentStopMs = 10_000;

export async function clusterDown(target: ClusterTarget, keepData: boolean, out: ClusterOutput): Promise<number> {
  const { name, layout } = target;
  const state = await readClusterState(layout.stateFile);
  if (!state && !existsSync(layout.dir)) {
    out.say(`no cluster ${name} in ${layout.dir}: nothing to remove`);
    return 0;
  }
  const stopInterrupts = finishOnInterrupt(out);
  try {
    if (state?.supervisor && (await isRunning(state.supervisor))) {
      out.say(`stopping cluster up (pid ${state.supervisor.pid})`);
      await endProcess(state.supervisor, SupervisorStopMs);
    }
    // A killed `up` leaves its components running: end them here, by the pids it recorded.
    const left = (await readClusterState(layout.stateFile)) ?? state;
    for (const [component, recorded] of Object.entries(left?.components ?? {})) {
      if (await isRunning(recorded)) out.say(`stopping ${component} (pid ${recorded.pid})`);
      await endProcess(recorded, ComponentStopMs);
    }

    const errors: string[] = [];
    const step = async (what: string, action: () => Promise<unknown>): Promise<void> => {
      try {
        await action();
      } catch (err) {
        errors.push(`${what}: ${errorMessage(err)}`);
      }
    };
    const network = clusterNetwork();
    await step('removing the node\'s containers', async () => {
      const removed = await removeNodeFromDocker(Defaults.containerRuntimeEndpoint.replace(/^unix:\/\//, ''), name, network.podNetwork);
      out.say(`removed ${removed.containersRemoved} containers of node ${name}${removed.networkRemoved ? ` and the pod network ${network.podNetwork}` : ''}`);
    });
    await step("removing the node's service rules", async () => {
      const owner = await datapathOwner();
      if (owner) {
        out.say(`left the service rules to the proxy that owns them now${describeProxy(owner)}`);
        return;
      }
      const cidrs = { serviceCIDR: parseIpv4Cidr(network.serviceCIDR)!, podCIDR: parseIpv4Cidr(network.podCIDR)! };
      await cleanupProxy({ ...cidrs, stateDir: join(layout.nodeRootDir, 'proxy') }, createLogger('text', 0).child({}, { level: 'warn' }));
      out.say('removed the service rules');
    });
    await step("unmounting the pods' volumes", () => unmountAll(layout.dir));
    if (!keepData && state?.mergedKubeconfig) {
      await step(`taking context ${contextName(name)} out of ${state.mergedKubeconfig}`, () => unmergeKubeconfig(contextName(name), state.mergedKubeconfig!));
    }
    await step(`removing ${keepData ? layout.nodeRootDir : layout.dir}`, () => rm(keepData ? layout.nodeRootDir : layout.dir, { recursive: true, force: true }));
    if (errors.length > 0) throw new DockerletError('DKL_ERR_RUNTIME', `cluster ${name} is only partly removed (run down again to finish): ${aggregateMessage(errors)}`);
    out.say(keepData ? `cluster ${name} is down; its data stays in ${layout.dir} for the next cluster up` : `cluster ${name} is removed`);
    return 0;
  } finally {
    stopInterrupts();
  }
}

/** A first SIGINT or SIGTERM lets `down` finish (it would leave the host half cleaned); a second ends it at once. Returns the undo. */
function finishOnInterrupt(out: ClusterOutput): () => void {
  let asked = false;
  const onSignal = (): void => {
    if (asked) process.exit(130);
    asked = true;
    out.say('finishing the removal (again to end at once; running down again finishes it)');
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
}
