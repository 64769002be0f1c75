/**
 * 6b. Proxy rule sync at scale: the iptables datapath syncing 1,000 Services with 2 endpoints
 * each, on real iptables inside a throwaway network namespace (the machine's own tables are never
 * touched): the first sync (every chain new), a sync after one endpoint changed (kube-proxy's
 * partial restore), one after every endpoint changed, and the periodic resync of an unchanged
 * state. Each round starts from a fresh namespace.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { ExecCommandRunner } from '../../../common/util/command-runner.js';
import { IptablesProxier } from '../../../proxy/datapath/iptables/iptables-proxier.js';
import type { EndpointInfo, ProxyState, ServicePortInfo } from '../../../proxy/datapath/proxier.js';
import { proxyState, servicePort } from '../../helpers/iptables-fixtures.js';
import { HostTables, NetnsLab } from '../../helpers/netns-lab.js';
import type { Benchmark } from '../harness/context.js';
import { size } from '../harness/context.js';
import { target } from '../harness/report.js';
import { summarize } from '../harness/stats.js';
import { parseIpv4Cidr } from '../../../common/util/ipv4.js';

/** `count` services, each with endpoints on two pods; `shift` moves every endpoint to other pods. */
function services(count: number, shift: number): ProxyState {
  const entries: Array<[ServicePortInfo, string[]]> = [];
  for (let i = 0; i < count; i++) {
    const sp = servicePort({ name: `svc-${i}`, clusterIP: `10.96.${Math.floor(i / 250) + 1}.${(i % 250) + 1}`, port: 80 });
    entries.push([sp, [`10.244.${(i + shift) % 200}.2:8080`, `10.244.${(i + shift) % 200}.3:8080`]]);
  }
  return proxyState(...entries);
}

const timed = async (action: () => Promise<void>): Promise<number> => {
  const started = performance.now();
  await action();
  return performance.now() - started;
};

export const proxySync: Benchmark = {
  id: 'proxy-sync',
  title: '6b. Proxy: iptables rule sync (ms)',
  async run(context) {
    const count = size(context, 1000, 50);
    const rounds = size(context, 5, 1);
    const series = { first: [] as number[], oneChanged: [] as number[], allChanged: [] as number[], resync: [] as number[] };
    for (let round = 0; round < rounds; round++) {
      context.progress(`proxy-sync: ${count} services, round ${round + 1} of ${rounds}`);
      const lab = await NetnsLab.bare();
      const stateDir = await mkdtemp(join(tmpdir(), 'dockerlet-bench-sync-'));
      try {
        await lab.in(lab.host, 'iptables-nft-restore', ['--noflush'], HostTables);
        const proxier = new IptablesProxier({
          serviceCIDR: parseIpv4Cidr('10.96.0.0/16')!,
          podCIDR: parseIpv4Cidr('10.244.0.0/16')!,
          stateDir,
          logger: pino({ level: 'silent' }),
          runner: new ExecCommandRunner({ netns: lab.host }),
        });
        const initial = services(count, 0);
        series.first.push(await timed(() => proxier.sync(initial)));
        const oneChanged = services(count, 0);
        (oneChanged.endpoints as Map<string, EndpointInfo[]>).set('default/svc-7:http', [{ ip: '10.244.250.9', port: 8080 }]);
        series.oneChanged.push(await timed(() => proxier.sync(oneChanged)));
        const moved = services(count, 1);
        series.allChanged.push(await timed(() => proxier.sync(moved)));
        series.resync.push(await timed(() => proxier.sync(moved)));
      } finally {
        await lab.destroy();
        await rm(stateDir, { recursive: true, force: true });
      }
    }
    const first = summarize(series.first);
    return {
      id: this.id,
      title: `${this.title}, ${count} services x 2 endpoints`,
      columns: ['iptables'],
      rows: [
        { metric: 'first sync: every chain new', unit: 'ms', values: { iptables: first } },
        { metric: 'one endpoint changed', unit: 'ms', values: { iptables: summarize(series.oneChanged) } },
        { metric: 'every endpoint changed', unit: 'ms', values: { iptables: summarize(series.allChanged) } },
        { metric: 'periodic resync, nothing changed', unit: 'ms', values: { iptables: summarize(series.resync) } },
      ],
      targets: [target(`full rule sync at ${count} services, median`, first.median, '<=', 500, 'ms')],
      notes: [`${rounds} round(s), each in a fresh network namespace; a sync is the whole proxier.sync(): iptables-save, building the rules, iptables-restore.`],
    };
  },
};
