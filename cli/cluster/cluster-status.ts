/**
 * `dockerlet cluster status`: whether the cluster runs, each component's process, restarts and
 * version, the API server's and each node's readiness, where the endpoints and the kubeconfig
 * are. Exits 0 when the cluster is up, every component runs, the API server is ready and every
 * node Ready; 1 otherwise (stopped, still starting, or a component down), so that scripts can ask.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { DockerletError } from '../../common/api/errors.js';
import { DockerletVersion } from '../../common/version.js';
import { ClusterEndpoints } from './cluster-endpoints.js';
import { clusterComponents, componentKind, type ComponentName } from './cluster-layout.js';
import { clusterNetwork } from './cluster-network.js';
import { targetFlags, type ClusterTarget } from './cluster-options.js';
import { readClusterState, type ClusterState } from './cluster-state.js';
import type { ClusterOutput } from './cluster-up.js';
import { contextName } from './kubeconfig-files.js';
import { isRunning } from './processes.js';

const run = promisify(execFile);

export async function clusterStatus(target: ClusterTarget, out: ClusterOutput): Promise<number> {
  const { name, layout } = target;
  const state = await readClusterState(layout.stateFile);
  if (!state) {
    out.say(`no cluster ${name} in ${layout.dir}: dockerlet cluster up${targetFlags(target)} makes one`);
    return 1;
  }
  if (state.name !== name) throw new DockerletError('DKL_ERR_FLAG_INVALID', `--name ${name}: ${layout.dir} holds cluster ${state.name}; pass --name ${state.name}`);
  const nodeCount = state.nodes ?? 1;
  const supervising = state.supervisor !== undefined && (await isRunning(state.supervisor));
  const phase = !supervising ? 'stopped' : state.supervisor!.ready ? 'up' : 'starting';
  out.say(`cluster ${name}: ${phase}${supervising ? ` (cluster up, pid ${state.supervisor!.pid})` : ''}`);
  out.say(`directory:  ${layout.dir}`);
  out.say(`kubeconfig: ${layout.adminKubeconfig}${state.mergedKubeconfig ? ` (and context ${contextName(name)} in ${state.mergedKubeconfig})` : ''}`);
  const endpoints = new ClusterEndpoints(layout, state.ports);
  let ready = false;
  if (supervising) {
    const notReady = await endpoints.apiServerNotReady();
    out.say(`API server: ${endpoints.apiServer} (${notReady === undefined ? 'ready' : `not ready: ${notReady}`})`);
    out.say(`etcd:       ${endpoints.etcd}`);
    ready = notReady === undefined;
    for (const node of clusterNetwork(name, nodeCount).nodes) {
      const condition = await endpoints.nodeReady(node.name);
      ready &&= condition === 'True';
      out.say(`node:       ${node.name} ${node.ip}, pods ${node.podCIDR} (Ready: ${condition ?? 'not registered'})`);
    }
  }
  out.say('');
  const rows = [['COMPONENT', 'PID', 'STATUS', 'RESTARTS', 'VERSION']];
  let running = 0;
  const components = clusterComponents(nodeCount);
  for (const component of components) {
    const recorded = state.components[component];
    const alive = recorded !== undefined && (await isRunning(recorded));
    if (alive) running += 1;
    rows.push([component, alive ? String(recorded.pid) : '-', alive ? 'running' : 'stopped', String(recorded?.restarts ?? 0), await version(component, state)]);
  }
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  for (const row of rows) out.say(row.map((cell, column) => cell.padEnd(widths[column]!)).join('   ').trimEnd());
  return supervising && ready && running === components.length ? 0 : 1;
}

async function version(component: ComponentName, state: ClusterState): Promise<string> {
  const { kind } = componentKind(component);
  // The local provisioner is dockerlet's own program too.
  if (kind === 'dockerlet' || kind === 'local-provisioner') return DockerletVersion;
  if (kind === 'dockerd') {
    const { stdout } = await run('dockerd', ['--version']).catch(() => ({ stdout: '' }));
    return /version\s+([^,\s]+)/.exec(stdout)?.[1] ?? '-';
  }
  if (kind !== 'etcd') return state.controlPlane?.version ?? '-';
  if (!state.controlPlane) return '-';
  const { stdout } = await run(state.controlPlane.etcd, ['--version']).catch(() => ({ stdout: '' }));
  return /etcd Version:\s*(\S+)/.exec(stdout)?.[1] ?? '-';
}
