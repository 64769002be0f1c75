/**
 * A real Kubernetes control plane on loopback for the cluster-mode tests: Debian's etcd, and
 * kube-apiserver and kube-controller-manager built from Debian's kubernetes source
 * (scripts/build-control-plane.sh). The API server runs as a production one would for kubelets:
 * client certificates from a CA made here with openssl, Node and RBAC authorization, the
 * NodeRestriction admission plugin, service-account tokens signed with a key made here. Every file
 * lives in a temporary directory removed by stop(), with the processes this started. No vitest
 * here: a script can start one too.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './test-node.js';
import { makeCa, makeCert, type Credentials } from './pki.js';
import { waitFor } from './wait-for.js';

const run = promisify(execFile);
const BuildScript = resolve(import.meta.dirname, '../../scripts/build-control-plane.sh');
/** The ClusterIP range: the one the host guard protects and the proxy serves. */
export const ServiceClusterIPRange = '10.96.0.0/16';

export interface ControlPlaneOptions {
  scheduler?: boolean;
  nodeMonitorGracePeriodSeconds?: number;
  /** An address of this host the API server binds, advertises and is reached on (default 127.0.0.1). */
  address?: string;
  /** Each Node's spec.podCIDR, allocated by the controller manager from `clusterCIDR` (default: none allocated). */
  allocateNodeCIDRs?: { clusterCIDR: string; nodeCIDRMaskSize: number };
}

export class ControlPlane {
  readonly dir: string;
  readonly server: string;
  /** A kubeconfig of system:masters, for kubectl and the test's own checks. */
  readonly adminKubeconfig: string;
  /** The one node whose credentials are a bearer token: its name, for nodeTokenKubeconfig(). */
  readonly tokenNodeName: string;
  readonly #components: Component[];
  readonly #admin: Credentials;
  readonly #ca: Credentials;
  /** A bearer token of a user in system:masters. */
  readonly adminToken: string;
  readonly #tokenNode: { name: string; token: string };

  private constructor(init: {
    dir: string;
    server: string;
    adminKubeconfig: string;
    components: Component[];
    admin: Credentials;
    tokenNode: { name: string; token: string };
    ca: Credentials;
    adminToken: string;
  }) {
    this.#ca = init.ca;
    this.adminToken = init.adminToken;
    this.dir = init.dir;
    this.server = init.server;
    this.adminKubeconfig = init.adminKubeconfig;
    this.#components = init.components;
    this.#admin = init.admin;
    this.#tokenNode = init.tokenNode;
    this.tokenNodeName = init.tokenNode.name;
  }

  /**
   * Builds the binaries if this machine has none yet, starts etcd, kube-apiserver and
   * kube-controller-manager, and waits until the API answers. With `scheduler`, kube-scheduler
   * too: for workloads that do not set spec.nodeName themselves (the e2e suite's).
   * `nodeMonitorGracePeriodSeconds` is how long a silent node stays Ready (default 10: tests that
   * stop a node wait less; the controller manager's own default is 40, four lease renewals, which
   * a long run wants: a renewal a little late then never flips it).
   * `address`: the API server binds and advertises this address of the host instead of 127.0.0.1
   * (its certificate names it too), for nodes in network namespaces of their own that reach the
   * host on it. `allocateNodeCIDRs`: the controller manager gives each Node a spec.podCIDR of
   * this size out of this cluster CIDR (--allocate-node-cidrs), as a cluster's pod network wants.
   */
  static async start(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
    const bin = (await run(BuildScript, [], { maxBuffer: 64 * 1024 * 1024 })).stdout.trim().split('\n').at(-1)!;
    const dir = await mkdtemp(join(tmpdir(), 'dockerlet-control-plane-'));
    const components: Component[] = [];
    try {
      const pki = join(dir, 'pki');
      await run('mkdir', ['-p', pki]);
      const ca = await makeCa(pki);
      const address = options.address ?? '127.0.0.1';
      const addressSan = options.address === undefined ? '' : `IP:${options.address},`;
      await makeCert(pki, ca, 'apiserver', '/CN=kube-apiserver', `${addressSan}IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc`);
      const admin = await makeCert(pki, ca, 'admin', '/O=system:masters/CN=kubernetes-admin');
      // How the API server reaches kubelets (logs, exec, port-forward), as kubeadm's apiserver-kubelet-client.
      const kubeletClient = await makeCert(pki, ca, 'apiserver-kubelet-client', '/O=system:masters/CN=kube-apiserver-kubelet-client');
      // A node that authenticates with a bearer token rather than a certificate (a static token file).
      const tokenNode = { name: `token-node-${process.pid}`, token: randomBytes(16).toString('hex') };
      // And a cluster admin with a bearer token, for tests of clients that bring tokens.
      const adminToken = randomBytes(16).toString('hex');
      await writeFile(join(pki, 'tokens.csv'), `${tokenNode.token},system:node:${tokenNode.name},${tokenNode.name},system:nodes\n${adminToken},token-admin,token-admin,system:masters\n`);
      await run('openssl', ['genrsa', '-out', join(pki, 'sa.key'), '2048']);
      await run('openssl', ['rsa', '-in', join(pki, 'sa.key'), '-pubout', '-out', join(pki, 'sa.pub')]);

      const [etcdClient, etcdPeer, securePort] = [await freePort(), await freePort(), await freePort()];
      const log = (name: string): string => join(dir, `${name}.log`);
      components.push(
        await Component.start('etcd', 'etcd', [
          '--name', 'test', '--data-dir', join(dir, 'etcd'),
          '--listen-client-urls', `http://127.0.0.1:${etcdClient}`, '--advertise-client-urls', `http://127.0.0.1:${etcdClient}`,
          '--listen-peer-urls', `http://127.0.0.1:${etcdPeer}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${etcdPeer}`,
          '--initial-cluster', `test=http://127.0.0.1:${etcdPeer}`,
        ], log('etcd')),
      );
      components.push(
        await Component.start('kube-apiserver', join(bin, 'kube-apiserver'), [
          '--etcd-servers', `http://127.0.0.1:${etcdClient}`,
          '--bind-address', address, '--advertise-address', address, '--secure-port', String(securePort), '--insecure-port', '0',
          '--tls-cert-file', join(pki, 'apiserver.crt'), '--tls-private-key-file', join(pki, 'apiserver.key'),
          '--client-ca-file', join(pki, 'ca.crt'), '--token-auth-file', join(pki, 'tokens.csv'),
          '--service-account-key-file', join(pki, 'sa.pub'), '--service-account-signing-key-file', join(pki, 'sa.key'),
          '--service-account-issuer', 'https://kubernetes.default.svc.cluster.local',
          '--authorization-mode', 'Node,RBAC', '--enable-admission-plugins', 'NodeRestriction',
          // As kubeadm and the e2e clusters run it: privileged pods are the node's to allow or refuse.
          '--allow-privileged=true',
          '--service-cluster-ip-range', ServiceClusterIPRange,
          '--kubelet-client-certificate', kubeletClient.cert, '--kubelet-client-key', kubeletClient.key,
          // Kubelets serve with certificates this CA signs (kubeletServingCert); nodes are reached on their InternalIP.
          '--kubelet-certificate-authority', ca.cert, '--kubelet-preferred-address-types', 'InternalIP',
          // 127.0.0.1 is not a valid endpoint address for the kubernetes Service.
          '--endpoint-reconciler-type', 'none',
        ], log('kube-apiserver')),
      );
      const server = `https://${address}:${securePort}`;
      const adminKubeconfig = join(dir, 'admin.kubeconfig');
      await writeFile(adminKubeconfig, kubeconfig(server, join(pki, 'ca.crt'), admin, 'kubernetes-admin'));
      const plane = new ControlPlane({ dir, server, adminKubeconfig, components, admin, tokenNode, ca, adminToken });
      await plane.#waitReady();
      components.push(
        await Component.start('kube-controller-manager', join(bin, 'kube-controller-manager'), [
          '--kubeconfig', adminKubeconfig, '--leader-elect=false', '--port', '0', '--secure-port', '0',
          '--service-account-private-key-file', join(pki, 'sa.key'), '--root-ca-file', join(pki, 'ca.crt'),
          '--use-service-account-credentials', '--controllers', '*',
          '--node-monitor-grace-period', `${options.nodeMonitorGracePeriodSeconds ?? 10}s`, '--node-monitor-period', '1s',
          ...(options.allocateNodeCIDRs === undefined
            ? []
            : ['--allocate-node-cidrs', '--cluster-cidr', options.allocateNodeCIDRs.clusterCIDR, '--node-cidr-mask-size', String(options.allocateNodeCIDRs.nodeCIDRMaskSize)]),
        ], log('kube-controller-manager')),
      );
      if (options.scheduler) {
        components.push(
          await Component.start('kube-scheduler', join(bin, 'kube-scheduler'), ['--kubeconfig', adminKubeconfig, '--leader-elect=false', '--port', '0', '--secure-port', '0'], log('kube-scheduler')),
        );
      }
      // Pods are refused until their namespace's default ServiceAccount has its token (1.20's
      // ServiceAccount admission): the controller-manager makes both.
      await waitFor('the default ServiceAccount and its token', async () => {
        const { status, body } = await plane.get('/api/v1/namespaces/default/serviceaccounts/default');
        return status === 200 && ((body as { secrets?: unknown[] }).secrets?.length ?? 0) > 0;
      }, { timeoutMs: 60_000, intervalMs: 250 });
      return plane;
    } catch (err) {
      for (const component of components.reverse()) await component.stop();
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
  }

  get caFile(): string {
    return join(this.dir, 'pki', 'ca.crt');
  }

  /** A kubeconfig for the node `name` as kubelets get one: system:node:<name> in system:nodes. */
  async nodeKubeconfig(name: string): Promise<string> {
    const pki = join(this.dir, 'pki');
    const credentials = await makeCert(pki, this.#ca, `node-${name}`, `/O=system:nodes/CN=system:node:${name}`);
    const path = join(this.dir, `node-${name}.kubeconfig`);
    await writeFile(path, kubeconfig(this.server, this.caFile, credentials, `system:node:${name}`));
    return path;
  }

  /** A serving certificate for a kubelet reached at `ip`, signed by the CA the API server checks kubelets with. */
  kubeletServingCert(name: string, ip: string): Promise<Credentials> {
    return makeCert(join(this.dir, 'pki'), this.#ca, `kubelet-serving-${name}`, `/CN=${name}`, `IP:${ip},DNS:${name}`);
  }

  /** A client certificate of the cluster's CA for `user` in `groups`. */
  clientCert(user: string, groups: readonly string[] = []): Promise<Credentials> {
    return makeCert(join(this.dir, 'pki'), this.#ca, `user-${user}`, `${groups.map((group) => `/O=${group}`).join('')}/CN=${user}`);
  }

  /** A kubeconfig for the service proxy as kube-proxy gets one: system:kube-proxy, bound to the ClusterRole system:node-proxier. */
  async proxyKubeconfig(): Promise<string> {
    const path = join(this.dir, 'kube-proxy.kubeconfig');
    const credentials = await makeCert(join(this.dir, 'pki'), this.#ca, 'kube-proxy', '/CN=system:kube-proxy');
    await writeFile(path, kubeconfig(this.server, this.caFile, credentials, 'system:kube-proxy'));
    return path;
  }

  /** A kubeconfig for the node tokenNodeName that authenticates with its bearer token. */
  async nodeTokenKubeconfig(): Promise<string> {
    const path = join(this.dir, 'token-node.kubeconfig');
    await writeFile(path, kubeconfig(this.server, this.caFile, { token: this.#tokenNode.token }, `system:node:${this.#tokenNode.name}`));
    return path;
  }

  /** kubectl as cluster admin; resolves with stdout. */
  async kubectl(...args: string[]): Promise<string> {
    return (await run('kubectl', ['--kubeconfig', this.adminKubeconfig, ...args], { maxBuffer: 16 * 1024 * 1024 })).stdout;
  }

  /**
   * kubectl as cluster admin, left running (logs -f, port-forward, attach): `input` is written
   * to its stdin, which is then closed unless `keepStdinOpen`. Stopped by stop(), and when the
   * test ends, by the caller's cleanup.
   */
  startKubectl(args: readonly string[], options: KubectlOptions = {}): RunningKubectl {
    return new RunningKubectl(['--kubeconfig', this.adminKubeconfig, ...args], options);
  }

  /** kubectl as cluster admin, to its end: its exit code and both outputs, whatever the code. */
  kubectlResult(args: readonly string[], options: KubectlOptions = {}): Promise<{ code: number; stdout: string; stderr: string }> {
    return this.startKubectl(args, options).exited;
  }

  /** A GET as cluster admin: the status and the body parsed when it is JSON. */
  get(path: string): Promise<{ status: number; body: unknown }> {
    return this.request('GET', path);
  }

  /** A request as cluster admin, with a JSON body if given: the status and the body parsed when it is JSON. */
  async request(method: string, path: string, json?: unknown): Promise<{ status: number; body: unknown }> {
    const [cert, key, ca] = await Promise.all([readFile(this.#admin.cert), readFile(this.#admin.key), readFile(this.caFile)]);
    const payload = json === undefined ? undefined : JSON.stringify(json);
    const headers = payload === undefined ? {} : { 'Content-Type': 'application/json' };
    return new Promise((resolvePromise, reject) => {
      const req = request(`${this.server}${path}`, { method, headers, cert, key, ca }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => {
          let body: unknown = text;
          try {
            body = JSON.parse(text);
          } catch {
            // Not JSON (/readyz answers "ok"): the text is the body.
          }
          resolvePromise({ status: res.statusCode ?? 0, body });
        });
      });
      req.on('error', reject);
      req.end(payload);
    });
  }

  /** The last lines a component logged, for a failure's message. */
  async logTail(component: 'etcd' | 'kube-apiserver' | 'kube-controller-manager' | 'kube-scheduler', lines = 20): Promise<string> {
    const text = await readFile(join(this.dir, `${component}.log`), 'utf8').catch(() => '');
    return text.split('\n').slice(-lines).join('\n');
  }

  /** An API outage: kube-apiserver stops (etcd and the data stay). */
  async stopApiServer(): Promise<void> {
    await this.#component('kube-apiserver').stop();
  }

  /** The end of the outage: kube-apiserver starts again on the same port and data; resolves once it is ready. */
  async startApiServer(): Promise<void> {
    await this.#component('kube-apiserver').restart();
    await this.#waitReady();
  }

  /** Stops every process this started, last started first, and removes the directory. */
  async stop(): Promise<void> {
    for (const component of [...this.#components].reverse()) await component.stop();
    await rm(this.dir, { recursive: true, force: true });
  }

  #component(name: string): Component {
    return this.#components.find((component) => component.name === name)!;
  }

  async #waitReady(): Promise<void> {
    await waitFor('kube-apiserver to be ready', async () => (await this.get('/readyz')).status === 200, { timeoutMs: 60_000, intervalMs: 250 });
  }
}

/** One process of the control plane, its output appended to a log file; it can be stopped and started again. */
class Component {
  readonly name: string;
  readonly #command: string;
  readonly #args: readonly string[];
  readonly #logFile: string;
  #child: ChildProcess | undefined;

  private constructor(name: string, command: string, args: readonly string[], logFile: string) {
    this.name = name;
    this.#command = command;
    this.#args = args;
    this.#logFile = logFile;
  }

  static async start(name: string, command: string, args: readonly string[], logFile: string): Promise<Component> {
    const component = new Component(name, command, args, logFile);
    await component.restart();
    return component;
  }

  /** Starts the process unless it is running. */
  async restart(): Promise<void> {
    if (this.#child && this.#child.exitCode === null && this.#child.signalCode === null) return;
    const fd = openSync(this.#logFile, 'a');
    const child = spawn(this.#command, this.#args, { stdio: ['ignore', fd, fd] });
    closeSync(fd);
    await new Promise<void>((resolvePromise, reject) => {
      child.once('spawn', () => resolvePromise());
      child.once('error', (err) => reject(new Error(`${this.#command} did not start: ${err.message}`)));
    });
    this.#child = child;
  }

  /** SIGTERM, then SIGKILL after 10 s. */
  async stop(): Promise<void> {
    const child = this.#child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolvePromise) => child.once('exit', resolvePromise));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
}

/** A kubeconfig for `user`, who authenticates with a client certificate or a bearer token. */
function kubeconfig(server: string, ca: string, credentials: Credentials | { token: string }, user: string): string {
  const auth = 'token' in credentials ? { token: credentials.token } : { 'client-certificate': credentials.cert, 'client-key': credentials.key };
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'test', cluster: { server, 'certificate-authority': ca } }],
    users: [{ name: user, user: auth }],
    contexts: [{ name: 'test', context: { cluster: 'test', user } }],
    'current-context': 'test',
  });
}

export interface KubectlOptions {
  /** Written to kubectl's stdin, which is then closed unless `keepStdinOpen`. */
  input?: string;
  keepStdinOpen?: boolean;
  /** Added to kubectl's environment (KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false for SPDY). */
  env?: Record<string, string>;
}

/** A kubectl process of a test: its output so far, a wait for the output to say something, its end. */
export class RunningKubectl {
  stdout = '';
  stderr = '';
  readonly exited: Promise<{ code: number; stdout: string; stderr: string }>;
  readonly #child: ChildProcess;

  constructor(args: readonly string[], options: KubectlOptions) {
    const child = spawn('kubectl', args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...options.env } });
    this.#child = child;
    child.stdout!.on('data', (chunk: Buffer) => (this.stdout += chunk.toString('utf8')));
    child.stderr!.on('data', (chunk: Buffer) => (this.stderr += chunk.toString('utf8')));
    this.exited = new Promise((resolvePromise) => child.on('close', (code, signal) => resolvePromise({ code: code ?? (signal ? 128 : -1), stdout: this.stdout, stderr: this.stderr })));
    if (options.input !== undefined) child.stdin!.write(options.input);
    if (!options.keepStdinOpen) child.stdin!.end();
  }

  /** Resolves with the output once `done(stdout)` holds; rejects if kubectl exits first or `timeoutMs` passes. */
  async until(done: (stdout: string) => boolean, timeoutMs = 30_000): Promise<string> {
    let ended = false;
    void this.exited.then(() => (ended = true));
    await waitFor(`kubectl ${this.#child.spawnargs.slice(3).join(' ')} to print what is expected`, () => {
      if (done(this.stdout)) return true;
      if (ended) throw new Error(`kubectl exited first: stdout ${JSON.stringify(this.stdout)}, stderr ${JSON.stringify(this.stderr)}`);
      return false;
    }, { timeoutMs, intervalMs: 50 });
    return this.stdout;
  }

  write(input: string): void {
    this.#child.stdin!.write(input);
  }

  /** SIGTERM to this kubectl (by its process object), and its end. */
  async stop(): Promise<void> {
    if (this.#child.exitCode === null && this.#child.signalCode === null) this.#child.kill();
    await this.exited;
  }
}
