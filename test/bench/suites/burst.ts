/**
 * 2. Burst: 100 one-container pods written at once -> all Running. The bare Docker API is
 * driven with the same concurrency as dockerlet's pod workers (every pod at once, each pod's
 * steps in order); podman kube play gets the 100 pods as one file, as a user would give them.
 * Rounds alternate the subjects; besides the time to the last pod, each pod's own time to
 * Running is summarized.
 */
import type { Benchmark } from '../harness/context.js';
import { size } from '../harness/context.js';
import { now } from '../harness/clock.js';
import { DockerletUnderTest } from '../harness/dockerlet-process.js';
import { sleeperPod } from '../harness/pods.js';
import { target } from '../harness/report.js';
import { ratio, summarize } from '../harness/stats.js';

export const burst: Benchmark = {
  id: 'burst',
  title: '2. Burst: pods written at once -> all Running (ms)',
  async run(context) {
    const count = size(context, 100, 5);
    const rounds = size(context, 3, 1);
    const all = { dockerlet: [] as number[], docker: [] as number[], podman: [] as number[] };
    const perPod = { dockerlet: [] as number[], docker: [] as number[] };
    const subject = await DockerletUnderTest.start();
    try {
      for (let round = 0; round < rounds; round++) {
        const pods = Array.from({ length: count }, (_, i) => sleeperPod(`burst-${round}-${i}`));
        const names = pods.map((pod) => pod.name);

        context.progress(`burst: round ${round + 1} of ${rounds}, dockerlet`);
        const written = await subject.writePods(pods);
        const running = await subject.waitForPods(names, (line) => line.phase === 'Running', written, 600_000);
        const times = [...running.values()].map((time) => time - written);
        all.dockerlet.push(Math.max(...times));
        perPod.dockerlet.push(...times);
        await subject.removePods(names);

        context.progress(`burst: round ${round + 1} of ${rounds}, docker API`);
        const started = now();
        const docker = await Promise.all(pods.map((pod) => context.docker.start(pod)));
        all.docker.push(now() - started);
        perPod.docker.push(...docker);
        await context.docker.removeAll();

        if ('baseline' in context.podman) {
          context.progress(`burst: round ${round + 1} of ${rounds}, podman kube play`);
          const play = await context.podman.baseline.play(pods);
          all.podman.push(play.ms);
          await context.podman.baseline.down(play.file);
        }
      }
    } finally {
      await subject.stop();
    }
    const dockerlet = summarize(all.dockerlet);
    const docker = summarize(all.docker);
    const podman = all.podman.length > 0 ? summarize(all.podman) : null;
    const notes = [`${count} pods, ${rounds} round(s); dockerlet and the docker API start every pod at once; podman plays one file of ${count} pods.`];
    if ('reason' in context.podman) notes.push(`podman: ${context.podman.reason}`);
    return {
      id: this.id,
      title: this.title,
      columns: ['dockerlet', 'docker API', 'podman kube play'],
      rows: [
        {
          metric: `${count} pods: written -> all Running`,
          unit: 'ms',
          values: { dockerlet, 'docker API': docker, 'podman kube play': podman },
          ratios: { 'dockerlet / docker API': ratio(dockerlet, docker), 'dockerlet / podman': podman ? ratio(dockerlet, podman) : null },
        },
        {
          metric: 'each pod: written -> Running',
          unit: 'ms',
          values: { dockerlet: summarize(perPod.dockerlet), 'docker API': summarize(perPod.docker), 'podman kube play': null },
        },
      ],
      targets: [
        target(`${count} pods all Running: dockerlet / docker API (same concurrency)`, ratio(dockerlet, docker), '<=', 1.5, 'x'),
        target(`${count} pods all Running: dockerlet / podman kube play`, podman ? ratio(dockerlet, podman) : null, '<=', 1, 'x'),
      ],
      notes,
    };
  },
};
