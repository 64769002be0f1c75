import { PassThrough, Readable, type Duplex } from 'node:stream';
import { describe, expect, test } from 'vitest';
import type { PersistentVolumeClaim, Pod } from '../../../../common/api/types.js';
import { DockerletError, type ErrorCode } from '../../../../common/api/errors.js';
import { buildServer } from '../../../../agent/server/app.js';
import { UnionAuthenticator } from '../../../../agent/server/auth/authenticator.js';
import { AlwaysAllow } from '../../../../agent/server/auth/authorizer.js';
import { KubeletAuth } from '../../../../agent/server/auth/kubelet-auth.js';
import type { ContainerLogRequest, ContainerStreams, ContainerTarget, HealthCheck, KubeletApi } from '../../../../agent/server/kubelet-api.js';
import type { Summary } from '../../../../agent/stats/summary.js';
import { memoryLogger } from '../../../helpers/memory-logger.js';

const summary: Summary = {
  node: {
    nodeName: 'n1',
    startTime: '2026-11-23T10:00:00Z',
    cpu: { time: '2026-11-23T10:05:00Z', usageCoreNanoSeconds: 5_000_000 },
    memory: { time: '2026-11-23T10:05:00Z', usageBytes: 100, workingSetBytes: 80, rssBytes: 60, pageFaults: 1, majorPageFaults: 0 },
    rlimit: { time: '2026-11-23T10:05:00Z', maxpid: 4194304, curproc: 120 },
  },
  pods: [],
};

const pod = (name: string): Pod => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: 'default', uid: `uid-${name}` },
  spec: { containers: [{ name: 'app', image: 'busybox' }] },
});

class FakeKubeletApi implements KubeletApi {
  desired: Pod[] = [];
  running: Pod[] = [];
  checks: HealthCheck[] = [{ name: 'ping', ok: true }];
  logChunks: string[] = ['log line\n'];
  logFailure: Error | undefined;
  /** Makes each log stream; by default, the chunks above. */
  logStream: (() => Readable) | undefined;
  readonly logRequests: ContainerLogRequest[] = [];
  readonly summaryRequests: Array<{ onlyCpuAndMemory: boolean }> = [];

  pods(): Pod[] {
    return this.desired;
  }

  async persistentVolumeClaims(): Promise<PersistentVolumeClaim[]> {
    return [{ metadata: { name: 'data', namespace: 'default' }, spec: { accessModes: ['ReadWriteOnce'], volumeName: 'pvc-default-data' }, status: { phase: 'Bound' } }];
  }

  async runningPods(): Promise<Pod[]> {
    return this.running;
  }

  async containerLogs(request: ContainerLogRequest): Promise<Readable> {
    this.logRequests.push(request);
    if (this.logFailure) throw this.logFailure;
    return this.logStream?.() ?? Readable.from(this.logChunks.map((chunk) => Buffer.from(chunk)));
  }

  healthChecks(): HealthCheck[] {
    return this.checks;
  }

  async statsSummary(options: { onlyCpuAndMemory: boolean }): Promise<Summary> {
    this.summaryRequests.push(options);
    return summary;
  }

  async metrics(which: 'all' | 'probes'): Promise<{ contentType: string; body: string }> {
    return { contentType: 'text/plain; version=0.0.4; charset=utf-8', body: `# metrics: ${which}\n` };
  }

  containerStreams(): Promise<ContainerStreams> {
    return Promise.reject(new DockerletError('DKL_ERR_NOT_FOUND', 'no streams in this fake'));
  }

  async run(target: ContainerTarget, command: readonly string[]): Promise<string> {
    return `ran ${command.join(' ')} in ${target.namespace}/${target.pod}/${target.container}${target.uid ? ` (${target.uid})` : ''}\n`;
  }

  podPorts(): Promise<{ uid: string; connect(port: number): Promise<Duplex> }> {
    return Promise.reject(new DockerletError('DKL_ERR_NOT_FOUND', 'no ports in this fake'));
  }
}

/** The secure server letting everyone in (its gate is tested on its own), or the read-only one. */
function setup(options: { kind?: 'secure' | 'read-only' } = {}) {
  const api = new FakeKubeletApi();
  const log = memoryLogger();
  const auth = new KubeletAuth({ authenticator: new UnionAuthenticator([], { anonymous: true }), authorizer: AlwaysAllow, nodeName: 'n1', logger: log.logger });
  const app =
    options.kind === 'read-only'
      ? buildServer({ kind: 'read-only', api, logger: log.logger })
      : buildServer({ kind: 'secure', api, logger: log.logger, https: {}, auth, configz: () => ({ kind: 'KubeletConfiguration' }) });
  return { api, app, log };
}

/** The request the api was given, without its abort signal. */
function logRequest(api: FakeKubeletApi): Omit<ContainerLogRequest, 'signal'> {
  expect(api.logRequests).toHaveLength(1);
  const { signal, ...rest } = api.logRequests[0]!;
  expect(signal).toBeInstanceOf(AbortSignal);
  return rest;
}

describe('/healthz', () => {
  test('200 "ok" when every check passes', async () => {
    const { api, app } = setup();
    api.checks = [
      { name: 'ping', ok: true },
      { name: 'syncloop', ok: true, message: 'sync loop last ran 3s ago' },
    ];
    const response = await app.inject('/healthz');
    expect(response.statusCode).toBe(200);
    expect(response.body).toBe('ok');
  });

  test('500 listing every check as [+]/[-] when one fails; a failure without a message has its reason withheld', async () => {
    const { api, app } = setup();
    api.checks = [
      { name: 'ping', ok: true },
      { name: 'syncloop', ok: false, message: 'sync loop last ran 400s ago' },
      { name: 'pleg', ok: false },
    ];
    const response = await app.inject('/healthz');
    expect(response.statusCode).toBe(500);
    expect(response.body).toBe('[+]ping ok\n[-]syncloop failed: sync loop last ran 400s ago\n[-]pleg failed: reason withheld\nhealthz check failed\n');
  });
});

describe('pod lists', () => {
  test('/pods is a v1 PodList of the pods this node should run', async () => {
    const { api, app } = setup();
    api.desired = [pod('web'), pod('db')];
    api.running = [pod('other')];
    const response = await app.inject('/pods');
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(response.json()).toEqual({ kind: 'PodList', apiVersion: 'v1', metadata: {}, items: [pod('web'), pod('db')] });
  });

  test('/runningpods/ is a v1 PodList of the pods the runtime has', async () => {
    const { api, app } = setup();
    api.desired = [pod('web')];
    api.running = [pod('web'), pod('leftover')];
    const response = await app.inject('/runningpods/');
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ kind: 'PodList', apiVersion: 'v1', metadata: {}, items: [pod('web'), pod('leftover')] });
  });
});

test('/stats/summary serves the Summary; only the exact only_cpu_and_memory=true asks for CPU and memory only, as upstream', async () => {
  const { api, app } = setup();
  const full = await app.inject('/stats/summary');
  expect(full.statusCode).toBe(200);
  expect(full.json()).toEqual(summary);
  for (const value of ['true', 'false', '1', 'TRUE']) await app.inject(`/stats/summary?only_cpu_and_memory=${value}`);
  expect(api.summaryRequests.map((r) => r.onlyCpuAndMemory)).toEqual([false, true, false, false, false]);
});

test("/metrics serves every metric and /metrics/probes the prober's, with the content type the api gives", async () => {
  const { app } = setup();
  for (const [path, body] of [
    ['/metrics', '# metrics: all\n'],
    ['/metrics/probes', '# metrics: probes\n'],
  ] as const) {
    const response = await app.inject(path);
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(response.body).toBe(body);
  }
});

describe('/containerLogs', () => {
  test("streams the container's log as text/plain; without a query every option is off", async () => {
    const { api, app } = setup();
    api.logChunks = ['one\n', 'two\n'];
    const response = await app.inject('/containerLogs/default/web/app');
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('text/plain');
    expect(response.body).toBe('one\ntwo\n');
    expect(logRequest(api)).toEqual({ namespace: 'default', pod: 'web', container: 'app', follow: false, previous: false, timestamps: false });
  });

  test('the PodLogOptions query reaches the api as typed values', async () => {
    const { api, app } = setup();
    await app.inject('/containerLogs/kube-system/dns/coredns?follow=true&previous=false&timestamps=1&tailLines=10&sinceSeconds=30');
    expect(logRequest(api)).toEqual({
      namespace: 'kube-system',
      pod: 'dns',
      container: 'coredns',
      follow: true,
      previous: false,
      timestamps: true,
      tailLines: 10,
      sinceSeconds: 30,
    });
  });

  test('previous=1 asks for the previous instance; follow=0 is off', async () => {
    const { api, app } = setup();
    await app.inject('/containerLogs/default/web/app?follow=0&previous=1&timestamps=true');
    expect(logRequest(api)).toEqual({ namespace: 'default', pod: 'web', container: 'app', follow: false, previous: true, timestamps: true });
  });

  test('the legacy tail is read as tailLines', async () => {
    const { api, app } = setup();
    await app.inject('/containerLogs/default/web/app?tail=5');
    expect(logRequest(api).tailLines).toBe(5);
  });

  test('limitBytes cuts the body at that many bytes, across chunks', async () => {
    const { api, app } = setup();
    api.logChunks = ['hello ', 'world\n', 'more\n'];
    const response = await app.inject('/containerLogs/default/web/app?limitBytes=8');
    expect(response.statusCode).toBe(200);
    expect(response.body).toBe('hello wo');
  });

  test('with limitBytes, a log stream that fails ends the reply instead of crashing the agent', async () => {
    const { api, app } = setup();
    api.logStream = () => {
      const failing = new PassThrough();
      failing.write('partial ');
      setImmediate(() => failing.destroy(new Error('aborted')));
      return failing;
    };
    const crashes: unknown[] = [];
    const onUncaught = (err: unknown): void => void crashes.push(err);
    process.on('uncaughtException', onUncaught);
    try {
      // The reply is cut short, as any stream that fails mid-way: the client sees a broken response.
      const outcome = await app.inject('/containerLogs/default/web/app?limitBytes=100&follow=true').catch((err: unknown) => err);
      expect(outcome).toBeInstanceOf(Error);
    } finally {
      process.off('uncaughtException', onUncaught);
    }
    expect(crashes).toEqual([]);
  });

  test.each([
    ['tailLines=-1', 'tailLines: Invalid value: "-1": must be a non-negative integer'],
    ['tailLines=abc', 'tailLines: Invalid value: "abc": must be a non-negative integer'],
    ['tail=abc', 'tailLines: Invalid value: "abc": must be a non-negative integer'],
    ['sinceSeconds=1.5', 'sinceSeconds: Invalid value: "1.5": must be a non-negative integer'],
    ['limitBytes=ten', 'limitBytes: Invalid value: "ten": must be a non-negative integer'],
  ])('%s is a 400 Status naming the parameter, and the api is not asked', async (query, message) => {
    const { api, app } = setup();
    const response = await app.inject(`/containerLogs/default/web/app?${query}`);
    expect(response.statusCode).toBe(400);
    expect(response.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(response.json()).toEqual({ kind: 'Status', apiVersion: 'v1', status: 'Failure', message, reason: 'BadRequest', code: 400 });
    expect(api.logRequests).toEqual([]);
  });

  test.each<[ErrorCode, number, string]>([
    ['DKL_ERR_NOT_FOUND', 404, 'NotFound'],
    ['DKL_ERR_BAD_REQUEST', 400, 'BadRequest'],
    ['DKL_ERR_FORBIDDEN', 403, 'Forbidden'],
    ['DKL_ERR_CONFIG_INVALID', 500, 'InternalError'],
  ])('a DockerletError %s from the api is a %i %s Status', async (code, status, reason) => {
    const { api, app } = setup();
    api.logFailure = new DockerletError(code, 'refused by the api');
    const response = await app.inject('/containerLogs/default/web/app');
    expect(response.statusCode).toBe(status);
    expect(response.json()).toEqual({ kind: 'Status', apiVersion: 'v1', status: 'Failure', message: 'refused by the api', reason, code: status });
  });

  test('an Error that carries an HTTP statusCode keeps that code', async () => {
    const { api, app } = setup();
    api.logFailure = Object.assign(new Error('no such container: 0123abcd'), { statusCode: 404 });
    const response = await app.inject('/containerLogs/default/web/app');
    expect(response.statusCode).toBe(404);
    expect(response.json()).toEqual({ kind: 'Status', apiVersion: 'v1', status: 'Failure', message: 'no such container: 0123abcd', reason: 'NotFound', code: 404 });
  });

  test('an unexpected Error is a 500 InternalError Status, and it is logged; a 404 is not', async () => {
    const { api, app, log } = setup();
    api.logFailure = new DockerletError('DKL_ERR_NOT_FOUND', 'no such pod');
    await app.inject('/containerLogs/default/gone/app');
    expect(log.lines.filter((line) => line.msg === 'request failed')).toEqual([]);

    api.logFailure = new Error('connect ENOENT /var/run/docker.sock');
    const response = await app.inject('/containerLogs/default/web/app');
    expect(response.statusCode).toBe(500);
    expect(response.json()).toEqual({
      kind: 'Status',
      apiVersion: 'v1',
      status: 'Failure',
      message: 'connect ENOENT /var/run/docker.sock',
      reason: 'InternalError',
      code: 500,
    });
    expect(log.lines.filter((line) => line.msg === 'request failed')).toMatchObject([
      { level: 50, component: 'server', url: '/containerLogs/default/web/app', err: { message: 'connect ENOENT /var/run/docker.sock' } },
    ]);
  });

  test('the read-only server refuses the debugging handlers with 405, as the kubelet, and does not ask the api; its read-only routes answer', async () => {
    const { api, app } = setup({ kind: 'read-only' });
    const refused = await app.inject('/containerLogs/default/web/app');
    expect(refused.statusCode).toBe(405);
    expect(refused.body).toBe('Debug endpoints are disabled.\n');
    expect(api.logRequests).toEqual([]);
    expect((await app.inject('/pods')).statusCode).toBe(200);
  });

  test('/run splits cmd on spaces and answers with the output; a pod UID in the path is passed on; a request without cmd is a 400', async () => {
    const { app } = setup();
    const run = await app.inject({ method: 'POST', url: '/run/default/web/app?cmd=echo%20a%20b' });
    expect(run.statusCode).toBe(200);
    expect(run.body).toBe('ran echo a b in default/web/app\n');
    expect((await app.inject({ method: 'POST', url: '/run/default/web/uid-1/app?cmd=ls' })).body).toBe('ran ls in default/web/app (uid-1)\n');
    expect((await app.inject({ method: 'POST', url: '/run/default/web/app' })).statusCode).toBe(400);
  });

  test('/exec, /attach and /portForward without an upgrade are a 400; /configz wraps the configuration', async () => {
    const { app } = setup();
    for (const url of ['/exec/default/web/app?command=ls', '/attach/default/web/app', '/portForward/default/web']) {
      const response = await app.inject({ method: 'POST', url });
      expect.soft(response.statusCode, url).toBe(400);
    }
    expect((await app.inject('/configz')).json()).toEqual({ kubeletconfig: { kind: 'KubeletConfiguration' } });
  });
});
