import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isDockerletError } from '../../../common/api/errors.js';
import { IptablesProxier } from '../../../proxy/datapath/iptables/iptables-proxier.js';
import { buildIptablesRules } from '../../../proxy/datapath/iptables/rules.js';
import { memoryLogger, type MemoryLogger } from '../../helpers/memory-logger.js';
import { waitFor } from '../../helpers/wait-for.js';
import { FakeRunner } from './fake-runner.js';
import { proxyState, servicePort } from '../../helpers/iptables-fixtures.js';
import { parseIpv4Cidr } from '../../../common/util/ipv4.js';

const PodCIDR = '10.244.0.0/16';

/** The jumps from the built-in chains, as `<table> <chain> <rule>`: the contract with the host's tables. */
const Jumps = [
  ['nat', 'PREROUTING', '-m comment --comment dockerlet service portals -j DOCKERLET-SERVICES'],
  ['nat', 'OUTPUT', '-m comment --comment dockerlet service portals -j DOCKERLET-SERVICES'],
  ['nat', 'POSTROUTING', '-m comment --comment dockerlet postrouting rules -j DOCKERLET-POSTROUTING'],
  ['filter', 'OUTPUT', '-m conntrack --ctstate NEW -m comment --comment dockerlet service portals -j DOCKERLET-SERVICES'],
  ['filter', 'FORWARD', '-m conntrack --ctstate NEW -m comment --comment dockerlet service portals -j DOCKERLET-SERVICES'],
  ['filter', 'INPUT', '-m conntrack --ctstate NEW -m comment --comment dockerlet externally-visible service portals -j DOCKERLET-EXTERNAL-SERVICES'],
  ['filter', 'FORWARD', '-m conntrack --ctstate NEW -m comment --comment dockerlet externally-visible service portals -j DOCKERLET-EXTERNAL-SERVICES'],
  ['filter', 'INPUT', '-m comment --comment dockerlet localnet guard -j DOCKERLET-FIREWALL'],
] as const;

const insert = ([table, chain, rule]: (typeof Jumps)[number]): string => `iptables-nft -w 5 -t ${table} -I ${chain} 1 ${rule}`;

/** How iptables-nft-save prints a jump (normalised, comment quoted). */
function savedJump([, chain, rule]: (typeof Jumps)[number]): string {
  return `-A ${chain} ${rule.replace(/--comment (.*) -j/, '--comment "$1" -j')}`;
}

const DockerNat = ['*nat', ':PREROUTING ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]', ':POSTROUTING ACCEPT [0:0]', ':DOCKER - [0:0]', '-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER'];
const DockerFilter = [
  '*filter',
  ':INPUT ACCEPT [0:0]',
  ':FORWARD DROP [0:0]',
  ':OUTPUT ACCEPT [0:0]',
  ':DOCKER-USER - [0:0]',
  ':DOCKERLET-SERVICE-GUARD - [0:0]',
  '-A FORWARD -j DOCKERLET-SERVICE-GUARD',
  '-A OUTPUT ! -o lo -j DOCKERLET-SERVICE-GUARD',
  '-A DOCKER-USER -j DOCKERLET-SERVICE-GUARD',
  '-A DOCKERLET-SERVICE-GUARD -d 10.96.0.0/16 -p tcp -j REJECT --reject-with tcp-reset',
];

interface Tables {
  nat: string[];
  filter: string[];
}

/** What iptables-nft-save prints for each table of a host whose Docker uses nft, with `tables` in it (extra lines are added before COMMIT). */
function saved(tables: Tables): { nat: string; filter: string } {
  return { nat: [...DockerNat, ...tables.nat, 'COMMIT', ''].join('\n'), filter: [...DockerFilter, ...tables.filter, 'COMMIT', ''].join('\n') };
}

/** Tables holding these jumps, as iptables-nft-save prints them. */
const withJumps = (jumps: ReadonlyArray<(typeof Jumps)[number]>): Tables => ({
  nat: jumps.filter((j) => j[0] === 'nat').map(savedJump),
  filter: jumps.filter((j) => j[0] === 'filter').map(savedJump),
});

/** Answers iptables-nft-save with `tables` from now on (later responders win). */
function tablesNow(runner: FakeRunner, tables: Tables): void {
  const { nat, filter } = saved(tables);
  runner.when('iptables-nft-save', [], { stdout: filter + nat }).when('iptables-nft-save', ['-t', 'nat'], { stdout: nat }).when('iptables-nft-save', ['-t', 'filter'], { stdout: filter });
}

/** A host whose Docker uses nft, with `tables` in it. */
/** A host with iptables-nft holding `tables`, and route_localnet at `routeLocalnet` until a sysctl -w changes it. */
function nftHost(tables: Tables = { nat: [], filter: [] }, routeLocalnet = '0'): FakeRunner {
  let value = routeLocalnet;
  const runner = new FakeRunner().when('iptables-legacy-save', [], { stdout: '' }).on((command, args) => {
    if (command !== 'sysctl') return undefined;
    if (args[0] === '-n') return { stdout: `${value}\n` };
    value = /=(\d+)$/.exec(args.at(-1) ?? '')?.[1] ?? value;
    return {};
  });
  tablesNow(runner, tables);
  return runner;
}

let stateDir: string;
let log: MemoryLogger;
let now: number;

beforeEach(async () => {
  stateDir = await mkdtemp(join(tmpdir(), 'dkl-iptables-'));
  log = memoryLogger('debug');
  now = 1_000_000;
});

afterEach(async () => {
  await rm(stateDir, { recursive: true, force: true });
});

function proxier(runner: FakeRunner): IptablesProxier {
  return new IptablesProxier({
    serviceCIDR: parseIpv4Cidr('10.96.0.0/16')!,
    podCIDR: parseIpv4Cidr(PodCIDR)!,
    stateDir,
    logger: log.logger,
    runner,
    clock: { now: () => now },
    jumpCheckIntervalMs: 30_000,
  });
}

const web = servicePort({ nodePort: 30080 });
const dns = servicePort({ namespace: 'kube-system', name: 'dns', portName: 'dns', protocol: 'UDP', clusterIP: '10.96.0.53', port: 53 });

describe('IptablesProxier', () => {
  it('on the first sync: detects the backend (reading its tables), restores once, adds each jump, then sets route_localnet', async () => {
    const runner = nftHost();
    const state = proxyState([web, ['10.244.0.2:8080', '10.244.0.3:8080']]);
    await proxier(runner).sync(state);

    expect(runner.lines()).toEqual([
      'iptables-nft-save',
      'iptables-legacy-save',
      'iptables-nft-restore -w 5 --noflush',
      ...Jumps.map(insert),
      // Only once DOCKERLET-FIREWALL guards 127.0.0.0/8.
      'sysctl -n net.ipv4.conf.all.route_localnet',
      'sysctl -q -w net.ipv4.conf.all.route_localnet=1',
    ]);
    const restore = runner.calls.find((c) => c.command === 'iptables-nft-restore')!;
    expect(restore.stdin).toBe(buildIptablesRules(state, { podCIDR: PodCIDR }).text);
    // A comment is one argument: no shell, no quotes.
    expect(runner.calls.at(-3)!.args).toEqual(['-w', '5', '-t', 'filter', '-I', 'INPUT', '1', '-m', 'comment', '--comment', 'dockerlet localnet guard', '-j', 'DOCKERLET-FIREWALL']);
    expect(await readFile(join(stateDir, 'iptables-route-localnet'), 'utf8')).toBe('0\n');
  });

  it('writes only the rules on later syncs, in one iptables-restore run, rewriting only the per-service chains that changed', async () => {
    const runner = nftHost();
    const p = proxier(runner);
    const before = proxyState([web, ['10.244.0.2:8080']]);
    await p.sync(before);
    runner.clear();
    now += 10_000;
    const next = proxyState([web, ['10.244.0.2:8080', '10.244.0.3:8080']]);
    await p.sync(next);
    expect(runner.lines()).toEqual(['iptables-nft-restore -w 5 --noflush']);
    const previous = buildIptablesRules(before, { podCIDR: PodCIDR });
    expect(runner.calls[0]!.stdin).toBe(
      buildIptablesRules(next, { podCIDR: PodCIDR, existingChains: previous.chains, previousChains: previous.serviceChains }).text,
    );
    // The SVC chain changed and the new SEP chain is new; the EXT and the first SEP chains are not written.
    expect(runner.calls[0]!.stdin!.match(/^:DOCKERLET-(SVC|EXT|SEP)-\S+/gm)).toEqual([':DOCKERLET-SVC-CDGGSHYLG3RE2F', ':DOCKERLET-SEP-TCD3IFXQZW3ZEZ']);
  });

  it('rewrites every chain once the full sync interval has passed', async () => {
    const runner = nftHost();
    const p = proxier(runner);
    const state = proxyState([web, ['10.244.0.2:8080']]);
    await p.sync(state);
    runner.clear();
    now += 3_599_000;
    await p.sync(state);
    expect(runner.calls[0]!.stdin).not.toMatch(/^:DOCKERLET-(SVC|EXT|SEP)-/m);
    now += 1_000;
    await p.sync(state);
    expect(runner.calls.at(-1)!.stdin!.match(/^:DOCKERLET-(SVC|EXT|SEP)-\S+/gm)).toHaveLength(3);
  });

  it('writes the per-service chains of many service ports in commits of 50 with iptables-nft', async () => {
    const runner = nftHost();
    const entries = Array.from({ length: 120 }, (_, i): [ReturnType<typeof servicePort>, string[]] => [
      servicePort({ name: `svc-${i}`, clusterIP: `10.96.1.${i + 1}` }),
      ['10.244.0.2:8080'],
    ]);
    await proxier(runner).sync(proxyState(...entries));
    const stdin = runner.calls.find((c) => c.command === 'iptables-nft-restore')!.stdin!;
    // MARK-MASQ/POSTROUTING, 50 + 50 + 20 service ports, then DOCKERLET-SERVICES.
    expect(stdin.match(/^\*nat$/gm)).toHaveLength(5);
  });

  it('uses the legacy binaries on a legacy host, in one commit per table', async () => {
    const legacyRuleset = [...DockerFilter, 'COMMIT', ...DockerNat, 'COMMIT', ''].join('\n');
    const runner = new FakeRunner()
      .when('iptables-nft-save', [], { stdout: '' })
      .when('iptables-legacy-save', [], { stdout: legacyRuleset })
      .when('sysctl', ['-n'], { stdout: '1\n' });
    const entries = Array.from({ length: 120 }, (_, i): [ReturnType<typeof servicePort>, string[]] => [
      servicePort({ name: `svc-${i}`, clusterIP: `10.96.1.${i + 1}` }),
      ['10.244.0.2:8080'],
    ]);
    await proxier(runner).sync(proxyState(...entries));
    expect(runner.lines()).toEqual([
      'iptables-nft-save',
      'iptables-legacy-save',
      'iptables-legacy-restore -w 5 --noflush',
      ...Jumps.map(insert).map((line) => line.replace('iptables-nft ', 'iptables-legacy ')),
      'sysctl -n net.ipv4.conf.all.route_localnet',
    ]);
    // Legacy restore rewrites a whole table per commit: one commit is cheapest there.
    expect(runner.calls.find((c) => c.command === 'iptables-legacy-restore')!.stdin!.match(/^\*nat$/gm)).toHaveLength(1);
  });

  it('deletes the chains of a service that went away, knowing them from the previous sync', async () => {
    const runner = nftHost();
    const p = proxier(runner);
    await p.sync(proxyState([web, ['10.244.0.2:8080']]));
    runner.clear();
    await p.sync(proxyState());
    const stdin = runner.calls[0]!.stdin!;
    expect(stdin).toContain('-X DOCKERLET-SVC-CDGGSHYLG3RE2F\n');
    expect(stdin).toContain('-X DOCKERLET-EXT-CDGGSHYLG3RE2F\n');
    expect(stdin).toContain('-X DOCKERLET-SEP-QA4PSDNF5R2OJO\n');
  });

  it('checks the jumps again once the check interval has passed, and re-adds only a missing one', async () => {
    const runner = nftHost();
    const p = proxier(runner);
    await p.sync(proxyState());
    runner.clear();
    now += 30_000;
    // Someone flushed nat PREROUTING: only that jump is missing now.
    tablesNow(runner, withJumps(Jumps.slice(1)));
    await p.sync(proxyState());
    expect(runner.lines()).toEqual(['iptables-nft-restore -w 5 --noflush', 'iptables-nft-save -t nat', 'iptables-nft-save -t filter', insert(Jumps[0])]);
  });

  it('takes over what an earlier process left: no jump commands, stale chains deleted, the saved sysctl value kept', async () => {
    const runner = nftHost(
      {
        nat: [
          ':DOCKERLET-SERVICES - [0:0]',
          ':DOCKERLET-SVC-UJBI2K64V4MA2M - [0:0]',
          ':DOCKERLET-SEP-EEPIH73WBN2EB4 - [0:0]',
          ...Jumps.filter((j) => j[0] === 'nat').map(savedJump),
        ],
        filter: [':DOCKERLET-SERVICES - [0:0]', ...Jumps.filter((j) => j[0] === 'filter').map(savedJump)],
      },
      '1',
    );
    await writeFile(join(stateDir, 'iptables-route-localnet'), '0\n');
    await proxier(runner).sync(proxyState());

    expect(runner.lines()).toEqual([
      'iptables-nft-save',
      'iptables-legacy-save',
      'iptables-nft-restore -w 5 --noflush',
      'sysctl -n net.ipv4.conf.all.route_localnet',
    ]);
    const stdin = runner.calls.find((c) => c.command === 'iptables-nft-restore')!.stdin!;
    expect(stdin).toContain(':DOCKERLET-SVC-UJBI2K64V4MA2M - [0:0]\n');
    expect(stdin).toContain('-X DOCKERLET-SVC-UJBI2K64V4MA2M\n-X DOCKERLET-SEP-EEPIH73WBN2EB4\nCOMMIT\n');
    expect(await readFile(join(stateDir, 'iptables-route-localnet'), 'utf8')).toBe('0\n');
  });

  it('makes a repeated jump appear exactly once, and replaces one an older version wrote differently', async () => {
    const natServices = Jumps[0];
    const filterFirewall = Jumps[7];
    const runner = nftHost({
      nat: [savedJump(natServices), savedJump(natServices)],
      // An older version jumped from OUTPUT too, and without a comment.
      filter: ['-A INPUT -j DOCKERLET-FIREWALL', '-A OUTPUT -j DOCKERLET-FIREWALL'],
    });
    await proxier(runner).sync(proxyState());
    const jumpCommands = runner.lines().filter((line) => line.startsWith('iptables-nft '));
    expect(jumpCommands).toEqual([
      `iptables-nft -w 5 -t nat -D PREROUTING ${natServices[2]}`,
      `iptables-nft -w 5 -t nat -D PREROUTING ${natServices[2]}`,
      insert(natServices),
      ...Jumps.slice(1, 7).map(insert),
      'iptables-nft -w 5 -t filter -D INPUT -j DOCKERLET-FIREWALL',
      insert(filterFirewall),
      'iptables-nft -w 5 -t filter -D OUTPUT -j DOCKERLET-FIREWALL',
    ]);
  });

  it('after a failed jump insertion reads the tables again next time instead of inserting twice', async () => {
    const runner = nftHost();
    const p = proxier(runner);
    runner.on((command, args) => (command === 'iptables-nft' && args[4] === '-I' && args[5] === 'POSTROUTING' ? { code: 4, stderr: 'iptables: Resource temporarily unavailable.\n' } : undefined));
    const err = await p.sync(proxyState()).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/iptables-nft -w 5 -t nat -I POSTROUTING 1 .* failed \(exit 4\): iptables: Resource temporarily unavailable/);
    expect(runner.lines()).not.toContain('sysctl -n net.ipv4.conf.all.route_localnet');
    runner.clear();
    // The two inserted before the failure are there now; the rest is not. (Later responders win.)
    tablesNow(runner, withJumps(Jumps.slice(0, 2)));
    runner.on((command, args) => (command === 'iptables-nft' && args[4] === '-I' ? { code: 0 } : undefined));
    await p.sync(proxyState());
    expect(runner.lines().filter((l) => l.includes(' -I '))).toEqual(Jumps.slice(2).map(insert));
  });

  it('only warns, once, when route_localnet cannot be set (NodePorts then do not answer on 127.0.0.1)', async () => {
    const runner = nftHost().when('sysctl', ['-q', '-w'], { code: 255, stderr: 'sysctl: permission denied on key "net.ipv4.conf.all.route_localnet"\n' });
    const p = proxier(runner);
    await p.sync(proxyState());
    await p.sync(proxyState());
    expect(runner.lines().filter((l) => l.startsWith('sysctl'))).toEqual([
      'sysctl -n net.ipv4.conf.all.route_localnet',
      'sysctl -q -w net.ipv4.conf.all.route_localnet=1',
    ]);
    expect(log.lines.filter((l) => l.level === 40).map((l) => l.msg)).toEqual(['cannot set route_localnet=1; NodePorts will not answer on 127.0.0.1']);
  });

  it('deletes stale UDP conntrack entries after the rules, and only logs a conntrack failure', async () => {
    const runner = nftHost();
    const p = proxier(runner);
    await p.sync(proxyState([dns, ['10.244.0.5:53', '10.244.0.6:53']]));
    runner.clear();
    runner.when('conntrack', [], { code: 1, stderr: 'conntrack v1.4.7 (conntrack-tools): Operation not permitted\n' });
    await p.sync(proxyState([dns, ['10.244.0.6:53']]));
    expect(runner.lines()).toEqual([
      'iptables-nft-restore -w 5 --noflush',
      'conntrack -D -p udp --orig-dst 10.96.0.53 --orig-port-dst 53 --reply-src 10.244.0.5 --reply-port-src 53',
    ]);
    expect(log.lines.filter((l) => l.level === 40).map((l) => l.msg)).toEqual([expect.stringContaining('could not delete stale UDP conntrack entries')]);
  });

  it('does not warn when conntrack finds nothing to delete', async () => {
    const runner = nftHost();
    const p = proxier(runner);
    await p.sync(proxyState([dns, ['10.244.0.5:53']]));
    runner.when('conntrack', [], { code: 1, stderr: 'conntrack v1.4.7 (conntrack-tools): 0 flow entries have been deleted.\n' });
    await p.sync(proxyState([dns, []]));
    expect(runner.lines().at(-1)).toMatch(/^conntrack -D -p udp --orig-dst 10.96.0.53/);
    expect(log.lines.filter((l) => l.level >= 40)).toEqual([]);
  });

  it('fails a sync whose iptables-restore fails, naming the line, and next time reads the tables again and writes everything', async () => {
    const runner = nftHost();
    const p = proxier(runner);
    await p.sync(proxyState());
    runner.on((command) =>
      command === 'iptables-nft-restore' ? { code: 2, stderr: 'iptables-nft-restore v1.8.9 (nf_tables): unknown option "--bogus"\nError occurred at line: 2\n' } : undefined,
    );
    const err = await p.sync(proxyState([web, ['10.244.0.2:8080']])).catch((e: unknown) => e);
    expect(isDockerletError(err, 'DKL_ERR_RUNTIME')).toBe(true);
    expect((err as Error).message).toMatch(/iptables-nft-restore failed: exit 2: .*\(line 2: :DOCKERLET-SERVICES - \[0:0\]\)/s);

    runner.clear();
    await p.sync(proxyState([web, ['10.244.0.2:8080']])).catch(() => undefined);
    expect(runner.lines().slice(0, 2)).toEqual(['iptables-nft-save -t nat', 'iptables-nft-save -t filter']);
    // Everything is written again, since some commits may have been applied.
    expect(runner.calls.find((c) => c.command === 'iptables-nft-restore')!.stdin!.match(/^:DOCKERLET-(SVC|EXT|SEP)-/gm)).toHaveLength(3);
  });

  it('does not program a ClusterIP outside the service CIDR (it would capture real traffic), and says so once', async () => {
    const runner = nftHost();
    const p = proxier(runner);
    const outside = servicePort({ name: 'dns-hijack', clusterIP: '8.8.8.8', port: 53 });
    await p.sync(proxyState([outside, ['10.244.0.2:53']], [web, ['10.244.0.2:8080']]));
    await p.sync(proxyState([outside, ['10.244.0.2:53']], [web, ['10.244.0.2:8080']]));
    const restores = runner.calls.filter((c) => c.command === 'iptables-nft-restore');
    for (const restore of restores) expect(restore.stdin).not.toContain('8.8.8.8');
    const warnings = log.lines.filter((l) => l.level === 40);
    expect(warnings).toEqual([expect.objectContaining({ servicePort: 'default/dns-hijack:http', problem: 'cluster IP 8.8.8.8 is outside the service CIDR 10.96.0.0/16' })]);
  });

  it('drops endpoints that are not IPv4 address:port pairs instead of failing the whole restore', async () => {
    const runner = nftHost();
    await proxier(runner).sync({ servicePorts: [web], endpoints: new Map([[web.id, [{ ip: 'fd00::1', port: 80 }, { ip: '10.244.0.2', port: 0 }]]]) });
    const stdin = runner.calls.find((c) => c.command === 'iptables-nft-restore')!.stdin!;
    expect(stdin).toContain('"default/web:http has no endpoints"');
  });

  it('runs syncs one at a time and coalesces those that wait into one with the newest state', async () => {
    const runner = nftHost();
    const p = proxier(runner);
    await p.sync(proxyState());
    runner.clear();
    const release = runner.hold('iptables-nft-restore');
    const first = p.sync(proxyState([web, ['10.244.0.2:8080']]));
    await waitFor('the first restore to start', () => runner.calls.length === 1);
    const second = p.sync(proxyState([web, ['10.244.0.3:8080']]));
    const third = p.sync(proxyState([web, ['10.244.0.4:8080']]));
    expect(runner.calls).toHaveLength(1);
    release();
    await Promise.all([first, second, third]);
    const restores = runner.calls.filter((c) => c.command === 'iptables-nft-restore');
    expect(restores).toHaveLength(2);
    expect(restores[0]!.stdin).toContain('10.244.0.2:8080');
    expect(restores[1]!.stdin).toContain('10.244.0.4:8080');
    expect(restores[1]!.stdin).not.toContain('10.244.0.3:8080');
  });

  it('cleanup() restores route_localnet first, then removes every jump into our chains and every chain of ours, leaving the service CIDR guard', async () => {
    const runner = nftHost(
      {
        nat: [':DOCKERLET-SERVICES - [0:0]', ':DOCKERLET-SVC-CDGGSHYLG3RE2F - [0:0]', savedJump(Jumps[0]), savedJump(Jumps[0])],
        filter: [':DOCKERLET-FIREWALL - [0:0]', savedJump(Jumps[7])],
      },
      '1',
    );
    await writeFile(join(stateDir, 'iptables-route-localnet'), '0\n');
    await proxier(runner).cleanup();
    expect(runner.lines()).toEqual([
      'sysctl -q -w net.ipv4.conf.all.route_localnet=0',
      'iptables-nft-save',
      'iptables-legacy-save',
      'sysctl -n net.ipv4.conf.all.route_localnet',
      `iptables-nft -w 5 -t nat -D PREROUTING ${Jumps[0][2]}`,
      `iptables-nft -w 5 -t nat -D PREROUTING ${Jumps[0][2]}`,
      `iptables-nft -w 5 -t filter -D INPUT ${Jumps[7][2]}`,
      'iptables-nft-restore -w 5 --noflush',
    ]);
    expect(runner.calls.find((c) => c.command === 'iptables-nft-restore')!.stdin).toBe(
      [
        '*filter',
        ':DOCKERLET-FIREWALL - [0:0]',
        '-X DOCKERLET-FIREWALL',
        'COMMIT',
        '*nat',
        ':DOCKERLET-SERVICES - [0:0]',
        ':DOCKERLET-SVC-CDGGSHYLG3RE2F - [0:0]',
        '-X DOCKERLET-SERVICES',
        '-X DOCKERLET-SVC-CDGGSHYLG3RE2F',
        'COMMIT',
        '',
      ].join('\n'),
    );
    await expect(readFile(join(stateDir, 'iptables-route-localnet'), 'utf8')).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('cleanup() that cannot restore route_localnet still removes the rules, then fails saying so, keeping the saved value', async () => {
    const runner = nftHost({ nat: [':DOCKERLET-SERVICES - [0:0]', savedJump(Jumps[0])], filter: [] }, '1').when('sysctl', ['-q', '-w'], { code: 255, stderr: 'permission denied' });
    await writeFile(join(stateDir, 'iptables-route-localnet'), '0\n');
    await expect(proxier(runner).cleanup()).rejects.toThrow(
      `iptables cleanup was incomplete: cannot restore net.ipv4.conf.all.route_localnet=0 (permission denied); ${join(stateDir, 'iptables-route-localnet')} is kept for the next cleanup`,
    );
    expect(runner.lines().slice(-2)).toEqual([`iptables-nft -w 5 -t nat -D PREROUTING ${Jumps[0][2]}`, 'iptables-nft-restore -w 5 --noflush']);
    expect(await readFile(join(stateDir, 'iptables-route-localnet'), 'utf8')).toBe('0\n');
  });

  it('cleanup() that cannot restore route_localnet keeps DOCKERLET-FIREWALL hooked into INPUT: the hole it closes is still open', async () => {
    const runner = nftHost(
      { nat: [':DOCKERLET-SERVICES - [0:0]', savedJump(Jumps[0])], filter: [':DOCKERLET-FIREWALL - [0:0]', savedJump(Jumps[7])] },
      '1',
    ).when('sysctl', ['-q', '-w'], { code: 255, stderr: 'permission denied' });
    await writeFile(join(stateDir, 'iptables-route-localnet'), '0\n');
    await expect(proxier(runner).cleanup()).rejects.toThrow('iptables cleanup was incomplete: cannot restore net.ipv4.conf.all.route_localnet=0');
    expect(runner.lines()).not.toContain(`iptables-nft -w 5 -t filter -D INPUT ${Jumps[7][2]}`);
    expect(runner.lines()).toContain(`iptables-nft -w 5 -t nat -D PREROUTING ${Jumps[0][2]}`);
    const restore = runner.calls.find((c) => c.command === 'iptables-nft-restore')!.stdin;
    expect(restore).toContain('-X DOCKERLET-SERVICES');
    expect(restore).not.toContain('DOCKERLET-FIREWALL');
  });

  it('cleanup() from a root dir that saved no route_localnet, with it at 1, keeps DOCKERLET-FIREWALL and says why', async () => {
    const runner = nftHost({ nat: [':DOCKERLET-SERVICES - [0:0]', savedJump(Jumps[0])], filter: [':DOCKERLET-FIREWALL - [0:0]', savedJump(Jumps[7])] }, '1');
    await expect(proxier(runner).cleanup()).rejects.toThrow(
      'iptables cleanup was incomplete: net.ipv4.conf.all.route_localnet is not 0 and no value to restore was saved under this --root-dir: DOCKERLET-FIREWALL is kept; set it back and clean up again',
    );
    expect(runner.lines()).not.toContain(`iptables-nft -w 5 -t filter -D INPUT ${Jumps[7][2]}`);
    expect(runner.calls.find((c) => c.command === 'iptables-nft-restore')!.stdin).not.toContain('DOCKERLET-FIREWALL');
  });

  it('cleanup() that restores route_localnet to the 1 it was keeps DOCKERLET-FIREWALL: the hole stays open, so does its guard', async () => {
    const runner = nftHost({ nat: [':DOCKERLET-SERVICES - [0:0]', savedJump(Jumps[0])], filter: [':DOCKERLET-FIREWALL - [0:0]', savedJump(Jumps[7])] }, '1');
    await writeFile(join(stateDir, 'iptables-route-localnet'), '1\n');
    await proxier(runner).cleanup();
    expect(runner.lines()).not.toContain(`iptables-nft -w 5 -t filter -D INPUT ${Jumps[7][2]}`);
    expect(runner.calls.find((c) => c.command === 'iptables-nft-restore')!.stdin).not.toContain('DOCKERLET-FIREWALL');
    expect(log.lines.map((line) => line.msg)).toContain('net.ipv4.conf.all.route_localnet is 1 as it was before the proxy ran: DOCKERLET-FIREWALL is kept to close the hole it opens');
  });

  it('cleanup() with nothing of ours runs no restore and leaves route_localnet alone', async () => {
    const runner = nftHost();
    await proxier(runner).cleanup();
    expect(runner.lines()).toEqual(['iptables-nft-save', 'iptables-legacy-save']);
  });

  it('stop() touches nothing, and a sync after it is ignored', async () => {
    const runner = nftHost();
    const p = proxier(runner);
    await p.sync(proxyState());
    runner.clear();
    await p.stop();
    await p.stop();
    await p.sync(proxyState([web, ['10.244.0.2:8080']]));
    expect(runner.calls).toEqual([]);
  });

  it('logs the chosen backend and each sync with its timing', async () => {
    await proxier(nftHost()).sync(proxyState());
    expect(log.lines.find((l) => l.msg === 'iptables backend chosen')).toMatchObject({ component: 'iptables-proxier', backend: 'nft' });
    expect(log.lines.find((l) => l.msg === 'iptables rules synced')).toMatchObject({ servicePorts: 0, restoreMs: expect.any(Number) });
  });
});
