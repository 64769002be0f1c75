/**
 * 1. Pod startup latency: manifest written -> pod Running and -> Ready, one pod at a time, for a
 * 1-container and a 3-container pod (image present). Each round runs the same pod on each
 * subject in turn — dockerlet, the bare Docker API, podman kube play — so the ratios compare
 * figures taken side by side. The baselines know no readiness: their Ready is their Running.
 * Docker's events split each start into phases (harness/start-phases.ts), so the table shows
 * where dockerlet's time goes next to where the bare API's goes.
 */
import { watchEvents, type ObservedEvent } from '../../helpers/docker.js';
import { waitFor } from '../../helpers/wait-for.js';
import { now } from '../harness/clock.js';
import type { Benchmark, BenchContext } from '../harness/context.js';
import { size } from '../harness/context.js';
import { DockerApiBaseline } from '../harness/docker-baseline.js';
import { DockerletUnderTest } from '../harness/dockerlet-process.js';
import { sleeperPod } from '../harness/pods.js';
import { target, type Row, type TargetResult } from '../harness/report.js';
import { PhaseNames, startPhases, type StartPhases } from '../harness/start-phases.js';
import { ratio, summarize, type Stat } from '../harness/stats.js';

const Columns = ['dockerlet', 'docker API', 'podman kube play'];

interface Samples {
  running: number[];
  ready: number[];
  docker: number[];
  podman: number[];
  phases: { dockerlet: StartPhases[]; docker: StartPhases[] };
}

export const startup: Benchmark = {
  id: 'startup',
  title: '1. Pod startup latency, one pod at a time (ms)',
  async run(context) {
    const pods = size(context, 20, 2);
    const rows: Row[] = [];
    const targets: TargetResult[] = [];
    const subject = await DockerletUnderTest.start();
    try {
      for (const containers of [1, 3]) {
        const times = await measure(context, subject, containers, pods);
        const docker = summarize(times.docker);
        const podman = times.podman.length > 0 ? summarize(times.podman) : null;
        const running = summarize(times.running);
        const ready = summarize(times.ready);
        const vs = (of: Stat): Row['ratios'] => ({ 'dockerlet / docker API': ratio(of, docker), 'dockerlet / podman': podman ? ratio(of, podman) : null });
        rows.push(
          { metric: `${containers}-container pod: written -> Running`, unit: 'ms', values: { dockerlet: running, 'docker API': docker, 'podman kube play': podman }, ratios: vs(running) },
          { metric: `${containers}-container pod: written -> Ready`, unit: 'ms', values: { dockerlet: ready, 'docker API': docker, 'podman kube play': podman }, ratios: vs(ready) },
          ...phaseRows(containers, times.phases),
        );
        targets.push(
          target(`${containers}-container pod Running: dockerlet / docker API at the median`, ratio(running, docker), '<=', 1.1, 'x'),
          target(`${containers}-container pod Running: dockerlet / podman kube play at the median`, podman ? ratio(running, podman) : null, '<=', 1, 'x'),
        );
      }
    } finally {
      await subject.stop();
    }
    const notes = [
      `${pods} pods per variant and subject, interleaved; a pod is removed (untimed) before the next starts.`,
      "The phase rows (·) split each start by Docker's event times; the docker API's start is its first request, its Running the return of its last start.",
    ];
    if ('reason' in context.podman) notes.push(`podman: ${context.podman.reason}`);
    return { id: this.id, title: this.title, columns: Columns, rows, targets, notes };
  },
};

function phaseRows(containers: number, phases: Samples['phases']): Row[] {
  return (Object.keys(PhaseNames) as Array<keyof StartPhases>).map((phase) => ({
    metric: `· ${containers}-container pod: ${PhaseNames[phase]}`,
    unit: 'ms',
    values: {
      dockerlet: summarize(phases.dockerlet.map((p) => p[phase])),
      'docker API': summarize(phases.docker.map((p) => p[phase])),
      'podman kube play': null,
    },
  }));
}

async function measure(context: BenchContext, subject: DockerletUnderTest, containers: number, rounds: number): Promise<Samples> {
  const result: Samples = { running: [], ready: [], docker: [], podman: [], phases: { dockerlet: [], docker: [] } };
  const dockerletEvents = await watchEvents({ label: [`dockerlet.io/node=${subject.nodeName}`] });
  const dockerEvents = await watchEvents({ label: [context.docker.labelFilter] });
  const ofPod = (events: readonly ObservedEvent[], name: (event: ObservedEvent) => string | undefined, pod: string): ObservedEvent[] =>
    events.filter((event) => name(event) === pod);
  try {
    for (let i = 0; i < rounds; i++) {
      context.progress(`startup: ${containers}-container pod, round ${i + 1} of ${rounds}`);
      const pod = sleeperPod(`start-${containers}c-${i}`, containers);
      const written = await subject.writePods([pod]);
      const running = (await subject.waitForPods([pod.name], (line) => line.phase === 'Running', written, 60_000)).get(pod.name)!;
      const ready = (await subject.waitForPods([pod.name], (line) => line.ready, written, 60_000)).get(pod.name)!;
      result.running.push(running - written);
      result.ready.push(ready - written);
      const agentPod = (): ObservedEvent[] => ofPod(dockerletEvents.events, (e) => e.attributes['io.kubernetes.pod.name'], subject.fullName(pod.name));
      await startEvents(agentPod, containers);
      result.phases.dockerlet.push(startPhases(agentPod(), (e) => e.attributes['io.kubernetes.docker.type'] === 'podsandbox', written, running));
      await subject.removePods([pod.name]);

      const requested = now();
      result.docker.push(await context.docker.start(pod));
      const started = now();
      const baselinePod = (): ObservedEvent[] => ofPod(dockerEvents.events, DockerApiBaseline.podName, pod.name);
      await startEvents(baselinePod, containers);
      result.phases.docker.push(startPhases(baselinePod(), DockerApiBaseline.isSandbox, requested, started));
      await context.docker.removeAll();

      if ('baseline' in context.podman) {
        const play = await context.podman.baseline.play([pod]);
        result.podman.push(play.ms);
        await context.podman.baseline.down(play.file);
      }
    }
  } finally {
    dockerletEvents.stop();
    dockerEvents.stop();
  }
  return result;
}

/** Docker's events reach the watcher a moment after the API answered: waits for the pod's sandbox and container starts. */
async function startEvents(events: () => ObservedEvent[], containers: number): Promise<void> {
  await waitFor(`Docker's start events of ${containers + 1} containers`, () => events().filter((e) => e.action === 'start').length >= containers + 1, {
    timeoutMs: 10_000,
    intervalMs: 5,
  });
}
