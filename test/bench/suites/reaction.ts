/**
 * 5. Reaction: how fast the agent answers what happens around it. Times come from where the
 * thing happened: Docker's own event times for containers, the agent's log for the probe
 * result, the moment the harness acted for a manifest deleted.
 *   - a container killed behind the agent's back -> the replacement created (restart begun);
 *   - a manifest deleted -> every container of the pod stopped, and removed;
 *   - a readiness probe failing -> the pod out of its Service (connections refused).
 */
import type { Benchmark } from '../harness/context.js';
import { size } from '../harness/context.js';
import { now } from '../harness/clock.js';
import { DockerletUnderTest } from '../harness/dockerlet-process.js';
import { accepts } from '../harness/net.js';
import { httpdPod, podManifest, serviceManifest, sleeperPod, yamlDocuments } from '../harness/pods.js';
import { target } from '../harness/report.js';
import { summarize } from '../harness/stats.js';
import { docker, dockerExec, watchEvents, type ObservedEvent } from '../../helpers/docker.js';
import { waitFor } from '../../helpers/wait-for.js';

export const reaction: Benchmark = {
  id: 'reaction',
  title: '5. Reaction (ms)',
  async run(context) {
    const rounds = size(context, 10, 1);
    const restart = { create: [] as number[], start: [] as number[] };
    const deletion = { stopped: [] as number[], removed: [] as number[] };
    const endpoint = { afterProbe: [] as number[], afterCause: [] as number[] };
    const subject = await DockerletUnderTest.start();
    const events = await watchEvents({ label: [`dockerlet.io/node=${subject.nodeName}`] });
    try {
      for (let i = 0; i < rounds; i++) {
        context.progress(`reaction: round ${i + 1} of ${rounds}`);
        const killed = await killAndWaitForRestart(subject, events.events, `react-restart-${i}`);
        restart.create.push(killed.create);
        restart.start.push(killed.start);
        const deleted = await deleteAndWaitForRemoval(subject, events.events, `react-delete-${i}`);
        deletion.stopped.push(deleted.stopped);
        deletion.removed.push(deleted.removed);
        const unready = await failReadinessAndWaitForEndpointRemoval(subject, `react-ep-${i}`);
        endpoint.afterProbe.push(unready.afterProbe);
        endpoint.afterCause.push(unready.afterCause);
      }
    } finally {
      events.stop();
      await subject.stop();
    }
    const restartBegun = summarize(restart.create);
    const stopped = summarize(deletion.stopped);
    const removed = summarize(endpoint.afterProbe);
    return {
      id: this.id,
      title: this.title,
      columns: ['dockerlet'],
      rows: [
        { metric: 'container killed -> replacement created (restart begun)', unit: 'ms', values: { dockerlet: restartBegun } },
        { metric: 'container killed -> replacement started', unit: 'ms', values: { dockerlet: summarize(restart.start) } },
        { metric: 'manifest deleted -> every container stopped', unit: 'ms', values: { dockerlet: stopped } },
        { metric: 'manifest deleted -> every container removed', unit: 'ms', values: { dockerlet: summarize(deletion.removed) } },
        { metric: 'failing readiness result -> endpoint out of the Service', unit: 'ms', values: { dockerlet: removed } },
        { metric: 'readiness file removed -> endpoint out of the Service', unit: 'ms', values: { dockerlet: summarize(endpoint.afterCause) } },
      ],
      targets: [
        target('restart begun after the container died, median', restartBegun.median, '<=', 100, 'ms'),
        target('manifest deletion reconciled (containers stopped), median', stopped.median, '<=', 500, 'ms'),
        target('endpoint removed after the failing probe result, median', removed.median, '<=', 1000, 'ms'),
      ],
      notes: [
        `${rounds} round(s) of each. Restart: from Docker's die event to the create (and start) event of the replacement.`,
        'Endpoint: the probe (httpGet every 1 s, failureThreshold 1) fails once the file it reads is removed; its result is the time of the agent\'s Unhealthy event; the endpoint is out when a connection to the ClusterIP is refused (tried every 10 ms).',
      ],
    };
  },
};

const labelled = (event: ObservedEvent, pod: string, container?: string): boolean =>
  event.attributes['io.kubernetes.pod.name'] === pod && (container === undefined || event.attributes['io.kubernetes.container.name'] === container);

async function killAndWaitForRestart(subject: DockerletUnderTest, events: ObservedEvent[], name: string): Promise<{ create: number; start: number }> {
  const pod = sleeperPod(name);
  const full = subject.fullName(name);
  const written = await subject.writePods([pod]);
  await subject.waitForPods([name], (line) => line.phase === 'Running', written, 60_000);
  const [victim] = await docker.listContainers({ filters: { label: [`io.kubernetes.pod.name=${full}`, 'io.kubernetes.container.name=c0'] } });
  await docker.getContainer(victim!.Id).kill();
  const find = (action: string, test: (e: ObservedEvent) => boolean) => events.find((e) => e.action === action && labelled(e, full, 'c0') && test(e));
  const died = await waitFor(`${full}: the killed container's die event`, () => find('die', (e) => e.id === victim!.Id), { intervalMs: 5 });
  const started = await waitFor(`${full}: the replacement started`, () => find('start', (e) => e.id !== victim!.Id), { intervalMs: 5 });
  const created = find('create', (e) => e.id === started.id)!;
  await subject.removePods([name]);
  return { create: created.time - died.time, start: started.time - died.time };
}

async function deleteAndWaitForRemoval(subject: DockerletUnderTest, events: ObservedEvent[], name: string): Promise<{ stopped: number; removed: number }> {
  const full = subject.fullName(name);
  const written = await subject.writePods([sleeperPod(name)]);
  await subject.waitForPods([name], (line) => line.phase === 'Running', written, 60_000);
  const ids = (await docker.listContainers({ filters: { label: [`io.kubernetes.pod.name=${full}`] } })).map((c) => c.Id);
  const deleted = await subject.removeManifests([`${name}.yaml`]);
  const last = async (action: string): Promise<number> =>
    Math.max(...(await waitFor(`${full}: ${action} of every container`, () => {
      const times = ids.map((id) => events.find((e) => e.id === id && e.action === action)?.time);
      return times.every((t) => t !== undefined) ? (times as number[]) : undefined;
    }, { intervalMs: 5 })));
  const stopped = (await last('die')) - deleted;
  const removed = (await last('destroy')) - deleted;
  return { stopped, removed };
}

async function failReadinessAndWaitForEndpointRemoval(subject: DockerletUnderTest, name: string): Promise<{ afterProbe: number; afterCause: number }> {
  const full = subject.fullName(name);
  const labels = { app: name };
  const written = await subject.writeManifests(
    new Map([[`${name}.yaml`, yamlDocuments([podManifest(httpdPod(name, { probe: true, labels })), serviceManifest(name, labels, [{ name: 'http', port: 80, targetPort: 8080 }])])]]),
  );
  await subject.waitForPods([name], (line) => line.ready, written, 60_000);
  const service = await subject.until(`the ClusterIP of ${name}`, () => subject.serviceLines.find((line) => line.service === `${name} (http)`), 30_000);
  await waitFor(`${name} reachable through its ClusterIP`, () => accepts(service.clusterIP, service.port), { intervalMs: 10 });
  const [httpd] = await docker.listContainers({ filters: { label: [`io.kubernetes.pod.name=${full}`, 'io.kubernetes.container.name=httpd'] } });
  const cause = now();
  await dockerExec(httpd!.Id, ['rm', '/www/ready']);
  const out = await waitFor(`${name} out of its Service`, async () => ((await accepts(service.clusterIP, service.port)) ? undefined : now()), { intervalMs: 10, timeoutMs: 10_000 });
  const unhealthy = await subject.until(
    `the Unhealthy event of ${full}`,
    () => subject.logs.find((record) => record.event === 'Unhealthy' && record.object === `Pod/default/${full}` && record.time >= cause - 1),
    5_000,
  );
  await subject.removePods([name]);
  return { afterProbe: out - unhealthy.time, afterCause: out - cause };
}
