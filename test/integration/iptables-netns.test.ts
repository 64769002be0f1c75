/**
 * The iptables datapath on real iptables, conntrack and packets, each test inside network
 * namespaces of its own (netns-lab.ts): the machine's own tables, with Docker's rules and the
 * service CIDR guard, are never read or written here.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { detectIptablesBackend } from '../../proxy/datapath/iptables/backend.js';
import { ExecCommandRunner, type CommandResult, type CommandRunner } from '../../common/util/command-runner.js';
import { IptablesProxier } from '../../proxy/datapath/iptables/iptables-proxier.js';
import type { EndpointInfo, ProxyState, ServicePortInfo } from '../../proxy/datapath/proxier.js';
import { proxyState, servicePort } from '../helpers/iptables-fixtures.js';
import { HostIP, HostOutsideIP, HostTables, NetnsLab, OutsideIP, PodIPs, TcpPort, UdpPort } from '../helpers/netns-lab.js';
import { parseIpv4Cidr } from '../../common/util/ipv4.js';

const [PodA, PodB] = PodIPs;
const silent = pino({ level: 'silent' });

/** Records each command (as "command args...") and what each iptables-restore was given. */
class RecordingRunner implements CommandRunner {
  readonly commands: string[] = [];
  readonly stdin: string[] = [];
  readonly #inner: CommandRunner;

  constructor(inner: CommandRunner) {
    this.#inner = inner;
  }

  run(command: string, args: readonly string[], stdin?: string): Promise<CommandResult> {
    this.commands.push([command, ...args].join(' '));
    if (command.endsWith('-restore')) this.stdin.push(stdin ?? '');
    return this.#inner.run(command, args, stdin);
  }
}

describe('iptables datapath in a network namespace', () => {
  let lab: NetnsLab | undefined;
  let stateDir: string;

  beforeEach(async () => {
    stateDir = await mkdtemp(join(tmpdir(), 'dkl-iptables-netns-'));
  });

  afterEach(async () => {
    await lab?.destroy();
    lab = undefined;
    await rm(stateDir, { recursive: true, force: true });
  });

  async function hostLab(withPod: boolean, outside = false): Promise<NetnsLab> {
    lab = withPod ? await NetnsLab.withPod({ outside }) : await NetnsLab.bare();
    await lab.in(lab.host, 'iptables-nft-restore', ['--noflush'], HostTables);
    return lab;
  }

  function proxierIn(l: NetnsLab, runner: CommandRunner = new ExecCommandRunner({ netns: l.host })): IptablesProxier {
    return new IptablesProxier({ serviceCIDR: parseIpv4Cidr('10.96.0.0/16')!, podCIDR: parseIpv4Cidr('10.244.0.0/16')!, stateDir, logger: silent, runner });
  }

  /** iptables-nft-save of the lab's host namespace, without the header comments and counters. */
  async function save(l: NetnsLab, table?: 'nat' | 'filter'): Promise<string> {
    const out = await l.in(l.host, 'iptables-nft-save', table ? ['-t', table] : []);
    return out.stdout
      .split('\n')
      .filter((line) => !line.startsWith('#'))
      .map((line) => line.replace(/\[\d+:\d+\]$/, '[0:0]'))
      .join('\n');
  }

  const sysctl = async (l: NetnsLab): Promise<string> => (await l.in(l.host, 'sysctl', ['-n', 'net.ipv4.conf.all.route_localnet'])).stdout.trim();

  const web = servicePort({ clusterIP: '10.96.0.10', port: 80, nodePort: 30080 });
  const empty = servicePort({ name: 'empty', clusterIP: '10.96.0.11', port: 80, nodePort: 30081 });
  const dns = servicePort({ name: 'dns', portName: 'dns', protocol: 'UDP', clusterIP: '10.96.0.53', port: 53 });

  it('applies the rules with the jumps exactly once, and a resync leaves Docker’s rules and the guard as they were', async () => {
    const l = await hostLab(false);
    const proxier = proxierIn(l);
    const state = proxyState([web, [`${PodA}:${TcpPort}`, `${PodB}:${TcpPort}`]], [empty, []]);
    await proxier.sync(state);
    await proxier.sync(state);
    const restarted = new RecordingRunner(new ExecCommandRunner({ netns: l.host }));
    await proxierIn(l, restarted).sync(state);
    // A restarted process finds everything in place: it reads, restores, and changes nothing else.
    expect(restarted.commands).toEqual([
      'iptables-nft-save',
      'iptables-legacy-save',
      'iptables-nft-restore -w 5 --noflush',
      'sysctl -n net.ipv4.conf.all.route_localnet',
    ]);

    const nat = await save(l, 'nat');
    const filter = await save(l, 'filter');
    for (const [text, chain, target] of [
      [nat, 'PREROUTING', 'DOCKERLET-SERVICES'],
      [nat, 'OUTPUT', 'DOCKERLET-SERVICES'],
      [nat, 'POSTROUTING', 'DOCKERLET-POSTROUTING'],
      [filter, 'OUTPUT', 'DOCKERLET-SERVICES'],
      [filter, 'FORWARD', 'DOCKERLET-SERVICES'],
      [filter, 'INPUT', 'DOCKERLET-EXTERNAL-SERVICES'],
      [filter, 'FORWARD', 'DOCKERLET-EXTERNAL-SERVICES'],
      [filter, 'INPUT', 'DOCKERLET-FIREWALL'],
    ] as const) {
      const jumps = text.split('\n').filter((line) => line.startsWith(`-A ${chain} `) && line.endsWith(`-j ${target}`));
      expect({ chain, target, jumps: jumps.length }).toEqual({ chain, target, jumps: 1 });
    }
    // Ours come first in the built-in chains, the rest are untouched.
    expect(nat).toContain('-A PREROUTING -m comment --comment "dockerlet service portals" -j DOCKERLET-SERVICES\n-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER');
    expect(nat).toContain('-A DOCKER -i docker0 -j RETURN');
    expect(filter).toContain('-A DOCKERLET-SERVICE-GUARD -d 10.96.0.0/16 -p tcp -j REJECT --reject-with tcp-reset');
    expect(filter).toContain('-A FORWARD -j DOCKERLET-SERVICE-GUARD');
    expect(filter).toContain('-A DOCKERLET-SERVICES -d 10.96.0.11/32 -p tcp -m comment --comment "default/empty:http has no endpoints" -m tcp --dport 80 -j REJECT');
    expect(nat.match(/-j DNAT --to-destination/g)).toHaveLength(2);
    expect(await sysctl(l)).toBe('1');
  });

  it('deletes the chains of services and endpoints that went away, also those an earlier process left', async () => {
    const l = await hostLab(false);
    await proxierIn(l).sync(proxyState([web, [`${PodA}:${TcpPort}`, `${PodB}:${TcpPort}`]], [dns, [`${PodA}:${UdpPort}`]]));
    expect((await save(l, 'nat')).match(/^:DOCKERLET-(SVC|EXT|SEP)-/gm)).toHaveLength(6);

    // Same process: known from the previous sync.
    const proxier = proxierIn(l);
    await proxier.sync(proxyState([web, [`${PodA}:${TcpPort}`, `${PodB}:${TcpPort}`]], [dns, [`${PodA}:${UdpPort}`]]));
    await proxier.sync(proxyState([web, [`${PodB}:${TcpPort}`]]));
    expect((await save(l, 'nat')).match(/^:DOCKERLET-(SVC|EXT|SEP)-\S+/gm)?.sort()).toEqual([
      ':DOCKERLET-EXT-CDGGSHYLG3RE2F',
      ':DOCKERLET-SEP-TCD3IFXQZW3ZEZ',
      ':DOCKERLET-SVC-CDGGSHYLG3RE2F',
    ]);

    // A new process: known from iptables-save.
    await proxierIn(l).sync(proxyState());
    expect(await save(l, 'nat')).not.toMatch(/DOCKERLET-(SVC|EXT|SEP)-/);
  });

  it('cleanup() leaves the tables exactly as they were before, guard included, and restores route_localnet', async () => {
    const l = await hostLab(false);
    const before = await save(l);
    const proxier = proxierIn(l);
    await proxier.sync(proxyState([web, [`${PodA}:${TcpPort}`]], [dns, [`${PodA}:${UdpPort}`]], [empty, []]));
    expect(await sysctl(l)).toBe('1');
    expect(await readFile(join(stateDir, 'iptables-route-localnet'), 'utf8')).toBe('0\n');

    await proxierIn(l).cleanup(); // another process, as `dockerlet proxy --cleanup` would be
    expect(await save(l)).toBe(before);
    expect(await sysctl(l)).toBe('0');
    await proxier.cleanup(); // idempotent
    expect(await save(l)).toBe(before);
  });

  it('stop() leaves the rules in place', async () => {
    const l = await hostLab(false);
    const proxier = proxierIn(l);
    await proxier.sync(proxyState([web, [`${PodA}:${TcpPort}`]]));
    const synced = await save(l);
    await proxier.stop();
    expect(await save(l)).toBe(synced);
  });

  it('syncs 1,000 services with 2 endpoints each; a later sync rewrites only the chains that changed', async () => {
    const l = await hostLab(false);
    const runner = new RecordingRunner(new ExecCommandRunner({ netns: l.host }));
    const proxier = proxierIn(l, runner);
    const big = (shift: number): ProxyState => {
      const entries: Array<[ServicePortInfo, string[]]> = [];
      for (let i = 0; i < 1000; i++) {
        const sp = servicePort({ name: `svc-${i}`, clusterIP: `10.96.${Math.floor(i / 250) + 1}.${(i % 250) + 1}`, port: 80 });
        entries.push([sp, [`10.244.${(i + shift) % 200}.2:8080`, `10.244.${(i + shift) % 200}.3:8080`]]);
      }
      return proxyState(...entries);
    };
    const restoredLines = (): number => runner.stdin.at(-1)!.split('\n').filter((line) => line.startsWith('-A DOCKERLET-S')).length;

    await proxier.sync(big(0));
    const full = restoredLines();
    const oneChanged = big(0);
    (oneChanged.endpoints as Map<string, EndpointInfo[]>).set('default/svc-7:http', [{ ip: '10.244.9.9', port: 8080 }]);
    await proxier.sync(oneChanged);
    const partial = restoredLines();
    await proxier.sync(big(1)); // every endpoint replaced: 3,000 chains written, 2,000 deleted

    expect((await save(l, 'nat')).match(/^:DOCKERLET-SEP-/gm)).toHaveLength(2000);
    // The partial sync writes the 1,000 jumps of DOCKERLET-SERVICES and svc-7's chains only.
    expect(full).toBeGreaterThan(5000);
    expect(partial).toBeLessThan(1010);
  });

  it('detects the backend whose nat table has Docker’s chain inside the namespace', async () => {
    const l = await hostLab(false); // HostTables put DOCKER in the nft nat table
    expect((await detectIptablesBackend(new ExecCommandRunner({ netns: l.host }))).backend).toBe('nft');
    await l.in(l.host, 'iptables-nft', ['-t', 'nat', '-F']);
    await l.in(l.host, 'iptables-nft', ['-t', 'nat', '-X', 'DOCKER']);
    await l.in(l.host, 'iptables-legacy', ['-t', 'nat', '-N', 'DOCKER']);
    expect((await detectIptablesBackend(new ExecCommandRunner({ netns: l.host }))).backend).toBe('legacy');
  });

  describe('traffic', () => {
    it('reaches a ClusterIP’s endpoints, follows endpoint changes, and is refused at once with no endpoints', async () => {
      const l = await hostLab(true);
      const proxier = proxierIn(l);
      await proxier.sync(proxyState([web, [`${PodA}:${TcpPort}`]], [empty, []]));
      const [toA, refused, refusedNodePort] = await l.requests([
        { kind: 'tcp', host: '10.96.0.10', port: 80 },
        { kind: 'tcp', host: '10.96.0.11', port: 80 },
        { kind: 'tcp', host: '127.0.0.1', port: 30081 },
      ]);
      expect(toA!.reply).toBe(`${PodA} ${HostIP}`);
      expect(refused).toMatchObject({ error: 'ECONNREFUSED' });
      expect(refusedNodePort).toMatchObject({ error: 'ECONNREFUSED' });

      await proxier.sync(proxyState([web, [`${PodB}:${TcpPort}`]], [empty, []]));
      const [toB] = await l.requests([{ kind: 'tcp', host: '10.96.0.10', port: 80 }]);
      expect(toB!.reply).toBe(`${PodB} ${HostIP}`);
    });

    it('spreads connections over both endpoints', async () => {
      const l = await hostLab(true);
      await proxierIn(l).sync(proxyState([web, [`${PodA}:${TcpPort}`, `${PodB}:${TcpPort}`]]));
      const results = await l.requests(Array.from({ length: 24 }, () => ({ kind: 'tcp' as const, host: '10.96.0.10', port: 80 })));
      const servedBy = new Set(results.map((r) => r.reply?.split(' ')[0]));
      // Each connection picks at random: both in 24 tries fails with probability 2^-23.
      expect(servedBy).toEqual(new Set([PodA, PodB]));
    });

    it('answers a NodePort on 127.0.0.1 (route_localnet, masqueraded to the host’s address)', async () => {
      const l = await hostLab(true);
      await proxierIn(l).sync(proxyState([web, [`${PodA}:${TcpPort}`]]));
      const [local] = await l.requests([{ kind: 'tcp', host: '127.0.0.1', port: 30080 }]);
      expect(local!.reply).toBe(`${PodA} ${HostIP}`);
    });

    it('masquerades a pod reaching itself through its own Service (hairpin)', async () => {
      const l = await hostLab(true);
      await proxierIn(l).sync(proxyState([web, [`${PodA}:${TcpPort}`]]));
      const [self] = await l.requests([{ kind: 'tcp', host: '10.96.0.10', port: 80 }], l.pod);
      // Without the SEP chain's "-s <pod> -j MARK-MASQ" the reply would skip the un-DNAT and the connection would fail.
      expect(self!.reply).toBe(`${PodA} ${HostIP}`);
    });

    it('moves a UDP flow to the new endpoint at once by deleting its stale conntrack entry', async () => {
      const l = await hostLab(true);
      const proxier = proxierIn(l);
      await proxier.sync(proxyState([dns, [`${PodA}:${UdpPort}`]]));
      const flow = { kind: 'udp' as const, host: '10.96.0.53', port: 53, sourcePort: 40053 };
      const [first] = await l.requests([flow]);
      expect(first).toEqual({ reply: `${PodA} ${HostIP}`, from: '10.96.0.53:53' });
      const entries = await l.in(l.host, 'conntrack', ['-L', '-p', 'udp', '--orig-dst', '10.96.0.53']);
      expect(entries.stdout).toContain(`src=${PodA} dst=${HostIP} sport=${UdpPort} dport=40053`);

      // PodA still answers: only the conntrack cleanup can make the same flow go to PodB.
      await proxier.sync(proxyState([dns, [`${PodB}:${UdpPort}`]]));
      const [second] = await l.requests([flow]);
      expect(second).toEqual({ reply: `${PodB} ${HostIP}`, from: '10.96.0.53:53' });
    });

    describe('traffic policies (PodA on this node, PodB on another)', () => {
      const endpoints = [`${PodA}:${TcpPort} local`, `${PodB}:${TcpPort}`];
      const nodePortFrom = (count: number) => Array.from({ length: count }, () => ({ kind: 'tcp' as const, host: HostOutsideIP, port: 30080 }));
      const clusterIP = (count: number) => Array.from({ length: count }, () => ({ kind: 'tcp' as const, host: '10.96.0.10', port: 80 }));
      const replies = (results: Array<{ reply?: string; error?: string }>): Set<string | undefined> => new Set(results.map((r) => r.reply ?? r.error));

      it("externalTrafficPolicy Local: a client outside the node reaches only this node's endpoint and keeps its own address; with Cluster it is masqueraded and spread", async () => {
        const l = await hostLab(true, true);
        const proxier = proxierIn(l);
        await proxier.sync(proxyState([servicePort({ ...web, externalPolicyLocal: true }), endpoints]));
        expect(replies(await l.requests(nodePortFrom(12), l.outside))).toEqual(new Set([`${PodA} ${OutsideIP}`]));

        await proxier.sync(proxyState([web, endpoints]));
        // Both endpoints in 24 random picks fails with probability 2^-23.
        expect(replies(await l.requests(nodePortFrom(24), l.outside))).toEqual(new Set([`${PodA} ${HostIP}`, `${PodB} ${HostIP}`]));
      });

      it('externalTrafficPolicy Local with no endpoint on this node: a client outside is dropped, the node itself is still served', async () => {
        const l = await hostLab(true, true);
        await proxierIn(l).sync(proxyState([servicePort({ ...web, externalPolicyLocal: true }), [`${PodB}:${TcpPort}`]]));
        const [outside] = await l.requests(nodePortFrom(1), l.outside);
        expect(outside).toEqual({ error: 'ETIMEDOUT' });
        const [fromNode] = await l.requests(nodePortFrom(1));
        expect(fromNode!.reply).toBe(`${PodB} ${HostIP}`);
      });

      it("internalTrafficPolicy Local: the ClusterIP reaches only this node's endpoint, and with none here it is dropped rather than refused", async () => {
        const l = await hostLab(true);
        const proxier = proxierIn(l);
        await proxier.sync(proxyState([servicePort({ ...web, internalPolicyLocal: true }), endpoints]));
        expect(replies(await l.requests(clusterIP(12)))).toEqual(new Set([`${PodA} ${HostIP}`]));

        await proxier.sync(proxyState([servicePort({ ...web, internalPolicyLocal: true }), [`${PodB}:${TcpPort}`]]));
        expect(await l.requests(clusterIP(1))).toEqual([{ error: 'ETIMEDOUT' }]);
      });
    });
  });
});
