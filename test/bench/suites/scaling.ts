/**
 * 3. Scaling: N one-container pods written at once -> all Running, for N up to maxPods (110):
 * the wall time, the agent's CPU time over that window, and its memory once they run.
 */
import type { Benchmark } from '../harness/context.js';
import { size } from '../harness/context.js';
import { DockerletUnderTest } from '../harness/dockerlet-process.js';
import { sleeperPod } from '../harness/pods.js';
import type { Row } from '../harness/report.js';

export const scaling: Benchmark = {
  id: 'scaling',
  title: '3. Scaling: N pods written at once -> all Running',
  async run(context) {
    const counts = size(context, [10, 50, 100, 110], [2, 3]);
    const columns = counts.map((n) => `${n} pods`);
    const rows: Row[] = [
      { metric: 'written -> all Running', unit: 'ms', values: {} },
      { metric: 'per pod', unit: 'ms', values: {} },
      { metric: 'agent CPU over that time', unit: 'CPU s', values: {} },
      { metric: 'agent CPU, average', unit: '% of a core', values: {} },
      { metric: 'agent RSS once all run', unit: 'MB', values: {} },
    ];
    const subject = await DockerletUnderTest.start();
    try {
      for (const [i, count] of counts.entries()) {
        context.progress(`scaling: ${count} pods`);
        const pods = Array.from({ length: count }, (_, j) => sleeperPod(`scale-${count}-${j}`));
        const names = pods.map((pod) => pod.name);
        const before = await subject.usage();
        const written = await subject.writePods(pods);
        const running = await subject.waitForPods(names, (line) => line.phase === 'Running', written, 600_000);
        const after = await subject.usage();
        const wall = Math.max(...running.values()) - written;
        const cpu = after.cpuSeconds - before.cpuSeconds;
        const column = columns[i]!;
        rows[0]!.values[column] = wall;
        rows[1]!.values[column] = wall / count;
        rows[2]!.values[column] = cpu;
        rows[3]!.values[column] = (100 * cpu) / (wall / 1000);
        rows[4]!.values[column] = after.rssBytes / 1e6;
        await subject.removePods(names);
      }
    } finally {
      await subject.stop();
    }
    return {
      id: this.id,
      title: this.title,
      columns,
      rows,
      targets: [],
      notes: ['One agent for every size, each size started from no pods. CPU is the agent process\'s user + system time from /proc (10 ms ticks).'],
    };
  },
};
