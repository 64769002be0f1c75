import { Readable, type Duplex } from 'node:stream';
import { describe, expect, test } from 'vitest';
import { memoryLogger } from '../../helpers/memory-logger.js';
import type { PodConfig } from '../../../agent/config/pod-config.js';
import { NodeApi } from '../../../agent/node-api.js';
import type { GenericPleg } from '../../../agent/pleg/pleg.js';
import type { KubeletMetrics } from '../../../agent/metrics/kubelet-metrics.js';
import type { AttachedProcess, ExecResult, LogOptions, RunningPod, RuntimePodStatus } from '../../../agent/runtime/runtime.js';
import type { SummaryProvider } from '../../../agent/stats/summary-provider.js';
import { exited, FakeRuntime, instance, pod, runtimeStatus, sandbox } from '../fixtures.js';

const web = pod();

/** A runtime that lists `listed`, shows `status` for every pod, and serves each container's id as its log. */
class LogRuntime extends FakeRuntime {
  readonly logCalls: Array<{ id: string; options: LogOptions }> = [];

  constructor(
    readonly listed: RunningPod[],
    readonly status: RuntimePodStatus,
  ) {
    super();
  }

  override async listPods(): Promise<RunningPod[]> {
    return this.listed;
  }

  override async getPodStatus(): Promise<RuntimePodStatus> {
    return this.status;
  }

  readonly streamCalls: string[] = [];

  override async exec(id: string, command: readonly string[]): Promise<AttachedProcess> {
    this.streamCalls.push(`exec ${id} ${command.join(' ')}`);
    return {} as AttachedProcess;
  }

  override async execSync(id: string, command: readonly string[]): Promise<ExecResult> {
    return command[0] === 'false' ? { exitCode: 1, output: 'it failed\n' } : { exitCode: 0, output: `${id}: ${command.join(' ')}\n` };
  }

  override async portForward(sandboxId: string, port: number): Promise<Duplex> {
    this.streamCalls.push(`forward ${sandboxId} ${port}`);
    return {} as Duplex;
  }

  override async containerLogs(id: string, options: LogOptions): Promise<Readable> {
    this.logCalls.push({ id, options });
    return Readable.from([id]);
  }
}

function nodeApi(runtime: LogRuntime, desired = [web], pleg: RunningPod[] = []): NodeApi {
  return new NodeApi({
    podConfig: { pods: () => desired, pod: (uid: string) => desired.find((p) => p.metadata.uid === uid) } as unknown as PodConfig,
    summary: {} as SummaryProvider,
    podsWithStatus: () => desired,
    persistentVolumeClaims: async () => [],
    pleg: { runningPods: () => pleg } as unknown as GenericPleg,
    runtime,
    metrics: {} as KubeletMetrics,
    healthChecks: () => [],
    logger: memoryLogger().logger,
  });
}

const logs = (api: NodeApi, request: { pod?: string; container?: string; previous?: boolean }) =>
  api.containerLogs({ namespace: 'default', pod: request.pod ?? 'web', container: request.container ?? 'main', follow: false, previous: request.previous ?? false, timestamps: true, tailLines: 5, signal: new AbortController().signal });

const text = async (stream: Readable): Promise<string> => {
  let out = '';
  for await (const chunk of stream) out += String(chunk);
  return out;
};

describe('NodeApi.runningPods', () => {
  test('pods with a ready sandbox or a running container, each with its running containers only', async () => {
    const ref = (name: string) => ({ uid: `uid-${name}`, name, namespace: 'default' });
    const listed: RunningPod[] = [
      { pod: ref('up'), sandboxes: [{ id: 's1', state: 'ready', createdAt: 1 }], containers: [{ id: 'a', name: 'app', image: 'i', state: 'running', createdAt: 2 }, { id: 'b', name: 'done', image: 'i', state: 'exited', createdAt: 2 }] },
      { pod: ref('stopped'), sandboxes: [{ id: 's2', state: 'notready', createdAt: 1 }], containers: [{ id: 'c', name: 'app', image: 'i', state: 'exited', createdAt: 2 }] },
    ];
    const pods = await nodeApi(new LogRuntime(listed, runtimeStatus(web, []))).runningPods();
    expect(pods).toEqual([{ metadata: { name: 'up', namespace: 'default', uid: 'uid-up' }, spec: { containers: [{ name: 'app', image: 'i' }] } }]);
  });
});

describe('NodeApi.containerLogs', () => {
  const status = runtimeStatus(web, [sandbox(web)], [instance(web, 'main', { id: 'main-1' }), exited(web, 'main', 1, { id: 'main-0' })]);

  test("the newest instance's log, with the request's options", async () => {
    const runtime = new LogRuntime([], status);
    expect(await text(await logs(nodeApi(runtime), {}))).toBe('main-1');
    expect(runtime.logCalls[0]?.options).toMatchObject({ follow: false, timestamps: true, tailLines: 5 });
  });

  test('previous: the instance before it', async () => {
    expect(await text(await logs(nodeApi(new LogRuntime([], status)), { previous: true }))).toBe('main-0');
  });

  test("a container with no instance, or no previous one, is a bad request worded as the kubelet's", async () => {
    const api = nodeApi(new LogRuntime([], runtimeStatus(web, [sandbox(web)], [instance(web, 'main', { id: 'main-1' })])));
    await expect(logs(api, { container: 'sidecar' })).rejects.toMatchObject({ code: 'DKL_ERR_BAD_REQUEST', message: 'container "sidecar" in pod "default/web" is waiting to start or does not exist' });
    await expect(logs(api, { previous: true })).rejects.toMatchObject({ code: 'DKL_ERR_BAD_REQUEST', message: 'previous terminated container "main" in pod "default/web" not found' });
  });

  test('a pod no source wants but the runtime still runs is found through PLEG; an unknown one is not found', async () => {
    const orphan: RunningPod = { pod: { uid: 'uid-old', name: 'old', namespace: 'default' }, sandboxes: [], containers: [] };
    const api = nodeApi(new LogRuntime([], status), [], [orphan]);
    expect(await text(await logs(api, { pod: 'old' }))).toBe('main-1');
    await expect(logs(api, { pod: 'ghost' })).rejects.toMatchObject({ code: 'DKL_ERR_NOT_FOUND', message: 'pods "ghost" not found in namespace "default"' });
  });
});

describe('NodeApi streaming targets', () => {
  const tty = pod({ containers: [{ name: 'main', image: 'busybox', tty: true, stdin: true }, { name: 'side', image: 'busybox' }] });

  test("a running container of the pod, its terminal from the spec; a container that is not running, or another UID, is not found", async () => {
    const runtime = new LogRuntime([], runtimeStatus(tty, [sandbox(tty)], [instance(tty, 'main'), exited(tty, 'side', 0)]));
    const api = nodeApi(runtime, [tty]);
    const main = await api.containerStreams({ namespace: 'default', pod: 'web', container: 'main' });
    expect(main.tty).toBe(true);
    await main.exec(['ls', '/'], { stdin: false, stdout: true, stderr: true, tty: false });
    expect(runtime.streamCalls).toEqual(['exec main-0 ls /']);
    await expect(api.containerStreams({ namespace: 'default', pod: 'web', container: 'side' })).rejects.toThrow('container not found ("side")');
    await expect(api.containerStreams({ namespace: 'default', pod: 'web', uid: 'another-uid', container: 'main' })).rejects.toThrow('pods "web" not found in namespace "default"');
    expect((await api.containerStreams({ namespace: 'default', pod: 'web', uid: 'uid-1', container: 'main' })).tty).toBe(true);
  });

  test('/run gives the output of a command that succeeds and an error with it for one that fails', async () => {
    const api = nodeApi(new LogRuntime([], runtimeStatus(web, [sandbox(web)], [instance(web, 'main')])));
    expect(await api.run({ namespace: 'default', pod: 'web', container: 'main' }, ['echo', 'hi'])).toBe('main-0: echo hi\n');
    await expect(api.run({ namespace: 'default', pod: 'web', container: 'main' }, ['false'])).rejects.toThrow("command 'false' exited with 1: it failed");
  });

  test('port-forward connects through the ready sandbox; a pod without one is not found', async () => {
    const runtime = new LogRuntime([], runtimeStatus(web, [sandbox(web, { id: 'old', state: 'notready' }), sandbox(web, { id: 'current' })]));
    const ports = await nodeApi(runtime).podPorts({ namespace: 'default', pod: 'web' });
    expect(ports.uid).toBe('uid-1');
    await ports.connect(8080);
    expect(runtime.streamCalls).toEqual(['forward current 8080']);
    const stopped = new LogRuntime([], runtimeStatus(web, [sandbox(web, { state: 'notready' })]));
    await expect(nodeApi(stopped).podPorts({ namespace: 'default', pod: 'web' })).rejects.toThrow('pod "default/web" has no running sandbox');
  });
});
