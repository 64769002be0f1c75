/**
 * `dockerlet cluster up`: makes the cluster (or finds it made), starts its processes and
 * supervises them until SIGINT or SIGTERM, which stops them and leaves the pods running, as
 * stopping a kubelet does: the next `up` resumes the cluster, with its objects in etcd, and
 * the node adopts its pods' containers. Interrupted while starting, it stops whatever it
 * started. With --detach it runs that same command in the background, shows its progress, and
 * returns once the node is Ready.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import { createServer } from 'node:net';
import { DockerletError } from '../../common/api/errors.js';
import { delay } from '../../common/util/clock.js';
import { HostLock, type LockOwner } from '../../common/util/host-lock.js';
import { datapathOwner, describeProxy } from '../../proxy/proxy-lock.js';
import { ClusterIdentities, type ClusterIdentity, type ClusterLayout } from './cluster-layout.js';
import { readAppended } from './cluster-logs.js';
import { clusterNetwork, type ClusterNetwork } from './cluster-network.js';
import { requireRoot, targetFlags, type ClusterTarget, type UpSettings } from './cluster-options.js';
import { ensureClusterPki, nodeCredentials } from './cluster-pki.js';
import { ClusterStateFile, readClusterState, type ClusterState } from './cluster-state.js';
import { ClusterSupervisor, endLeftoverComponents } from './cluster-supervisor.js';
import { controlPlaneBinaries, stillUsable, type ControlPlaneBinaries } from './control-plane-binaries.js';
import { contextName, defaultKubeconfigPath, mergeKubeconfig, writeKubeconfig } from './kubeconfig-files.js';
import { NodeHosts } from './node-hosts.js';
import { commandLine, isRunning } from './processes.js';
import { NodeFlags } from '../node-flags.js';

/** How long a detached `up`, or an `up` that finds another starting, waits for the node: the first build of the control plane takes most of it. */
const StartTimeoutMs = 60 * 60_000;
const PollMs = 250;

export interface ClusterOutput {
  say(line: string): void;
}

/** The host lock a running `cluster up` holds for its directory, from its first step to its last: `down` and another `up` ask it. */
export const clusterLockKey = (layout: ClusterLayout): string => `cluster/${layout.dir}`;

export async function clusterUp(settings: UpSettings, out: ClusterOutput): Promise<number> {
  requireRoot('dockerlet cluster up');
  const holder = await HostLock.holder(clusterLockKey(settings.layout));
  if (holder) return alreadyUp(settings, holder, out);
  // Before a detached up starts: its flag errors are this command's (a directory of another cluster is the foreground up's to name).
  const existing = await readClusterState(settings.layout.stateFile).catch(() => undefined);
  if (!existing || existing.name === settings.name) nodeCount(settings, existing);
  return settings.detach ? upDetached(settings, out) : upInForeground(settings, out);
}

/** Another process has the cluster: a `down` removing it is refused; an `up` is waited for until it is Ready, then how to use it is told. */
async function alreadyUp(settings: UpSettings, holder: LockOwner, out: ClusterOutput): Promise<number> {
  const { layout } = settings;
  const pid = Number(holder['pid']);
  if (holder['doing'] === 'down') throw lockedByDown(settings.name, pid);
  const given = [settings.apiServerPortGiven, settings.nodes, settings.podManifestPath, settings.resolvConf, settings.mergeKubeconfig].some(Boolean);
  if (given) out.say(`cluster ${settings.name} already runs (pid ${pid}): this up's other flags are not applied; stop it (Ctrl-C, or down --keep-data), then up with them`);
  const deadline = Date.now() + StartTimeoutMs;
  let told = false;
  for (;;) {
    const supervisor = (await readClusterState(layout.stateFile).catch(() => undefined))?.supervisor;
    // Only the holder's own word counts: a killed up may have left ready behind.
    if (supervisor?.ready && supervisor.pid === pid && (await isRunning(supervisor))) break;
    if (!(await HostLock.holder(clusterLockKey(layout)))) {
      out.say(`the cluster up that had cluster ${settings.name} (pid ${pid}) ended before the node was Ready: see ${layout.logsDir}`);
      return 1;
    }
    if (Date.now() > deadline) return 1;
    if (!told) out.say(`cluster ${settings.name} is being started by pid ${pid}: waiting for the node to be Ready`);
    told = true;
    await delay(PollMs, undefined, true);
  }
  out.say(`cluster ${settings.name} is already up (pid ${pid})`);
  printUsage(settings, await readClusterState(layout.stateFile), out);
  return 0;
}

const lockedByDown = (name: string, pid: number): DockerletError => new DockerletError('DKL_ERR_RUNTIME', `cluster ${name} is being removed by cluster down (pid ${pid}): up again once it is done`);

async function upInForeground(settings: UpSettings, out: ClusterOutput): Promise<number> {
  const { name, layout } = settings;
  const interrupted = interruptions(out);
  const lock = await HostLock.acquire([clusterLockKey(layout)], { pid: process.pid, cluster: name, dir: layout.dir, doing: 'up' }, (_key, holder) => {
    if (holder?.['doing'] === 'down') return lockedByDown(name, Number(holder['pid']));
    return new DockerletError('DKL_ERR_RUNTIME', `cluster ${name} is already up${holder ? ` (pid ${holder['pid']})` : ''}`);
  });
  let supervisor: ClusterSupervisor | undefined;
  let stateFile: ClusterStateFile | undefined;
  try {
    const proxy = await datapathOwner();
    if (proxy) {
      throw new DockerletError('DKL_ERR_RUNTIME', `a dockerlet service proxy${describeProxy(proxy)} already runs on this host: the cluster's node runs its own, and a host has one; stop that one first`);
    }
    const existing = await readClusterState(layout.stateFile);
    if (existing && existing.name !== name) {
      throw new DockerletError('DKL_ERR_FLAG_INVALID', `--dir ${layout.dir} holds cluster ${existing.name}, not ${name}: pass --name ${existing.name}, or another --dir`);
    }
    const nodes = nodeCount(settings, existing);
    if (existing) {
      out.say(`resuming cluster ${name} from ${layout.dir}`);
      // What a killed `up` left running would hold the ports and the data.
      await endLeftoverComponents(existing, (line) => out.say(line));
    } else {
      out.say(`making cluster ${name} in ${layout.dir}${nodes > 1 ? `, with ${nodes} nodes` : ''}`);
    }
    const ports = existing?.ports ?? { apiServer: settings.apiServerPort, ...(await etcdPorts()) };
    ports.apiServer = settings.apiServerPortGiven ? settings.apiServerPort : ports.apiServer;
    await checkPortFree(ports.apiServer);
    const node = { podManifestPath: settings.podManifestPath ?? existing?.node?.podManifestPath, resolvConf: settings.resolvConf ?? existing?.node?.resolvConf };
    // cluster.json first, before anything else goes into the directory: down knows the directory by it.
    // A supervisor recorded there is a killed up's: this one records itself once it starts the components.
    const { supervisor: _killed, ...kept } = existing ?? { components: {} };
    stateFile = new ClusterStateFile(layout.stateFile, { ...kept, name, ports, nodes, node, components: kept.components });
    await stateFile.update(() => undefined);
    await mkdir(layout.logsDir, { recursive: true, mode: 0o700 });
    const binaries = await resumedBinaries(existing, out, interrupted);
    const network = clusterNetwork(name, nodes);
    const hosts = nodes > 1 ? new NodeHosts(layout, network) : undefined;
    if (hosts) {
      out.say(`making the hosts of nodes ${hosts.hosts.map((host) => host.name).join(', ')}`);
      await hosts.ensure();
    }
    await ensureClusterPki(layout, name, network);
    await writeKubeconfigs(layout, name, network, ports.apiServer);
    const startedAt = new Date().toISOString();
    await stateFile.update((state) => {
      state.controlPlane = { binDir: binaries.binDir, etcd: binaries.etcd, version: binaries.version };
      state.supervisor = { pid: process.pid, command: ownCommandLine(), startedAt, ready: false };
    });
    supervisor = new ClusterSupervisor(
      { name, layout, ports, binaries, network, ...(hosts ? { hosts } : {}), dockerlet: [process.execPath, ...NodeFlags, process.argv[1]!], ...node },
      stateFile,
      (line) => out.say(line),
    );
    await supervisor.start(interrupted);
    // A merged context follows the cluster: a new port reaches it too.
    const mergeInto = settings.mergeKubeconfig ? defaultKubeconfigPath() : stateFile.state.mergedKubeconfig;
    if (mergeInto) {
      await mergeKubeconfig(layout.adminKubeconfig, mergeInto);
      await stateFile.update((state) => void (state.mergedKubeconfig = mergeInto));
    }
    await stateFile.update((state) => void (state.supervisor!.ready = true));
    printUsage(settings, stateFile.state, out);
    if (!interrupted.aborted) await new Promise((resolve) => interrupted.addEventListener('abort', resolve, { once: true }));
    out.say('stopping; the pods keep running: `dockerlet cluster up` resumes the cluster, `dockerlet cluster down` removes it');
    return 0;
  } catch (err) {
    if (!interrupted.aborted) throw err;
    out.say('interrupted: stopping what was started');
    return 130;
  } finally {
    await supervisor?.stop();
    await stateFile?.update((state) => void delete state.supervisor);
    await lock.release();
  }
}

/**
 * One kubeconfig per identity. The control plane's and the admin's reach the API server on
 * loopback; with several nodes, the nodes' (and their proxies') at the first node's address,
 * which each node's host reaches.
 */
async function writeKubeconfigs(layout: ClusterLayout, name: string, network: ClusterNetwork, port: number): Promise<void> {
  const loopback = `https://127.0.0.1:${port}`;
  const fromNodes = network.nodes.length > 1 ? `https://${network.apiAddress}:${port}` : loopback;
  const identities: ClusterIdentity[] = [...ClusterIdentities, ...network.nodes.slice(1).map((node) => nodeCredentials(node.ordinal).client)];
  for (const identity of identities) {
    const server = identity === 'kube-proxy' || identity.startsWith('node') ? fromNodes : loopback;
    await writeKubeconfig(layout, layout.kubeconfig(identity), server, contextName(name), identity);
  }
}

/** The cluster's node count: a made cluster's own (--nodes may only repeat it), else --nodes, else 1. */
function nodeCount(settings: UpSettings, existing: ClusterState | undefined): number {
  const count = existing ? (existing.nodes ?? 1) : (settings.nodes ?? 1);
  if (settings.nodes !== undefined && settings.nodes !== count) {
    throw new DockerletError('DKL_ERR_FLAG_INVALID', `--nodes ${settings.nodes}: cluster ${settings.name} was made with ${count} node${count === 1 ? '' : 's'}, and keeps them; leave --nodes out, or remove it (dockerlet cluster down${targetFlags(settings)}) and up again`);
  }
  return count;
}

/** The control plane a resumed cluster ran with while it is still usable; otherwise the one the build makes now, saying so. */
async function resumedBinaries(state: ClusterState | undefined, out: ClusterOutput, interrupted: AbortSignal): Promise<ControlPlaneBinaries> {
  const recorded = state?.controlPlane;
  const usable = await stillUsable(recorded);
  if (usable) return usable;
  if (recorded) out.say(`the control plane in ${recorded.binDir} is gone or was built without the build's current fixes: using the one the build makes now`);
  const binaries = await controlPlaneBinaries((line) => out.say(line), interrupted);
  if (recorded && recorded.version !== binaries.version) out.say(`the cluster's control plane moves from ${recorded.version} to ${binaries.version}`);
  return binaries;
}

/** Runs `cluster up` in the background with its output in logs/cluster.log, shown here until the node is Ready or the background `up` ends. */
async function upDetached(settings: UpSettings, out: ClusterOutput): Promise<number> {
  const { layout } = settings;
  await mkdir(layout.logsDir, { recursive: true, mode: 0o700 });
  const logPath = layout.log('cluster');
  const log = openSync(logPath, 'a');
  let shown = (await stat(logPath)).size;
  const args = [...NodeFlags, process.argv[1]!, 'cluster', 'up', ...foregroundFlags(settings)];
  const child = spawn(process.execPath, args, { detached: true, stdio: ['ignore', log, log], cwd: '/' });
  closeSync(log);
  child.unref();
  let exit: string | undefined;
  child.once('exit', (code, signal) => (exit = code === null ? `signal ${signal}` : `exit code ${code}`));
  const interrupted = interruptions(out);
  const showProgress = async (): Promise<void> => {
    const read = await readAppended(logPath, shown, true);
    for (const line of read.data.toString('utf8').split('\n').slice(0, -1)) out.say(line);
    shown = read.end;
  };
  let stopping = false;
  const deadline = Date.now() + StartTimeoutMs;
  while (Date.now() < deadline) {
    await showProgress();
    if (exit !== undefined) {
      out.say(`the background cluster up ended (${exit}) before the node was Ready: see above, and ${logPath}`);
      return interrupted.aborted ? 130 : 1;
    }
    if (interrupted.aborted) {
      // Once: a second signal would end the background up before it has stopped what it started.
      if (!stopping) child.kill('SIGTERM');
      stopping = true;
    } else {
      const supervisor = (await readClusterState(layout.stateFile).catch(() => undefined))?.supervisor;
      if (supervisor && supervisor.pid === child.pid && supervisor.ready) {
        await showProgress();
        out.say(`cluster up runs in the background (pid ${child.pid}); its output goes to ${logPath}`);
        return 0;
      }
    }
    await delay(PollMs, undefined, true);
  }
  out.say(`the node was not Ready after ${StartTimeoutMs / 60_000} minutes; the background cluster up (pid ${child.pid}) goes on: see ${logPath}`);
  return 1;
}

/** The flags of a foreground `up` with these settings. */
function foregroundFlags(settings: UpSettings): string[] {
  return [
    '--name', settings.name, '--dir', settings.layout.dir,
    ...(settings.apiServerPortGiven ? ['--api-server-port', String(settings.apiServerPort)] : []),
    ...(settings.nodes !== undefined ? ['--nodes', String(settings.nodes)] : []),
    ...(settings.podManifestPath ? ['--pod-manifest-path', settings.podManifestPath] : []),
    ...(settings.resolvConf ? ['--resolv-conf', settings.resolvConf] : []),
    ...(settings.mergeKubeconfig ? ['--merge-kubeconfig'] : []),
  ];
}

function printUsage(target: ClusterTarget, state: ClusterState | undefined, out: ClusterOutput): void {
  const version = state?.controlPlane?.version ?? 'Kubernetes';
  const nodes = clusterNetwork(target.name, state?.nodes ?? 1).nodes.map((node) => node.name);
  out.say(`cluster ${target.name} is up: node${nodes.length > 1 ? 's' : ''} ${nodes.join(', ')} Ready, ${version} at https://127.0.0.1:${state?.ports.apiServer}`);
  const lines = state?.mergedKubeconfig
    ? [`kubectl's current context is ${contextName(target.name)} (in ${state.mergedKubeconfig}):`, '  kubectl get nodes']
    : ['use it with:', `  export KUBECONFIG=${target.layout.adminKubeconfig}`, '  kubectl get nodes'];
  lines.push(`logs: dockerlet cluster logs COMPONENT${targetFlags(target)}; remove it: dockerlet cluster down${targetFlags(target)}`);
  for (const line of lines) out.say(line);
}

/** An AbortSignal that SIGINT, SIGTERM or SIGHUP aborts; a second one ends the process at once. */
function interruptions(out: ClusterOutput): AbortSignal {
  const controller = new AbortController();
  const onSignal = (signal: NodeJS.Signals): void => {
    if (controller.signal.aborted) process.exit(130);
    out.say(`${signal}: stopping (again to end at once, leaving processes behind)`);
    controller.abort(new Error(`interrupted by ${signal}`));
  };
  // A closed terminal too: the components, in process groups of their own, would outlive an up that SIGHUP ended.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, onSignal);
  return controller.signal;
}

/** This process's command line as /proc shows it to others. */
function ownCommandLine(): string {
  return commandLine(readFileSync('/proc/self/cmdline', 'utf8').replace(/\0$/, '').split('\0'));
}

/** Two free loopback ports for a new cluster's etcd, a different one each. */
async function etcdPorts(): Promise<{ etcdClient: number; etcdPeer: number }> {
  const etcdClient = await freeLoopbackPort();
  let etcdPeer = await freeLoopbackPort();
  while (etcdPeer === etcdClient) etcdPeer = await freeLoopbackPort();
  return { etcdClient, etcdPeer };
}

function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Rejects, naming the flag, when the API server's port is taken: the API server would otherwise fail over and over. */
function checkPortFree(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(new DockerletError('DKL_ERR_FLAG_INVALID', `--api-server-port ${port}: ${err.code === 'EADDRINUSE' ? 'in use by another process' : err.message}; pass another port`)),
    );
    server.listen(port, '0.0.0.0', () => server.close(() => resolve()));
  });
}
