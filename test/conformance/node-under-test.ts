/**
 * The dockerlet node the suite runs against: `dockerlet up` (the kubelet and the service proxy)
 * joined to the control plane as a user would join one, serving its API with a certificate of the
 * cluster's CA on the pod bridge's gateway (the API server does not proxy to loopback), client
 * certificates and TokenReview for authentication. Its output goes to a log file. Stopping it ends
 * the process (by its pid) and removes what it left: the pods' containers, the proxy's rules and
 * sysctls, the pods' mounts and directories.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { unmountAll } from '../../agent/volumes/mounts.js';
import { Defaults } from '../../cli/options.js';
import { firstAddress, parseIpv4Cidr } from '../../common/util/ipv4.js';
import type { ControlPlane } from '../helpers/control-plane.js';
import { removeNodeContainers } from '../helpers/docker.js';
import { freePort } from '../helpers/test-node.js';
import { waitFor } from '../helpers/wait-for.js';

const run = promisify(execFile);
const DockerletBin = resolve(import.meta.dirname, '../../dist/cli/main.js');
/** The pod bridge's gateway: an address of this host the API server may proxy to, and pods reach. */
const NodeAddress = firstAddress(parseIpv4Cidr(Defaults.podCIDR)!);
const KubeletPort = 10250;
/** dockerlet stops in well under a second; one that hangs is killed. */
const StopGraceMs = 30_000;

export class NodeUnderTest {
  readonly name: string;
  readonly #dir: string;
  readonly #process: ChildProcess;
  readonly #exited: Promise<void>;

  private constructor(name: string, dir: string, child: ChildProcess) {
    this.name = name;
    this.#dir = dir;
    this.#process = child;
    this.#exited = new Promise((resolveExit) => child.once('exit', () => resolveExit()));
  }

  /** Starts the node in `dir` (its root dir and files), logging to `logFile`; resolves once the API server has it Ready. */
  static async start(plane: ControlPlane, options: { name: string; dir: string; logFile: string }): Promise<NodeUnderTest> {
    const { name, dir } = options;
    const rootDir = join(dir, 'root');
    await mkdir(rootDir, { recursive: true });
    // Pods resolve through a server on their own loopback, where none listens: no test of this
    // suite needs DNS, and no query may leave the machine.
    const resolvConf = join(dir, 'resolv.conf');
    await writeFile(resolvConf, 'nameserver 127.0.0.1\n');
    const serving = await plane.kubeletServingCert(name, NodeAddress);
    const args = [
      'up',
      '--kubeconfig', await plane.nodeKubeconfig(name),
      '--proxy-kubeconfig', await plane.proxyKubeconfig(),
      '--hostname-override', name,
      '--root-dir', rootDir,
      '--resolv-conf', resolvConf,
      '--address', NodeAddress,
      '--node-ip', NodeAddress,
      // The kubelet's port: the suite reaches nodes/<node>:10250/proxy/pods when it logs a failure.
      '--port', String(KubeletPort),
      '--read-only-port', '0',
      '--client-ca-file', plane.caFile,
      '--tls-cert-file', serving.cert,
      '--tls-private-key-file', serving.key,
      '--healthz-bind-address', `127.0.0.1:${await freePort()}`,
    ];
    const log = openSync(options.logFile, 'a');
    let child: ChildProcess;
    try {
      child = spawn(process.execPath, [DockerletBin, ...args], { stdio: ['ignore', log, log] });
    } finally {
      closeSync(log);
    }
    const node = new NodeUnderTest(name, dir, child);
    try {
      await Promise.race([
        waitFor(`node ${name} to be Ready`, async () => {
          const { status, body } = await plane.get(`/api/v1/nodes/${name}`);
          const conditions = (body as { status?: { conditions?: Array<{ type: string; status: string }> } }).status?.conditions ?? [];
          return status === 200 && conditions.some((condition) => condition.type === 'Ready' && condition.status === 'True');
        }, { timeoutMs: 60_000, intervalMs: 250 }),
        node.#exited.then(() => {
          throw new Error(`dockerlet up exited before node ${name} was Ready (exit ${child.exitCode ?? child.signalCode}); see ${options.logFile}`);
        }),
      ]);
    } catch (err) {
      await node.stop();
      throw err;
    }
    return node;
  }

  async stop(): Promise<void> {
    if (this.#process.exitCode === null && this.#process.signalCode === null) {
      this.#process.kill('SIGTERM');
      const killer = setTimeout(() => this.#process.kill('SIGKILL'), StopGraceMs);
      await this.#exited;
      clearTimeout(killer);
    }
    // dockerlet leaves pods running when it stops, as the kubelet does: the test's pods go here.
    // Every step runs, whatever the one before did; the first error is thrown at the end.
    const errors: unknown[] = [];
    const step = (action: () => Promise<unknown>): Promise<void> => action().then(() => undefined, (err: unknown) => void errors.push(err));
    await step(() => removeNodeContainers(this.name));
    await step(() => run(process.execPath, [DockerletBin, 'proxy', '--cleanup', '--root-dir', join(this.#dir, 'root')]));
    await step(() => unmountAll(this.#dir));
    await step(() => rm(this.#dir, { recursive: true, force: true }));
    if (errors.length > 0) throw errors[0];
  }
}
