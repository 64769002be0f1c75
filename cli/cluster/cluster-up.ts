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
import { mkdir, open, stat } from 'node:fs/promises';
import { createServer } from 'node:net';
import { DockerletError } from '../../common/api/errors.js';
import { delay } from '../../common/util/clock.js';
import { HostLock } from '../../common/util/host-lock.js';
import { datapathOwner, describeProxy } from '../../proxy/proxy-lock.js';
import type { ClusterLayout } from './cluster-layout.js';
import { clusterNetwork } from './cluster-network.js';
import type { UpSettings } from './cluster-options.js';
import { ensureClusterPki } from './cluster-pki.js';
import { ClusterStateFile, readClusterState, type ClusterState } from './cluster-state.js';
import { ClusterSupervisor } from './cluster-supervisor.js';
import { controlPlaneBinaries } from './control-plane-binaries.js';
import { contextName, defaultKubeconfigPath, mergeKubeconfig, writeKubeconfig } from './kubeconfig-files.js';
import { commandLine, endProcess } from './processes.js';

/** How long a detached `up` shows its progress: the first build of the control plane takes most of it. */
const DetachedStartTimeoutMs = 60 * 60_000;
const PollMs = 250;

export interface ClusterOutput {
  say(line: string): void;
}

/** The host lock a running `cluster up` holds for its directory: `down`, `status` and another `up` ask it. */
export const clusterLockKey = (layout: ClusterLayout): string => `cluster/${layout.dir}`;

export async function clusterUp(settings: UpSettings, out: ClusterOutput): Promise<number> {
  const holder = await HostLock.holder(clusterLockKey(settings.layout));
  if (holder) {
    out.say(`cluster ${settings.name} is already up (pid ${holder['pid']})`);
    printUsage(settings, await readClusterState(settings.layout.stateFile), out);
    return 0;
  }
  return settings.detach ? upDetached(settings, out) : upInForeground(settings, out);
}

async function upInForeground(settings: UpSettings, out: ClusterOutput): Promise<number> {
  const { name, layout } = settings;
  const interrupted = interruptions(out);
  const lock = await HostLock.acquire([clusterLockKey(layout)], { pid: process.pid, cluster: name, dir: layout.dir }, (_key, holder) => {
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
    if (existing) {
      out.say(`resuming cluster ${name} from ${layout.dir}`);
      // What a killed `up` left running would hold the ports and the data.
      for (const recorded of Object.values(existing.components)) await endProcess(recorded, 10_000);
    } else {
      out.say(`making cluster ${name} in ${layout.dir}`);
    }
    await mkdir(layout.logsDir, { recursive: true, mode: 0o700 });
    const ports = existing?.ports ?? { apiServer: settings.apiServerPort, etcdClient: await freeLoopbackPort(), etcdPeer: await freeLoopbackPort() };
    ports.apiServer = settings.apiServerPortGiven ? settings.apiServerPort : ports.apiServer;
    await checkPortFree(ports.apiServer);
    stateFile = new ClusterStateFile(layout.stateFile, { name, ports, components: {}, ...(existing?.mergedKubeconfig ? { mergedKubeconfig: existing.mergedKubeconfig } : {}) });
    const binaries = await controlPlaneBinaries((line) => out.say(line), interrupted);
    const network = clusterNetwork();
    await ensureClusterPki(layout, name, network);
    const server = `https://127.0.0.1:${ports.apiServer}`;
    await writeKubeconfig(layout, layout.adminKubeconfig, server, contextName(name), 'admin');
    for (const identity of ['kube-controller-manager', 'kube-scheduler', 'node', 'kube-proxy'] as const) {
      await writeKubeconfig(layout, layout.kubeconfig(identity), server, contextName(name), identity);
    }
    const startedAt = new Date().toISOString();
    await stateFile.update((state) => {
      state.controlPlane = { binDir: binaries.binDir, version: binaries.version };
      state.supervisor = { pid: process.pid, command: ownCommandLine(), startedAt, ready: false };
    });
    supervisor = new ClusterSupervisor(
      { name, layout, ports, binaries, network, dockerlet: [process.execPath, process.argv[1]!], podManifestPath: settings.podManifestPath, resolvConf: settings.resolvConf },
      stateFile,
      (line) => out.say(line),
    );
    await supervisor.start(interrupted);
    if (settings.mergeKubeconfig) {
      const target = defaultKubeconfigPath();
      await mergeKubeconfig(layout.adminKubeconfig, target);
      await stateFile.update((state) => void (state.mergedKubeconfig = target));
    }
    await stateFile.update((state) => void (state.supervisor!.ready = true));
    printUsage(settings, stateFile.state, out);
    await new Promise((resolve) => interrupted.addEventListener('abort', resolve, { once: true }));
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

/** Runs `cluster up` in the background with its output in logs/cluster.log, shown here until the node is Ready or the background `up` ends. */
async function upDetached(settings: UpSettings, out: ClusterOutput): Promise<number> {
  const { layout } = settings;
  await mkdir(layout.logsDir, { recursive: true, mode: 0o700 });
  const logPath = layout.log('cluster');
  const log = openSync(logPath, 'a');
  const offset = (await stat(logPath)).size;
  const args = [process.argv[1]!, 'cluster', 'up', ...foregroundFlags(settings)];
  const child = spawn(process.execPath, args, { detached: true, stdio: ['ignore', log, log] });
  closeSync(log);
  child.unref();
  let exit: string | undefined;
  child.once('exit', (code, signal) => (exit = code === null ? `signal ${signal}` : `exit code ${code}`));
  const interrupted = interruptions(out);
  const shown = { offset };
  let stopping = false;
  const deadline = Date.now() + DetachedStartTimeoutMs;
  while (Date.now() < deadline) {
    await showNewLines(logPath, shown, out);
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
        await showNewLines(logPath, shown, out);
        out.say(`cluster up runs in the background (pid ${child.pid}); its output goes to ${logPath}`);
        return 0;
      }
    }
    await delay(PollMs, undefined, true);
  }
  out.say(`the node was not Ready after ${DetachedStartTimeoutMs / 60_000} minutes; the background cluster up (pid ${child.pid}) goes on: see ${logPath}`);
  return 1;
}

/** The flags of a foreground `up` with these settings. */
function foregroundFlags(settings: UpSettings): string[] {
  return [
    '--name', settings.name, '--dir', settings.layout.dir,
    ...(settings.apiServerPortGiven ? ['--api-server-port', String(settings.apiServerPort)] : []),
    ...(settings.podManifestPath ? ['--pod-manifest-path', settings.podManifestPath] : []),
    ...(settings.resolvConf ? ['--resolv-conf', settings.resolvConf] : []),
    ...(settings.mergeKubeconfig ? ['--merge-kubeconfig'] : []),
  ];
}

async function showNewLines(path: string, shown: { offset: number }, out: ClusterOutput): Promise<void> {
  const file = await open(path, 'r');
  try {
    const { size } = await file.stat();
    if (size <= shown.offset) return;
    const buffer = Buffer.alloc(size - shown.offset);
    await file.read(buffer, 0, buffer.length, shown.offset);
    const text = buffer.toString('utf8');
    const complete = text.lastIndexOf('\n') + 1;
    shown.offset += Buffer.byteLength(text.slice(0, complete));
    for (const line of text.slice(0, complete).split('\n').slice(0, -1)) out.say(line);
  } finally {
    await file.close();
  }
}

function printUsage(settings: UpSettings, state: ClusterState | undefined, out: ClusterOutput): void {
  const version = state?.controlPlane?.version ?? 'Kubernetes';
  out.say(`cluster ${settings.name} is up: node ${settings.name} Ready, ${version} at https://127.0.0.1:${state?.ports.apiServer ?? settings.apiServerPort}`);
  const lines = state?.mergedKubeconfig
    ? [`kubectl's current context is now ${contextName(settings.name)} (in ${state.mergedKubeconfig}):`, '  kubectl get nodes']
    : ['use it with:', `  export KUBECONFIG=${settings.layout.adminKubeconfig}`, '  kubectl get nodes'];
  lines.push(`logs: dockerlet cluster logs COMPONENT${settings.name === 'dockerlet' ? '' : ` --name ${settings.name}`}; remove it: dockerlet cluster down${settings.name === 'dockerlet' ? '' : ` --name ${settings.name}`}`);
  for (const line of lines) out.say(line);
}

/** An AbortSignal that SIGINT or SIGTERM aborts; a second one ends the process at once. */
function interruptions(out: ClusterOutput): AbortSignal {
  const controller = new AbortController();
  const onSignal = (signal: NodeJS.Signals): void => {
    if (controller.signal.aborted) process.exit(130);
    out.say(`${signal}: stopping (again to end at once, leaving processes behind)`);
    controller.abort(new Error(`interrupted by ${signal}`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return controller.signal;
}

/** This process's command line as /proc shows it to others. */
function ownCommandLine(): string {
  return commandLine(readFileSync('/proc/self/cmdline', 'utf8').replace(/\0$/, '').split('\0'));
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
