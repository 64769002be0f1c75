import { afterEach, describe, expect, test, vi } from 'vitest';
import type { Container, LifecycleHandler } from '../../../../common/api/types.js';
import { HandlerRunner, type HookTarget } from '../../../../agent/lifecycle/handler-runner.js';
import { ctr, deferred, FakeRecorder, FakeRuntime, type Deferred } from '../../fixtures.js';
import type { ExecResult } from '../../../../agent/runtime/runtime.js';
import { closedPort, closeServers, httpServer } from '../../loopback.js';

afterEach(async () => {
  vi.useRealTimers();
  await closeServers();
});

let runtime: FakeRuntime;
let recorder: FakeRecorder;
let runner: HandlerRunner;

function setup(): void {
  runtime = new FakeRuntime();
  recorder = new FakeRecorder();
  runner = new HandlerRunner({ runtime, recorder });
}

const podObject = { kind: 'Pod' as const, name: 'web', namespace: 'default', uid: 'uid-1', fieldPath: 'spec.containers{main}' };

function target(extra: Partial<HookTarget> = {}, container: Container = ctr('main')): HookTarget {
  return { container, containerId: 'c1', podIP: '127.0.0.1', podLabel: 'web_default(uid-1)', object: podObject, ...extra };
}

const where = 'for Container "main" in Pod "web_default(uid-1)"';

describe('HandlerRunner: exec', () => {
  test('runs the command in the container, without a timeout, and resolves on exit 0', async () => {
    setup();
    await expect(runner.run({ exec: { command: ['sh', '-c', 'echo hi'] } }, target())).resolves.toBeUndefined();
    expect(runtime.execCalls).toEqual([{ id: 'c1', command: ['sh', '-c', 'echo hi'], options: { maxOutputBytes: 10240 } }]);
  });

  test("a non-zero exit rejects with the kubelet's message naming the command, the container and the pod", async () => {
    setup();
    runtime.execSyncAnswer = () => ({ exitCode: 3, output: 'no such file' });
    await expect(runner.run({ exec: { command: ['sh', '-c', 'cat /x'] } }, target())).rejects.toThrow(
      new Error(`Exec lifecycle hook ([sh -c cat /x]) ${where} failed - error: command 'sh -c cat /x' exited with 3: no such file, message: "no such file"`),
    );
  });

  test('an exec that cannot run rejects with the runtime error and no output', async () => {
    setup();
    runtime.execSyncAnswer = () => {
      throw new Error('container is not running');
    };
    await expect(runner.run({ exec: { command: ['true'] } }, target())).rejects.toThrow(
      new Error(`Exec lifecycle hook ([true]) ${where} failed - error: container is not running, message: ""`),
    );
  });

  test('an abort while the exec is pending rejects at once', async () => {
    setup();
    const pending: Deferred<ExecResult> = deferred<ExecResult>();
    runtime.execSyncAnswer = () => pending.promise;
    const controller = new AbortController();
    const run = runner.run({ exec: { command: ['sleep', '60'] } }, target(), controller.signal);
    controller.abort();
    await expect(run).rejects.toThrow(new Error(`Exec lifecycle hook ([sleep 60]) ${where} failed - error: This operation was aborted, message: ""`));
    pending.resolve({ exitCode: 0, output: '' });
  });
});

describe('HandlerRunner: httpGet', () => {
  test('GETs the path at the pod IP, as kube-lifecycle/1.32', async () => {
    setup();
    const { port, requests } = await httpServer((_, res) => res.end());
    await runner.run({ httpGet: { port, path: '/hook' } }, target());
    expect(requests.map((r) => [r.method, r.url, r.headers.host, r.headers['user-agent']])).toEqual([['GET', '/hook', `127.0.0.1:${port}`, 'kube-lifecycle/1.32']]);
  });

  test('succeeds whatever the status code (a 500 too): only a missing response fails', async () => {
    setup();
    const { port } = await httpServer((_, res) => res.writeHead(500).end('broken'));
    await expect(runner.run({ httpGet: { port, path: '/hook' } }, target())).resolves.toBeUndefined();
  });

  test('the handler host wins over the pod IP', async () => {
    setup();
    const { port, requests } = await httpServer((_, res) => res.end());
    await runner.run({ httpGet: { port, host: '127.0.0.1' } }, target({ podIP: '127.0.0.2' }));
    expect(requests).toHaveLength(1);
  });

  test("a named port is resolved from the container's ports", async () => {
    setup();
    const { port, requests } = await httpServer((_, res) => res.end());
    await runner.run({ httpGet: { port: 'admin', path: '/quit' } }, target({}, ctr('main', { ports: [{ name: 'admin', containerPort: port }] })));
    expect(requests.map((r) => r.url)).toEqual(['/quit']);
  });

  test('rejects when nothing listens, naming the path, the container and the pod', async () => {
    setup();
    const port = await closedPort();
    await expect(runner.run({ httpGet: { port, path: '/hook' } }, target())).rejects.toThrow(
      new Error(`HTTP lifecycle hook (/hook) ${where} failed - error: Get "http://127.0.0.1:${port}/hook": dial tcp 127.0.0.1:${port}: connect: connection refused`),
    );
  });

  test('rejects when there is no host and the pod has no IP', async () => {
    setup();
    await expect(runner.run({ httpGet: { port: 80, path: '/hook' } }, target({ podIP: undefined }))).rejects.toThrow(
      new Error(`HTTP lifecycle hook (/hook) ${where} failed - error: failed to find networking container: the pod has no IP`),
    );
  });

  test('an HTTPS hook that meets a plain HTTP server is retried over HTTP, without Authorization, with a LifecycleHTTPFallback event', async () => {
    setup();
    const { port, requests } = await httpServer((_, res) => res.end());
    const handler: LifecycleHandler = {
      httpGet: { port, path: '/hook', scheme: 'HTTPS', httpHeaders: [{ name: 'Authorization', value: 'Bearer x' }, { name: 'X-Keep', value: 'yes' }] },
    };
    await expect(runner.run(handler, target())).resolves.toBeUndefined();
    expect(requests.map((r) => [r.url, r.headers.authorization, r.headers['x-keep']])).toEqual([['/hook', undefined, 'yes']]);
    expect(recorder.events).toEqual([
      {
        object: podObject,
        type: 'Warning',
        reason: 'LifecycleHTTPFallback',
        message: `request to HTTPS lifecycle hook 127.0.0.1:${port} got HTTP response, retry with HTTP succeeded`,
      },
    ]);
  });

  test('an HTTP hook that fails is not retried and records no event', async () => {
    setup();
    const port = await closedPort();
    await expect(runner.run({ httpGet: { port, path: '/hook' } }, target())).rejects.toThrow(/connection refused/);
    expect(recorder.events).toEqual([]);
  });

  test('an abort while the request is pending rejects', async () => {
    setup();
    const controller = new AbortController();
    const { port } = await httpServer(() => controller.abort());
    await expect(runner.run({ httpGet: { port, path: '/hook' } }, target(), controller.signal)).rejects.toThrow(
      new Error(`HTTP lifecycle hook (/hook) ${where} failed - error: Get "http://127.0.0.1:${port}/hook": context canceled`),
    );
  });
});

describe('HandlerRunner: sleep', () => {
  test('waits the given seconds', async () => {
    vi.useFakeTimers();
    setup();
    let done = false;
    const run = runner.run({ sleep: { seconds: 5 } }, target()).then(() => (done = true));
    await vi.advanceTimersByTimeAsync(4_999);
    expect(done).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(done).toBe(true);
    await run;
  });

  test('ends early when the signal aborts, with the kubelet\'s "terminated before sleep hook finished"', async () => {
    vi.useFakeTimers();
    setup();
    const controller = new AbortController();
    const run = runner.run({ sleep: { seconds: 30 } }, target(), controller.signal);
    await vi.advanceTimersByTimeAsync(1_000);
    controller.abort();
    await expect(run).rejects.toThrow(new Error(`Sleep lifecycle hook (30) ${where} failed - error: container terminated before sleep hook finished`));
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('HandlerRunner: no handler', () => {
  test('a handler with no action rejects: invalid handler', async () => {
    setup();
    await expect(runner.run({}, target())).rejects.toThrow(new Error(`Cannot run handler: invalid handler {} ${where}`));
  });
});
