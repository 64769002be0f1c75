/**
 * 10. A test node, as a test author times it: from startNode() to a one-container pod Ready
 * through the library's API, and from stop() to everything removed (containers, pod network,
 * service addresses, directories). Side by side, in the same rounds: testcontainers'
 * GenericContainer start() and stop() of the same image and command (its Node 20 release, on the
 * same engine; its reaper container is off, as no registry can serve its image here), and the
 * docker CLI's `docker run -d` and `docker rm -f`. A node does more than a container (a pause
 * sandbox, a pod network, a proxy and a DNS server), so the ratios say what that costs.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { startNode } from '../../../library/index.js';
import { BusyboxImage } from '../../helpers/docker.js';
import { now } from '../harness/clock.js';
import type { Benchmark } from '../harness/context.js';
import { size } from '../harness/context.js';
import { podManifest, sleeperPod, untilTerm, yamlDocuments } from '../harness/pods.js';
import { target, type Row } from '../harness/report.js';
import { ratio, summarize, type Stat } from '../harness/stats.js';

const run = promisify(execFile);
const Columns = ['dockerlet startNode', 'testcontainers', 'docker CLI'];

interface Times {
  start: number[];
  stop: number[];
}

export const testNode: Benchmark = {
  id: 'test-node',
  title: '10. A test node: start to a one-container pod Ready, stop to all removed (ms)',
  async run(context) {
    const rounds = size(context, 10, 1);
    const label = `dockerlet.bench=${context.runId}`;
    // testcontainers' reaper (Ryuk) is an image from Docker Hub; the benchmark removes its containers itself.
    const ryuk = process.env['TESTCONTAINERS_RYUK_DISABLED'];
    process.env['TESTCONTAINERS_RYUK_DISABLED'] = 'true';
    const { GenericContainer } = await import('testcontainers');
    const dir = await mkdtemp(join(tmpdir(), 'bench-test-node-'));
    const resolvConf = join(dir, 'resolv.conf');
    await writeFile(resolvConf, 'nameserver 127.0.0.1\n');
    const times = { dockerlet: { start: [], stop: [] } as Times, testcontainers: { start: [], stop: [] } as Times, docker: { start: [], stop: [] } as Times };
    try {
      for (let round = 0; round < rounds; round++) {
        context.progress(`test-node: round ${round + 1} of ${rounds}`);
        let started = now();
        const node = await startNode({ name: `bench-${context.runId}-${round}`, resolvConf, logger: pino({ level: 'silent' }) });
        try {
          await node.apply(yamlDocuments([podManifest(sleeperPod('sleeper'))]));
          await node.waitForPods(['sleeper'], { timeout: '60s' });
          times.dockerlet.start.push(now() - started);
        } finally {
          started = now();
          await node.stop();
          times.dockerlet.stop.push(now() - started);
        }

        started = now();
        const container = await new GenericContainer(BusyboxImage).withCommand(untilTerm('sleep 3600')).withLabels({ 'dockerlet.bench': context.runId }).start();
        times.testcontainers.start.push(now() - started);
        started = now();
        await container.stop();
        times.testcontainers.stop.push(now() - started);

        started = now();
        const { stdout } = await run('docker', ['run', '-d', '--label', label, BusyboxImage, ...untilTerm('sleep 3600')]);
        times.docker.start.push(now() - started);
        started = now();
        await run('docker', ['rm', '-f', stdout.trim()]);
        times.docker.stop.push(now() - started);
      }
    } finally {
      // What a failed round left: the baselines' containers by label (the node's are its stop()'s).
      const { stdout } = await run('docker', ['ps', '-aq', '--filter', `label=${label}`]);
      const ids = stdout.split('\n').filter(Boolean);
      if (ids.length > 0) await run('docker', ['rm', '-f', ...ids]);
      await rm(dir, { recursive: true, force: true });
      if (ryuk === undefined) delete process.env['TESTCONTAINERS_RYUK_DISABLED'];
      else process.env['TESTCONTAINERS_RYUK_DISABLED'] = ryuk;
    }
    const rows: Row[] = [];
    const targets = [];
    for (const phase of ['start', 'stop'] as const) {
      const [dockerlet, testcontainers, docker] = [times.dockerlet, times.testcontainers, times.docker].map((t) => summarize(t[phase])) as [Stat, Stat, Stat];
      const vsTestcontainers = ratio(dockerlet, testcontainers);
      rows.push({
        metric: phase === 'start' ? 'start -> one-container pod Ready (a container running for the others)' : 'stop -> everything removed',
        unit: 'ms',
        values: { 'dockerlet startNode': dockerlet, testcontainers, 'docker CLI': docker },
        ratios: { 'dockerlet / testcontainers': vsTestcontainers, 'dockerlet / docker CLI': ratio(dockerlet, docker) },
      });
      targets.push(target(`${phase === 'start' ? 'start to a pod Ready' : 'stop to all removed'}: dockerlet / testcontainers at the median`, vsTestcontainers, '<=', 3, 'x'));
    }
    return {
      id: this.id,
      title: this.title,
      columns: Columns,
      rows,
      targets,
      notes: [
        `${rounds} rounds; each round starts and stops a node, a testcontainers container and a docker CLI container, in turn.`,
        "testcontainers 11.14 (its last release for Node 20), its reaper off; a container whose command exits on SIGTERM, so no stop waits out a timeout.",
      ],
    };
  },
};
