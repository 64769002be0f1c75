/**
 * A throwaway network lab for the iptables tests: a "host" network namespace with its own
 * iptables tables, and a "pod" namespace joined to it by a veth pair. Nothing here touches the
 * machine's own namespace: every command runs under `ip netns exec`, and destroy() deletes both
 * namespaces (with their tables, conntrack entries and links) and stops the processes it started.
 *
 *   host ns  dkl0 10.244.0.1/24, route 10.96.0.0/16 -> dkl0, ip_forward=1
 *      │ veth
 *   pod ns   eth0 10.244.0.2/24 + 10.244.0.3/24, default via 10.244.0.1
 *            TCP :8080 and UDP :5353 on both addresses, answering "<local address> <peer address>"
 *
 * With an outside client (withPod({ outside: true })), a third namespace stands for a machine
 * on the node's network, reaching the node's NodePorts from elsewhere:
 *   host ns  dkl1 192.168.99.1/24
 *      │ veth
 *   outside  eth0 192.168.99.2/24, default via 192.168.99.1
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';

export const HostIP = '10.244.0.1';
/** The host's address on the outside client's network, and the client's. */
export const HostOutsideIP = '192.168.99.1';
export const OutsideIP = '192.168.99.2';
export const PodIPs = ['10.244.0.2', '10.244.0.3'] as const;
export const TcpPort = 8080;
export const UdpPort = 5353;

/** What the machine's tables look like, in miniature: Docker's nat chain and setup-host.sh's guard. */
export const HostTables = `*nat
:DOCKER - [0:0]
-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
-A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER
-A DOCKER -i docker0 -j RETURN
COMMIT
*filter
:DOCKERLET-SERVICE-GUARD - [0:0]
-A OUTPUT ! -o lo -j DOCKERLET-SERVICE-GUARD
-A FORWARD -j DOCKERLET-SERVICE-GUARD
-A DOCKERLET-SERVICE-GUARD -d 10.96.0.0/16 -p tcp -j REJECT --reject-with tcp-reset
-A DOCKERLET-SERVICE-GUARD -d 10.96.0.0/16 -j REJECT --reject-with icmp-port-unreachable
COMMIT
`;

export interface RunResult {
  stdout: string;
  stderr: string;
  code: number;
}

/** Runs a command (no shell) and collects its output; never rejects for a failing command. */
export function run(command: string, args: readonly string[], stdin?: string): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', (err) => (stderr += err.message));
    child.stdin.on('error', () => undefined);
    child.on('close', (code) => resolve({ stdout, stderr, code: code ?? 1 }));
    child.stdin.end(stdin ?? '');
  });
}

const ServerScript = `
const net = require('node:net');
const dgram = require('node:dgram');
const [ips, tcpPort, udpPort] = [JSON.parse(process.argv[1]), Number(process.argv[2]), Number(process.argv[3])];
let pending = ips.length * 2;
const ready = () => { if (--pending === 0) process.stdout.write('ready\\n'); };
for (const ip of ips) {
  net.createServer((c) => c.end(c.localAddress + ' ' + c.remoteAddress + '\\n')).listen(tcpPort, ip, ready);
  const u = dgram.createSocket('udp4');
  u.on('message', (_m, r) => u.send(ip + ' ' + r.address, r.port, r.address));
  u.bind(udpPort, ip, ready);
}
`;

/** Runs the ops given as JSON in argv[1] in order, and prints one JSON result per op. */
const ClientScript = `
const net = require('node:net');
const dgram = require('node:dgram');
const ops = JSON.parse(process.argv[1]);
function tcp(op) {
  return new Promise((resolve) => {
    const s = net.connect({ host: op.host, port: op.port });
    let data = '';
    s.setTimeout(3000, () => { s.destroy(); resolve({ error: 'ETIMEDOUT' }); });
    s.on('data', (d) => (data += d));
    s.on('end', () => resolve({ reply: data.trim() }));
    s.on('error', (e) => resolve({ error: e.code }));
  });
}
function udp(op) {
  return new Promise((resolve) => {
    const u = dgram.createSocket('udp4');
    const timer = setTimeout(() => { u.close(); resolve({ error: 'ETIMEDOUT' }); }, 2000);
    u.on('message', (m, r) => { clearTimeout(timer); u.close(); resolve({ reply: m.toString(), from: r.address + ':' + r.port }); });
    u.on('error', (e) => { clearTimeout(timer); resolve({ error: e.code }); });
    u.bind(op.sourcePort ?? 0, () => u.send('ping', op.port, op.host));
  });
}
(async () => {
  const out = [];
  for (const op of ops) out.push(op.kind === 'udp' ? await udp(op) : await tcp(op));
  process.stdout.write(JSON.stringify(out));
})();
`;

export interface TcpOp {
  kind: 'tcp';
  host: string;
  port: number;
}
export interface UdpOp {
  kind: 'udp';
  host: string;
  port: number;
  sourcePort?: number;
}
export interface OpResult {
  reply?: string;
  error?: string;
  from?: string;
}

export class NetnsLab {
  readonly host: string;
  readonly pod: string;
  /** The outside client's namespace (withPod({ outside: true })). */
  readonly outside: string;
  #server: ChildProcess | undefined;
  #created: string[] = [];

  private constructor(id: string) {
    this.host = `dkl-ipt-${id}`;
    this.pod = `dkl-ipt-${id}-p`;
    this.outside = `dkl-ipt-${id}-o`;
  }

  /** Only the host namespace (for tests that need tables but no traffic). */
  static async bare(): Promise<NetnsLab> {
    const lab = new NetnsLab(randomBytes(4).toString('hex'));
    await lab.#add(lab.host);
    try {
      await lab.in(lab.host, 'ip', ['link', 'set', 'lo', 'up']);
      // A new namespace copies the machine's IPv4 settings, and a proxy that ran here (or still
      // runs) leaves route_localnet at 1: start from the kernel's default, as a fresh host does.
      await lab.in(lab.host, 'sysctl', ['-q', '-w', 'net.ipv4.conf.all.route_localnet=0']);
    } catch (err) {
      await lab.destroy();
      throw err;
    }
    return lab;
  }

  /** Both namespaces, the veth pair, and the servers in the pod namespace; with `outside`, the outside client's namespace too. */
  static async withPod(options: { outside?: boolean } = {}): Promise<NetnsLab> {
    const lab = await NetnsLab.bare();
    try {
      await lab.#add(lab.pod);
      const { host, pod } = lab;
      // The veth is created inside the host namespace and its peer moved straight to the pod's.
      await lab.in(host, 'ip', ['link', 'add', 'dkl0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', pod]);
      await lab.in(host, 'ip', ['addr', 'add', `${HostIP}/24`, 'dev', 'dkl0']);
      await lab.in(host, 'ip', ['link', 'set', 'dkl0', 'up']);
      // Like the host setup: the service CIDR is routed to a local device, so connect() reaches nat OUTPUT.
      await lab.in(host, 'ip', ['route', 'add', '10.96.0.0/16', 'dev', 'dkl0']);
      await lab.in(host, 'sysctl', ['-q', '-w', 'net.ipv4.ip_forward=1']);
      await lab.in(pod, 'ip', ['link', 'set', 'lo', 'up']);
      for (const ip of PodIPs) await lab.in(pod, 'ip', ['addr', 'add', `${ip}/24`, 'dev', 'eth0']);
      await lab.in(pod, 'ip', ['link', 'set', 'eth0', 'up']);
      await lab.in(pod, 'ip', ['route', 'add', 'default', 'via', HostIP]);
      if (options.outside) {
        const { outside } = lab;
        await lab.#add(outside);
        await lab.in(host, 'ip', ['link', 'add', 'dkl1', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', outside]);
        await lab.in(host, 'ip', ['addr', 'add', `${HostOutsideIP}/24`, 'dev', 'dkl1']);
        await lab.in(host, 'ip', ['link', 'set', 'dkl1', 'up']);
        await lab.in(outside, 'ip', ['link', 'set', 'lo', 'up']);
        await lab.in(outside, 'ip', ['addr', 'add', `${OutsideIP}/24`, 'dev', 'eth0']);
        await lab.in(outside, 'ip', ['link', 'set', 'eth0', 'up']);
        await lab.in(outside, 'ip', ['route', 'add', 'default', 'via', HostOutsideIP]);
      }
      await lab.#startServers();
      return lab;
    } catch (err) {
      await lab.destroy();
      throw err;
    }
  }

  /** Runs a command in namespace `ns`; throws if it fails. */
  async in(ns: string, command: string, args: readonly string[], stdin?: string): Promise<RunResult> {
    const result = await run('ip', ['netns', 'exec', ns, command, ...args], stdin);
    if (result.code !== 0) throw new Error(`ip netns exec ${ns} ${command} ${args.join(' ')}: exit ${result.code}: ${result.stderr.trim()}`);
    return result;
  }

  /** Runs TCP/UDP requests from namespace `ns` (the host one by default), in one client process. */
  async requests(ops: ReadonlyArray<TcpOp | UdpOp>, ns = this.host): Promise<OpResult[]> {
    const result = await this.in(ns, process.execPath, ['-e', ClientScript, JSON.stringify(ops)]);
    return JSON.parse(result.stdout) as OpResult[];
  }

  async destroy(): Promise<void> {
    if (this.#server && this.#server.exitCode === null) {
      this.#server.kill('SIGKILL');
      await once(this.#server, 'close').catch(() => undefined);
    }
    for (const ns of this.#created.reverse()) await run('ip', ['netns', 'del', ns]);
    this.#created = [];
  }

  async #add(ns: string): Promise<void> {
    const result = await run('ip', ['netns', 'add', ns]);
    if (result.code !== 0) throw new Error(`ip netns add ${ns}: ${result.stderr.trim()}`);
    this.#created.push(ns);
  }

  async #startServers(): Promise<void> {
    const child = spawn('ip', ['netns', 'exec', this.pod, process.execPath, '-e', ServerScript, JSON.stringify(PodIPs), String(TcpPort), String(UdpPort)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.#server = child;
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the pod's servers did not start: ${stderr}`)), 10_000);
      child.stdout.on('data', (c: Buffer) => {
        if (c.toString().includes('ready')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.on('close', (code) => {
        clearTimeout(timer);
        reject(new Error(`the pod's servers exited (${code}): ${stderr}`));
      });
    });
  }
}
